// The stream transports' session table on simulated time (backoff, address rotation, duplicate
// links, idle closes, forgetting), and the TCP transport's dial timeout over real sockets.
#include "transport/stream/session_table.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "core/identity.hpp"
#include "transport/transport.hpp"

namespace hyphae::stream {
using namespace hyphae::transport;
namespace {

PeerId peer_from(std::uint8_t seed) {
  return Identity::from_seed(std::array<std::uint8_t, 32>{seed}).peer_id();
}

std::vector<std::string> due_addresses(SessionTable& t, std::uint64_t now) {
  std::vector<std::string> out;
  for (const auto& d : t.due(now, nullptr)) out.push_back(d.address);
  return out;
}

TEST(SessionTable, FailedDialsBackOffDoublingWithinTheBoundsAndRotateAddresses) {
  SessionTable t({100, 800});
  const auto p = peer_from(1);
  t.add_addresses(p, {"a:1", "b:2"});
  t.add_addresses(p, {"a:1"});  // known already
  EXPECT_EQ(t.addresses(p).size(), 2u);
  std::uint64_t now = 1000;
  EXPECT_EQ(due_addresses(t, now), (std::vector<std::string>{"a:1"}));
  EXPECT_TRUE(due_addresses(t, now).empty());  // one dial at a time
  // Each failure doubles the wait: 100, 200, 400, then 800 (the bound) again and again.
  for (std::uint64_t wait : {100, 200, 400, 800, 800}) {
    t.dial_failed(p, now);
    EXPECT_TRUE(due_addresses(t, now + wait - 1).empty()) << wait;
    now += wait;
    auto next = due_addresses(t, now);
    ASSERT_EQ(next.size(), 1u) << wait;
  }
  // The addresses were tried in turn.
  t.dial_failed(p, now);
  now += 800;
  auto a = due_addresses(t, now);
  t.dial_failed(p, now);
  now += 800;
  auto b = due_addresses(t, now);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NE(a[0], b[0]);
}

TEST(SessionTable, ALinkResetsTheBackoffAndALostLinkIsRedialedAtOnceThenWithBackoff) {
  SessionTable t({100, 5000});
  const auto self = peer_from(1), p = peer_from(2);
  t.add_addresses(p, {"a:1"});
  ASSERT_EQ(due_addresses(t, 0).size(), 1u);
  t.dial_failed(p, 0);
  ASSERT_EQ(due_addresses(t, 100).size(), 1u);
  EXPECT_EQ(t.link_up(self, p, 7, true).verdict, SessionTable::Verdict::keep);
  EXPECT_EQ(t.current(p), 7u);
  EXPECT_FALSE(t.dialing(p));
  EXPECT_TRUE(due_addresses(t, 10'000).empty());  // it has a link
  EXPECT_TRUE(t.link_down(p, 7, true, false, 20'000).was_current);
  EXPECT_EQ(due_addresses(t, 20'000).size(), 1u);  // at once the first time
  t.dial_failed(p, 20'000);  // the loss set the backoff to the minimum; this failure doubles it
  EXPECT_TRUE(due_addresses(t, 20'199).empty());
  EXPECT_EQ(due_addresses(t, 20'200).size(), 1u);
}

TEST(SessionTable, BothEndsKeepTheLinkDialedByTheSmallerPeerId) {
  const auto x = peer_from(3), y = peer_from(4);
  const auto& small = x < y ? x : y;
  const auto& large = x < y ? y : x;
  // Each side sees two links: the one it dialed (id 1 on the small side, 2 on the large side) and
  // the one it accepted. The order they come up differs per side; the choice must not.
  SessionTable at_small({100, 5000}), at_large({100, 5000});
  // On the small side: its own dial (link 1) first, then the accepted one (link 2).
  EXPECT_EQ(at_small.link_up(small, large, 1, true).verdict, SessionTable::Verdict::keep);
  EXPECT_EQ(at_small.link_up(small, large, 2, false).verdict, SessionTable::Verdict::duplicate);
  // On the large side: its own dial (link 2) first, then the one the small side dialed (link 1).
  EXPECT_EQ(at_large.link_up(large, small, 2, true).verdict, SessionTable::Verdict::keep);
  auto up = at_large.link_up(large, small, 1, false);
  EXPECT_EQ(up.verdict, SessionTable::Verdict::keep_replacing);
  EXPECT_EQ(up.replaced, 2u);
  EXPECT_EQ(at_small.current(large), 1u);
  EXPECT_EQ(at_large.current(small), 1u);
  // The replaced link's close is not the session's end.
  EXPECT_FALSE(at_large.link_down(small, 2, true, false, 0).was_current);
  EXPECT_EQ(at_large.current(small), 1u);
}

TEST(SessionTable, ANewerLinkFromTheSameDialerReplacesAStaleOne) {
  SessionTable t({100, 5000});
  const auto self = peer_from(5), p = peer_from(6);
  t.link_up(self, p, 1, false);
  auto up = t.link_up(self, p, 2, false);  // the peer redialed: the old link is half-dead
  EXPECT_EQ(up.verdict, SessionTable::Verdict::keep_replacing);
  EXPECT_EQ(up.replaced, 1u);
}

TEST(SessionTable, AnIdleCloseDialsAtOnceNextTime) {
  SessionTable t({100, 5000});
  const auto self = peer_from(7), p = peer_from(8);
  t.add_addresses(p, {"a:1"});
  ASSERT_EQ(due_addresses(t, 0).size(), 1u);
  t.dial_failed(p, 0);
  ASSERT_EQ(due_addresses(t, 100).size(), 1u);
  t.dial_failed(p, 100);  // backoff now 200
  ASSERT_EQ(due_addresses(t, 300).size(), 1u);
  t.link_up(self, p, 1, true);
  t.link_down(p, 1, true, /*idle=*/true, 1000);
  EXPECT_EQ(t.next_dial_at(p), 0u);
  EXPECT_EQ(due_addresses(t, 1000).size(), 1u);
}

TEST(SessionTable, APeerThatDialedInIsForgottenWithItsLastLink) {
  SessionTable t({100, 5000});
  const auto self = peer_from(9);
  for (std::uint8_t i = 10; i < 60; ++i) {
    t.link_up(self, peer_from(i), i, false);
    t.link_down(peer_from(i), i, false, false, 0);
  }
  EXPECT_EQ(t.peer_count(), 0u);
  // One with an address stays (it is redialed).
  const auto known = peer_from(70);
  t.add_addresses(known, {"a:1"});
  t.link_up(self, known, 1, false);
  t.link_down(known, 1, false, false, 0);
  EXPECT_EQ(t.peer_count(), 1u);
}

TEST(SessionTable, DialNowForgetsTheBackoffButNotARunningDial) {
  SessionTable t({100, 5000});
  const auto p = peer_from(11);
  EXPECT_FALSE(t.dial_now(p));  // unknown
  t.add_addresses(p, {"a:1"});
  ASSERT_TRUE(t.dial_now(p));
  EXPECT_FALSE(t.dial_now(p));  // one running
  for (int i = 0; i < 5; ++i) t.dial_failed(p, 0);
  EXPECT_GT(t.next_dial_at(p), 0u);
  EXPECT_TRUE(t.dial_now(p));
}

// A listener whose accept queue is full drops SYNs, so a connect to it hangs: the dial must give up
// after dial_timeout_ms instead of waiting for the kernel's retransmissions.
TEST(MeshDial, AConnectThatHangsFailsAfterTheDialTimeout) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const auto port = ntohs(addr.sin_port);
  // Fill the queue (backlog 0 admits one, sometimes two) with connections nobody accepts.
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(s);
  }

  struct Sink : TransportSink {
    void on_session_up(Transport&, const PeerId&, std::uint64_t) override {}
    void on_session_down(Transport&, const PeerId&, std::uint64_t, const CloseReason&) override {}
    void on_record(Transport&, const PeerId&, std::uint64_t, RecordKind, ByteView) override {}
    void on_drained(Transport&, const PeerId&) override {}
    void on_availability(Transport&, bool, const std::string&) override {}
    bool wants_session(Transport&, const PeerId&) override { return false; }
  } sink;
  boost::asio::io_context io;
  const auto id = Identity::generate();
  auto t = default_registry().make(
      "tcp", TransportContext{.name = "tcp",
                              .options = {{"listen", "127.0.0.1:0"}, {"dial_timeout_ms", "300"}},
                              .strand = boost::asio::make_strand(io.get_executor()),
                              .identity = &id,
                              .sink = &sink});
  ASSERT_TRUE(t) << t.error();
  ASSERT_FALSE((*t)->start());
  const auto peer = peer_from(12);
  ASSERT_FALSE((*t)->add_addresses(peer, {"127.0.0.1:" + std::to_string(port)}));
  const auto started = std::chrono::steady_clock::now();
  (*t)->connect_soon(peer);
  std::uint64_t failed = 0;
  while (failed == 0 && std::chrono::steady_clock::now() - started < std::chrono::seconds(10)) {
    io.run_for(std::chrono::milliseconds(20));
    failed = (*t)->status_json()["dials_failed"].get<std::uint64_t>();
  }
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(failed, 1u);
  EXPECT_GE(took, std::chrono::milliseconds(290));
  EXPECT_LT(took, std::chrono::seconds(5));  // the kernel alone would retry SYNs for minutes
  (*t)->stop();
  io.run_for(std::chrono::milliseconds(20));
  for (int s : fillers) ::close(s);
  ::close(listener);
}

}  // namespace
}  // namespace hyphae::stream
