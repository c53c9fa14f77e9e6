// The router with real node processes: two transports per node ("tcp", the internet path, and
// "lan", a second TCP mesh instance configured as an offline-capable local network), driven
// through fault injection. Reproduces seed 000's T=0..T=15 switching timeline (internet lost →
// detect → fail over to the mesh → deliver → back when the internet returns), redundant sends, and
// the durable outbox as the last resort.
#include <fstream>

#include "harness.hpp"

namespace hyphae::testing {
namespace {

// Both nodes: tcp preferred for latency; lan needs no internet (seed 000's BitChat column role).
std::filesystem::path write_config(const std::filesystem::path& dir, const std::string& lan_caps = "") {
  std::filesystem::create_directories(dir);
  const auto file = dir / "node.yaml";
  std::ofstream(file) << "fault_injection: true\n"
                      << "optimize_for: latency\n"
                      << "ack_timeout_ms: 300\n"
                      << "failover_timeout_sec: 5\n"
                      << "reconnect_min_ms: 50\n"
                      << "reconnect_max_ms: 200\n"
                      << "transport:\n"
                      << "  lan:\n"
                      << "    type: tcp\n"
                      << "    listen: 127.0.0.1:0\n"
                      << "    caps:\n"
                      << "      requires_internet: false\n"
                      << "      offline_capable: true\n"
                      << "      store_and_forward: true\n"
                      << "      typical_latency_ms: 400\n"
                      << "      bandwidth_bps: 1000000\n"
                      << lan_caps;
  return file;
}

struct TwoTransportPair {
  TempDir dir;
  LocalNode a, b;

  explicit TwoTransportPair(const std::string& lan_caps = "")
      : a{"a",
          hyphae_binary(),
          dir.path() / "a",
          {"--config", write_config(dir.path() / "cfg-a", lan_caps).string()}},
        b{"b",
          hyphae_binary(),
          dir.path() / "b",
          {"--config", write_config(dir.path() / "cfg-b", lan_caps).string()}} {
    a.start();
    b.start();
    ok(a.api().request(
           "POST", "/v1/peers",
           nlohmann::json{{"peer_id", b.peer_id()},
                          {"addresses", {b.address(), "lan=127.0.0.1:" + std::to_string(port(b, "lan"))}}}),
       201);
    if (!wait_until(
            [&] {
              return sessions(a) == std::set<std::string>{"tcp", "lan"};
            },
            std::chrono::seconds(15)))
      throw std::runtime_error("a did not connect to b over both transports: " +
                               a.api().request("GET", "/v1/p2p/connections").body.dump() + "\na's log:\n" +
                               read_log(a));
  }

  static std::string read_log(const LocalNode& node) {
    std::ifstream in(node.log_file());
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static std::uint16_t port(LocalNode& node, const std::string& transport) {
    const auto body = node.api().request("GET", "/v1/p2p/transports").body;
    for (const auto& t : body["transports"])
      if (t["name"] == transport) return t["listen_port"].get<std::uint16_t>();
    throw std::runtime_error("no transport " + transport + " in " + body.dump());
  }
  static std::set<std::string> sessions(LocalNode& node) {
    std::set<std::string> out;
    // Keep the response alive: a range-for over a member of a temporary would dangle (before C++23).
    const auto body = node.api().request("GET", "/v1/p2p/connections").body;
    for (const auto& c : body["connections"]) out.insert(c["transport"].get<std::string>());
    return out;
  }
  nlohmann::json fault(const std::string& transport, nlohmann::json body) {
    return ok(a.api().request("POST", "/v1/p2p/transports/" + transport + "/fault", body));
  }
  std::string send(const std::string& payload, nlohmann::json extra = nlohmann::json::object()) {
    extra["to"] = b.peer_id();
    extra["payload"] = payload;
    auto r = a.api().request("POST", "/v1/messages", extra);
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("id", "");
  }
  nlohmann::json status(const std::string& id) { return a.api().request("GET", "/v1/messages/" + id).body; }
  bool delivered(const std::string& id) { return status(id)["status"] == "delivered"; }
};

TEST(Failover, SeedTimelineInternetLostSwitchesToTheMeshAndBack) {
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
  auto r = p.a.api().request("POST", "/v1/messages",
                             nlohmann::json{{"to", p.b.peer_id()}, {"payload", "x"}, {"redundancy", 3}});
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

TEST(Fragmentation, MessagesLargerThanATransportsMtuCrossInFragments) {
  // lan carries at most 300 bytes per record: envelopes and ack lists are cut to fit.
  TwoTransportPair p("      mtu: 300\n");
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
  auto sent = p.a.api().request("GET", "/metrics").raw;
  auto received = p.b.api().request("GET", "/metrics").raw;
  EXPECT_EQ(sent.find("p2p_fragments_sent_total 0\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("p2p_fragments_sent_total "), std::string::npos);
  EXPECT_EQ(received.find("p2p_fragments_received_total 0\n"), std::string::npos);
  EXPECT_NE(received.find("p2p_errors_total{kind=\"fragment\"} 0"), std::string::npos) << received;
}

}  // namespace
}  // namespace hyphae::testing
