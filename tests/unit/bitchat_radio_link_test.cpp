// The simulated radio as a BitChat link: neighbours by range, frames with latency and loss,
// movement bringing links up and down, and whole Hyphae nodes — several in one process, on one
// io_context — carrying a message over five radio hops with the BitChat transport.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <map>
#include <nlohmann/json.hpp>

#include "bitchat/link/radio_link.hpp"
#include "core/identity.hpp"
#include "node/node.hpp"
#include "testnet/local_node.hpp"

using namespace hyphae;
using namespace hyphae::bitchat;

namespace {

struct Recorder final : LinkSink {
  std::map<LinkId, ShortId> up;
  std::vector<std::string> downs;
  std::vector<std::pair<LinkId, Bytes>> frames;
  void on_neighbour_up(LinkId link, const ShortId& claimed, const std::string&, std::size_t) override {
    up[link] = claimed;
  }
  void on_neighbour_down(LinkId link, const std::string& reason) override {
    up.erase(link);
    downs.push_back(reason);
  }
  void on_frame(LinkId link, ByteView frame) override {
    frames.emplace_back(link, Bytes(frame.begin(), frame.end()));
  }
  std::optional<LinkId> link_to(const ShortId& who) const {
    for (const auto& [l, id] : up)
      if (id == who) return l;
    return std::nullopt;
  }
};

// Runs the io_context for `ms` (again: run_for leaves it stopped once it runs out of work).
void pump(boost::asio::io_context& io, int ms) {
  io.restart();
  io.run_for(std::chrono::milliseconds(ms));
}

ShortId id(std::uint8_t b) {
  ShortId s;
  s.fill(b);
  return s;
}

}  // namespace

// Media are found by name in a directory, not in a process-wide table: two directories (two
// transport registries, two test fixtures) never share a medium; a released one is made afresh.
TEST(BitchatRadioMedia, ADirectorySharesMediaByNameAndOnlyWithinItself) {
  bitchat::RadioMedia one, other;
  auto a = one.get("air", {});
  EXPECT_EQ(one.get("air", {}), a);
  EXPECT_NE(one.get("water", {}), a);
  EXPECT_NE(other.get("air", {}), a);
  bitchat::RadioMediumOptions wide;
  wide.range = 0.9;
  a.reset();
  auto again = one.get("air", wide);  // the first was released: made with the new options
  EXPECT_DOUBLE_EQ(again->options().range, 0.9);
}

TEST(BitchatRadioLink, NeighboursByRangeFramesAndMovement) {
  boost::asio::io_context io;
  auto strand = boost::asio::make_strand(io.get_executor());
  RadioMediumOptions o;
  o.range = 0.2;
  o.latency_ms = 2;
  o.jitter_ms = 0;
  auto medium = std::make_shared<RadioMedium>(o);
  Recorder ra, rb, rc;
  RadioLink a(strand, medium, 0.1, 0.5, id(1), ra), b(strand, medium, 0.25, 0.5, id(2), rb),
      c(strand, medium, 0.4, 0.5, id(3), rc);
  ASSERT_FALSE(a.start());
  ASSERT_FALSE(b.start());
  ASSERT_FALSE(c.start());
  pump(io, 20);
  EXPECT_EQ(ra.up.size(), 1u);  // a hears b only (c is 0.3 away)
  EXPECT_EQ(rb.up.size(), 2u);
  EXPECT_TRUE(ra.link_to(id(2)));
  EXPECT_FALSE(ra.link_to(id(3)));

  ASSERT_TRUE(a.send(*ra.link_to(id(2)), Bytes{1, 2, 3}));
  pump(io, 20);
  ASSERT_EQ(rb.frames.size(), 1u);
  EXPECT_EQ(rb.frames[0].second, (Bytes{1, 2, 3}));
  EXPECT_EQ(rb.frames[0].first, *rb.link_to(id(1)));
  EXPECT_FALSE(a.send(9999, Bytes{1}));  // no such neighbour

  c.set_position(0.12, 0.52);  // c moves next to a
  pump(io, 20);
  EXPECT_TRUE(ra.link_to(id(3)));
  c.set_position(0.9, 0.9);  // and away from everyone
  pump(io, 20);
  EXPECT_FALSE(ra.link_to(id(3)));
  EXPECT_FALSE(rb.link_to(id(3)));
  EXPECT_TRUE(rc.up.empty());

  b.stop();
  pump(io, 20);
  EXPECT_TRUE(ra.up.empty());
  EXPECT_TRUE(rb.up.empty());  // the stopped side hears its own links go
}

TEST(BitchatRadioLink, LossDropsFramesAtTheConfiguredRate) {
  boost::asio::io_context io;
  auto strand = boost::asio::make_strand(io.get_executor());
  RadioMediumOptions o;
  o.loss = 0.3;
  o.latency_ms = 0;
  o.jitter_ms = 0;
  auto medium = std::make_shared<RadioMedium>(o);
  Recorder ra, rb;
  RadioLink a(strand, medium, 0.5, 0.5, id(1), ra), b(strand, medium, 0.55, 0.5, id(2), rb);
  a.start();
  b.start();
  pump(io, 10);
  for (int i = 0; i < 2000; ++i) a.send(*ra.link_to(id(2)), Bytes{static_cast<std::uint8_t>(i)});
  pump(io, 100);
  EXPECT_GT(rb.frames.size(), 1200u);
  EXPECT_LT(rb.frames.size(), 1600u);
}

TEST(BitchatRadioLink, WholeNodesInOneProcessCarryAMessageOverFiveRadioHops) {
  spdlog::set_level(spdlog::level::warn);  // the transports log every neighbour
  boost::asio::io_context io;
  TempDir dir("hyphae-radio-nodes-");
  const std::string medium = "radio-test-" + std::to_string(::getpid());
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<PeerId> ids;
  for (int i = 0; i < 6; ++i) {
    NodeConfig config;
    config.data_dir = dir.path() / std::to_string(i);
    config.log_level = "off";
    config.power_sysfs_root = dir.path().string();
    config.ack_timeout_ms = 4000;
    config.transports["tcp"].enabled = false;
    auto& o = config.transports["mesh"].options;
    o["type"] = "bitchat";
    o["link"] = "radio";
    o["radio_medium"] = medium;
    o["radio_position"] = std::to_string(0.05 + 0.15 * i) + ",0.5";  // a line: range 0.2 reaches one step
    o["announce_interval_ms"] = "500";
    o["peer_timeout_ms"] = "2500";
    auto made = Node::create(io.get_executor(), config);
    ASSERT_TRUE(made.has_value()) << made.error();
    nodes.push_back(std::move(*made));
    ids.push_back(nodes.back()->peer_id());
  }
  for (auto& n : nodes) boost::asio::post(n->executor(), [&n] { EXPECT_FALSE(n->start()); });
  auto session_to_far_end = [&] {
    std::uint64_t s = 0;
    boost::asio::post(nodes[0]->executor(), [&] {
      for (const auto& x : nodes[0]->connections())
        if (x.peer == ids[5]) s = x.hops;
    });
    io.run_for(std::chrono::milliseconds(20));
    return s;
  };
  std::uint64_t hops = 0;
  for (int i = 0; i < 300 && hops == 0; ++i) hops = session_to_far_end();
  ASSERT_EQ(hops, 5u);
  std::optional<std::expected<MessageId, std::error_code>> sent;
  boost::asio::post(nodes[0]->executor(), [&] {
    nodes[0]->send(ids[5], Bytes{'r', 'a', 'd', 'i', 'o'}, {}, [&](auto r) { sent = r; });
  });
  for (int i = 0; i < 100 && !sent; ++i) io.run_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(sent && *sent);
  std::string state;
  for (int i = 0; i < 300 && state != "delivered"; ++i) {
    boost::asio::post(nodes[0]->executor(), [&] { state = nodes[0]->status(**sent)->state; });
    io.run_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(state, "delivered");
  for (auto& n : nodes) boost::asio::post(n->executor(), [&n] { n->stop(); });
  io.run_for(std::chrono::milliseconds(100));
}
