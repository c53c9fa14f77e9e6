// The BitChat mesh over real sockets: eight network namespaces in a line joined by veth pairs, one
// `hyphae node` in each with only the BitChat transport on its LAN link (UDP multicast discovery
// on its veths, unicast frames), so the two ends are 7 hops apart. A private message crosses and
// its ack comes back; a broadcast reaches every node; with the middle link cut a message waits in
// the outbox and is delivered exactly once after the link heals. Skips where namespaces cannot be
// created (not root, no CAP_SYS_ADMIN, no iproute2).
#include <gtest/gtest.h>

#include <fstream>

#include "harness.hpp"
#include "netns.hpp"

using namespace hyphae;
using namespace hyphae::testing;

namespace {

constexpr std::size_t kNodes = 8;

class BitchatLine : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = NetnsLine::unavailable_reason())
      GTEST_SKIP() << "network namespaces unavailable: " << *why;
    line_ = std::make_unique<NetnsLine>(kNodes);
    for (std::size_t i = 0; i < kNodes; ++i) {
      const auto dir = dir_.path() / ("n" + std::to_string(i));
      std::filesystem::create_directories(dir);
      std::string interfaces;
      for (const auto& iface : line_->interfaces(i)) interfaces += (interfaces.empty() ? "" : ",") + iface;
      const auto config = dir / "node.yaml";
      std::ofstream(config) << "ack_timeout_ms: 4000\n"
                            << "power:\n  sysfs_root: " << (dir / "no-sysfs").string() << "\n"
                            << "transport:\n"
                            << "  tcp:\n    enabled: false\n"
                            << "  mesh:\n"
                            << "    type: bitchat\n"
                            << "    nickname: n" << i << "\n"
                            << "    interfaces: " << interfaces << "\n"
                            << "    listen: 0.0.0.0:47600\n"
                            << "    beacon_interval_ms: 250\n"
                            << "    neighbour_timeout_ms: 1000\n"
                            << "    announce_interval_ms: 500\n"
                            << "    peer_timeout_ms: 2500\n"
                            << "    sync_interval_ms: 2000\n";
      auto node = std::make_unique<LocalNode>("n" + std::to_string(i), hyphae_binary(), dir);
      node->set_netns(line_->ns(i));
      node->set_config_file(config);
      node->set_listen_host("");
      node->start();
      nodes_.push_back(std::move(node));
    }
  }

  void TearDown() override {
    for (auto& n : nodes_) n->stop();
    nodes_.clear();
    line_.reset();
  }

  LocalNode& node(std::size_t i) { return *nodes_[i]; }

  nlohmann::json mesh(std::size_t i) {
    auto body = node(i).api().request("GET", "/v1/p2p/transports").body;
    for (const auto& t : body["transports"])
      if (t["name"] == "mesh") return t["mesh"];
    return {};
  }

  // node i's view of node j in its mesh peer table (null if unknown).
  nlohmann::json peer_entry(std::size_t i, std::size_t j) {
    const auto m = mesh(i);
    for (const auto& p : m["peers"])
      if (p.value("peer_id", "") == node(j).peer_id()) return p;
    return {};
  }

  bool session_up(std::size_t i, std::size_t j) {
    const auto p = peer_entry(i, j);
    return !p.is_null() && p["up"] == true;
  }

  std::string message_status(std::size_t i, const std::string& id) {
    return node(i).api().request("GET", "/v1/messages/" + id).body.value("status", "");
  }

  std::string send(std::size_t from, std::size_t to, const std::string& payload) {
    auto r = node(from).api().request("POST", "/v1/messages",
                                      nlohmann::json{{"to", node(to).peer_id()}, {"payload", payload}});
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("id", "");
  }

  std::string log_tail(std::size_t i) {
    std::ifstream in(node(i).log_file());
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.size() > 3000 ? all.substr(all.size() - 3000) : all;
  }

  TempDir dir_{"hyphae-bitchat-line-"};
  std::unique_ptr<NetnsLine> line_;
  std::vector<std::unique_ptr<LocalNode>> nodes_;
};

}  // namespace

TEST_F(BitchatLine, APrivateMessageCrossesSevenHopsAndItsAckComesBack) {
  ASSERT_TRUE(wait_until([&] { return session_up(0, 7) && session_up(7, 0); }, std::chrono::seconds(30)))
      << mesh(0).dump(1) << "\n"
      << log_tail(0);
  const auto far = peer_entry(0, 7);
  EXPECT_EQ(far["hops"], 7) << far.dump();
  EXPECT_EQ(far["nickname"], "n7");
  // Each node's neighbours are exactly the namespaces beside it.
  EXPECT_EQ(mesh(0)["neighbours"].size(), 1u);
  EXPECT_EQ(mesh(3)["neighbours"].size(), 2u);

  const auto id = send(0, 7, "seven hops over the LAN mesh");
  ASSERT_TRUE(wait_until([&] { return message_status(0, id) == "delivered"; }, std::chrono::seconds(20)))
      << node(0).api().request("GET", "/v1/messages/" + id).body.dump() << "\n"
      << log_tail(0);
  const auto in = inbox(node(7));
  ASSERT_TRUE(in.contains(id));
  EXPECT_EQ(in.at(id), "seven hops over the LAN mesh");
  const auto status = node(0).api().request("GET", "/v1/messages/" + id).body;
  EXPECT_EQ(status["transport"], "mesh");
  // The middle relays carried it without reading it: they hold no copy.
  EXPECT_FALSE(inbox(node(3)).contains(id));
  EXPECT_GT(mesh(3)["counters"]["relayed"].get<std::uint64_t>(), 0u);
}

TEST_F(BitchatLine, ABroadcastReachesEveryNode) {
  ASSERT_TRUE(wait_until([&] { return session_up(0, 7); }, std::chrono::seconds(30))) << log_tail(0);
  auto r = node(2).api().request("POST", "/v1/p2p/broadcast", nlohmann::json{{"text", "hello, whole line"}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["sent_on"], nlohmann::json::array({"mesh"}));
  for (std::size_t i = 0; i < kNodes; ++i) {
    if (i == 2) continue;
    ASSERT_TRUE(wait_until(
        [&] {
          auto b = node(i).api().request("GET", "/v1/p2p/broadcasts").body;
          for (const auto& m : b["broadcasts"])
            if (m["text"] == "hello, whole line") return true;
          return false;
        },
        std::chrono::seconds(10)))
        << "node " << i;
    auto b = node(i).api().request("GET", "/v1/p2p/broadcasts").body;
    std::size_t copies = 0;
    for (const auto& m : b["broadcasts"])
      if (m["text"] == "hello, whole line") {
        ++copies;
        EXPECT_EQ(m["verified"], true);
        EXPECT_EQ(m["from"], node(2).peer_id());
        EXPECT_EQ(m["nickname"], "n2");
      }
    EXPECT_EQ(copies, 1u) << "node " << i;
  }
}

TEST_F(BitchatLine, AMessageSentAcrossACutIsDeliveredOnceAfterTheHeal) {
  ASSERT_TRUE(wait_until([&] { return session_up(0, 7) && session_up(7, 0); }, std::chrono::seconds(30)))
      << log_tail(0);
  line_->cut(3);  // between namespaces 3 and 4
  ASSERT_TRUE(wait_until([&] { return !session_up(0, 7); }, std::chrono::seconds(15))) << mesh(0).dump(1);
  const auto id = send(0, 7, "stored while the line was cut");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_NE(message_status(0, id), "delivered");
  EXPECT_FALSE(inbox(node(7)).contains(id));
  EXPECT_TRUE(session_up(0, 3));  // the near side of the cut still works

  line_->heal(3);
  ASSERT_TRUE(wait_until([&] { return message_status(0, id) == "delivered"; }, std::chrono::seconds(30)))
      << node(0).api().request("GET", "/v1/messages/" + id).body.dump() << "\n"
      << mesh(0).dump(1) << "\n"
      << log_tail(0);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // time for any second copy to show up
  const auto in = inbox(node(7));                        // fails the test on a duplicate id
  ASSERT_TRUE(in.contains(id));
  EXPECT_EQ(in.at(id), "stored while the line was cut");
  std::size_t with_text = 0;
  for (const auto& [mid, payload] : in) with_text += payload == "stored while the line was cut";
  EXPECT_EQ(with_text, 1u);
}

TEST_F(BitchatLine, TheRoutingTableShowsMeshRoutesWithTheirHopsAndNextHop) {
  ASSERT_TRUE(wait_until([&] { return session_up(0, 7) && session_up(0, 1); }, std::chrono::seconds(30)))
      << log_tail(0);
  auto find = [&](const std::string& destination) {
    const auto body = node(0).api().request("GET", "/v1/p2p/routes").body;
    for (const auto& r : body["routes"])
      if (r["destination"] == destination && r["transport"] == "mesh") return r;
    return nlohmann::json();
  };
  const auto far = find(node(7).peer_id());
  ASSERT_FALSE(far.is_null());
  EXPECT_EQ(far["kind"], "mesh");
  EXPECT_EQ(far["hops"], 7);
  EXPECT_EQ(far["next_hop"], node(1).peer_id());  // the only neighbour of the line's end
  const auto near = find(node(1).peer_id());
  ASSERT_FALSE(near.is_null());
  EXPECT_EQ(near["kind"], "direct");
  const auto connections = node(0).api().request("GET", "/v1/p2p/connections").body;
  bool listed = false;
  for (const auto& c : connections["connections"])
    if (c["peer_id"] == node(7).peer_id()) {
      listed = true;
      EXPECT_EQ(c["hops"], 7);
      EXPECT_EQ(c["transport"], "mesh");
    }
  EXPECT_TRUE(listed);
}
