// The router with real node processes: two transports per node ("tcp", the internet path, and
// "lan", a second TCP mesh instance configured as an offline-capable local network), driven
// through fault injection. Reproduces seed 000's T=0..T=15 switching timeline (internet lost →
// detect → fail over to the mesh → deliver → back when the internet returns), redundant sends, and
// the durable outbox as the last resort.
#include "two_transports.hpp"

namespace hyphae::testing {
namespace {

TEST(Failover, DesignTimelineInternetLostSwitchesToTheMeshAndBack) {
  TwoTransportPair p;
  // T=0, T=10: internet available, sending over the fast direct transport.
  auto m1 = p.send("T=10 hello over the internet");
  ASSERT_TRUE(wait_until([&] { return p.delivered(m1); }, std::chrono::seconds(10))) << p.status(m1).dump();
  EXPECT_EQ(p.status(m1)["transport"], "tcp");
  EXPECT_NE(p.status(m1)["transport_reason"].get<std::string>().find("latency"), std::string::npos)
      << p.status(m1).dump();

  // T=11: the internet path fails silently (every record vanishes, the session looks alive).
  p.fault("tcp", {{"mode", "lossy"}, {"loss", 1.0}});
  auto m2 = p.send("T=11 sent into a dead link");
  // T=12..T=15: no ack within ack_timeout_ms → tcp degraded → retried over lan → delivered.
  ASSERT_TRUE(wait_until([&] { return p.delivered(m2); }, std::chrono::seconds(10))) << p.status(m2).dump();
  auto s2 = p.status(m2);
  EXPECT_EQ(s2["transport"], "lan");
  EXPECT_NE(s2["transport_reason"].get<std::string>().find("failover from tcp: no ack within 300 ms"),
            std::string::npos)
      << s2.dump();
  EXPECT_GE(s2["attempts"].get<int>(), 2);
  auto transports = p.a.api().request("GET", "/v1/p2p/transports").body["transports"];
  for (const auto& t : transports) {
    if (t["name"] == "tcp") {
      EXPECT_EQ(t["degraded_peers"], 1) << t.dump();
    }
  }

  // The internet is gone for good: tcp's sessions die; the node goes offline and uses the mesh.
  p.fault("tcp", {{"mode", "dead"}});
  ASSERT_TRUE(wait_until([&] { return TwoTransportPair::sessions(p.a) == std::set<std::string>{"lan"}; },
                         std::chrono::seconds(10)));
  ASSERT_TRUE(
      wait_until([&] { return p.a.api().request("GET", "/v1/p2p/connectivity").body["online"] == false; },
                 std::chrono::seconds(10)));
  auto m3 = p.send("offline: over the mesh");
  ASSERT_TRUE(wait_until([&] { return p.delivered(m3); }, std::chrono::seconds(10))) << p.status(m3).dump();
  EXPECT_EQ(p.status(m3)["transport"], "lan");
  EXPECT_NE(p.status(m3)["transport_reason"].get<std::string>().find("no internet"), std::string::npos)
      << p.status(m3).dump();

  // The internet returns: tcp reconnects, the node is online again and tcp carries new messages.
  p.fault("tcp", {{"mode", "none"}});
  ASSERT_TRUE(wait_until(
      [&] {
        return TwoTransportPair::sessions(p.a) == std::set<std::string>{"tcp", "lan"};
      },
      std::chrono::seconds(15)));
  ASSERT_TRUE(
      wait_until([&] { return p.a.api().request("GET", "/v1/p2p/connectivity").body["online"] == true; },
                 std::chrono::seconds(10)));
  auto m4 = p.send("back online");
  ASSERT_TRUE(wait_until([&] { return p.delivered(m4); }, std::chrono::seconds(10))) << p.status(m4).dump();
  EXPECT_EQ(p.status(m4)["transport"], "tcp");

  // The receiver has each message exactly once (inbox() fails the test on a duplicate id).
  auto in = inbox(p.b);
  for (const auto& id : {m1, m2, m3, m4}) EXPECT_EQ(in.count(id), 1u) << id;
  EXPECT_EQ(in.size(), 4u);
  auto metrics = p.a.api().request("GET", "/metrics").raw;
  EXPECT_NE(metrics.find("p2p_failovers_total{from=\"tcp\",to=\"lan\"}"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("p2p_transport_selections_total{transport=\"lan\""), std::string::npos);
  EXPECT_NE(metrics.find("p2p_errors_total{kind=\"ack_timeout\"}"), std::string::npos);
}

TEST(Failover, RedundantSendDeliversOnceAndCountsTheWinner) {
  TwoTransportPair p;
  auto id = p.send("urgent, over both", {{"redundancy", 2}, {"priority", "high"}});
  ASSERT_TRUE(wait_until([&] { return p.delivered(id); }, std::chrono::seconds(10))) << p.status(id).dump();
  // Both copies arrive; the receiver keeps one and acks the other as a duplicate.
  ASSERT_TRUE(wait_until(
      [&] { return p.b.api().request("GET", "/v1/p2p/status").body["counters"]["duplicates"] == 1; },
      std::chrono::seconds(10)));
  EXPECT_EQ(inbox(p.b).size(), 1u);
  std::uint64_t wins = 0;
  const auto transports = p.a.api().request("GET", "/v1/p2p/transports").body;
  for (const auto& t : transports["transports"]) wins += t["redundant_wins"].get<std::uint64_t>();
  EXPECT_EQ(wins, 1u);
  // More copies than transports is a clear 400.
  const auto count = static_cast<int>(transports["transports"].size());
  auto r =
      p.a.api().request("POST", "/v1/messages",
                        nlohmann::json{{"to", p.b.peer_id()}, {"payload", "x"}, {"redundancy", count + 1}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body["error"].get<std::string>().find("redundancy"), std::string::npos) << r.body.dump();
}

TEST(Failover, APreferenceForcesItsTransportAndNothingAtAllLeavesItInTheOutbox) {
  TwoTransportPair p;
  auto forced = p.send("by the mesh, please", {{"transport", "lan"}});
  ASSERT_TRUE(wait_until([&] { return p.delivered(forced); }, std::chrono::seconds(10)));
  EXPECT_EQ(p.status(forced)["transport"], "lan");
  EXPECT_NE(p.status(forced)["transport_reason"].get<std::string>().find("transport_preference"),
            std::string::npos)
      << p.status(forced).dump() << TwoTransportPair::read_log(p.a);

  // Every transport down: the message is kept (queued) and goes out when one comes back.
  p.fault("tcp", {{"mode", "dead"}});
  p.fault("lan", {{"mode", "dead"}});
  ASSERT_TRUE(wait_until([&] { return TwoTransportPair::sessions(p.a).empty(); }, std::chrono::seconds(10)));
  auto waiting = p.send("kept until a path exists");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(p.status(waiting)["status"], "queued") << p.status(waiting).dump();
  p.fault("lan", {{"mode", "none"}});
  ASSERT_TRUE(wait_until([&] { return p.delivered(waiting); }, std::chrono::seconds(15)))
      << p.status(waiting).dump();
  EXPECT_EQ(p.status(waiting)["transport"], "lan");

  // Fault injection is refused for unknown transports and bad modes, with JSON errors.
  auto unknown =
      p.a.api().request("POST", "/v1/p2p/transports/bitchat/fault", nlohmann::json{{"mode", "dead"}});
  EXPECT_EQ(unknown.status, 404);
  auto bad = p.a.api().request("POST", "/v1/p2p/transports/tcp/fault", nlohmann::json{{"mode", "explode"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(bad.body.contains("error"));
}

TEST(Failover, AForcedTransportIsKeptAcrossARestart) {
  TwoTransportPair p;
  p.fault("tcp", {{"mode", "dead"}});
  p.fault("lan", {{"mode", "dead"}});
  ASSERT_TRUE(wait_until([&] { return TwoTransportPair::sessions(p.a).empty(); }, std::chrono::seconds(10)));
  auto id = p.send("only over the mesh, even after a restart", {{"transport", "lan"}});
  EXPECT_EQ(p.status(id)["status"], "queued");
  p.a.stop();  // the outbox row keeps the preference (schema v5); the faults do not survive
  p.a.start();
  ASSERT_TRUE(wait_until([&] { return p.delivered(id); }, std::chrono::seconds(15))) << p.status(id).dump();
  EXPECT_EQ(p.status(id)["transport"], "lan");  // tcp would win on latency without the preference
  EXPECT_NE(p.status(id)["transport_reason"].get<std::string>().find("transport_preference"),
            std::string::npos)
      << p.status(id).dump();
}

TEST(Fragmentation, MessagesLargerThanATransportsMtuCrossInFragments) {
  // lan carries at most 300 bytes per record: envelopes and ack lists are cut to fit.
  TwoTransportPair p("      mtu: 300\n      max_message_size: 30000\n");
  std::string big(20000, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7919) % 26);
  auto id = p.send(big, {{"transport", "lan"}});
  std::vector<std::string> small;
  for (int i = 0; i < 40; ++i) small.push_back(p.send("small " + std::to_string(i), {{"transport", "lan"}}));
  ASSERT_TRUE(wait_until([&] { return p.delivered(id); }, std::chrono::seconds(10))) << p.status(id).dump();
  for (const auto& s : small)
    ASSERT_TRUE(wait_until([&] { return p.delivered(s); }, std::chrono::seconds(10)));
  auto in = inbox(p.b);
  ASSERT_EQ(in.count(id), 1u);
  EXPECT_EQ(in[id], big);  // reassembled byte for byte (and LZ4-decompressed: this payload compresses)
  EXPECT_EQ(in.size(), 41u);
  // Forced onto a transport that cannot carry it at all: a clear 413, nothing queued.
  auto too_big = p.a.api().request(
      "POST", "/v1/messages",
      nlohmann::json{{"to", p.b.peer_id()}, {"payload", std::string(40000, 'y')}, {"transport", "lan"}});
  EXPECT_EQ(too_big.status, 413) << too_big.body.dump();
  EXPECT_TRUE(too_big.body.contains("error"));
  auto sent = p.a.api().request("GET", "/metrics").raw;
  auto received = p.b.api().request("GET", "/metrics").raw;
  EXPECT_EQ(sent.find("p2p_fragments_sent_total 0\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("p2p_fragments_sent_total "), std::string::npos);
  EXPECT_EQ(received.find("p2p_fragments_received_total 0\n"), std::string::npos);
  EXPECT_NE(received.find("p2p_errors_total{kind=\"fragment\"} 0"), std::string::npos) << received;
}

}  // namespace
}  // namespace hyphae::testing
