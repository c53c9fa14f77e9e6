// The WebRTC transport between real processes: nodes sign in at a real `hyphae signal` server,
// negotiate data channels through it (offer, answer, trickled candidates) and run their Noise
// links inside; messages flow both ways, simultaneous offers settle on one link, an offer to a
// device that is not there fails at once, a flood of offers that never connect is bounded, two
// nodes in network namespaces behind a firewall that drops every inbound TCP connection still
// reach each other, and a page in headless Chromium links to a node with its own RTCPeerConnection.
#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "harness.hpp"
#include "netns.hpp"
#include "signal_process.hpp"
#include "testnet/local_registry.hpp"
#include "webrtc/peer_connection.hpp"

namespace hyphae::testing {
namespace {

using namespace std::chrono_literals;

std::filesystem::path rtc_config(const std::filesystem::path& dir, const std::string& signal_url,
                                 const std::string& extra = "") {
  std::filesystem::create_directories(dir);
  const auto file = dir / "node.yaml";
  std::ofstream(file) << "power:\n  sysfs_root: " << (dir / "no-sysfs").string() << "\n"
                      << "ack_timeout_ms: 500\n"
                      << "reconnect_min_ms: 50\n"
                      << "reconnect_max_ms: 500\n"
                      << "mdns: false\n"
                      << "transport:\n"
                      << "  rtc:\n"
                      << "    type: webrtc\n"
                      << "    signal: " << signal_url << "\n"
                      << "    interfaces: [127.0.0.1]\n"
                      << extra;
  return file;
}

bool signed_in(LocalNode& node) {
  return transport_status(node, "rtc")["webrtc"]["signaling"]["signed_in"].get<bool>();
}

std::string send(LocalNode& from, const std::string& to, const std::string& payload) {
  auto r = from.api().request("POST", "/v1/messages", nlohmann::json{{"to", to}, {"payload", payload}});
  EXPECT_EQ(r.status, 201) << r.body.dump();
  return r.body.value("id", "");
}

struct RtcPair {
  SignalProcess signal;
  TempDir dir;
  LocalNode a, b;
  explicit RtcPair(const std::string& extra = "")
      : a{"a",
          hyphae_binary(),
          dir.path() / "a",
          {"--config", rtc_config(dir.path() / "cfg-a", signal.url(), extra).string()}},
        b{"b",
          hyphae_binary(),
          dir.path() / "b",
          {"--config", rtc_config(dir.path() / "cfg-b", signal.url(), extra).string()}} {
    a.start();
    b.start();
    EXPECT_TRUE(wait_until([&] { return signed_in(a) && signed_in(b); }, 15s))
        << transport_status(a, "rtc").dump();
  }
  void add(LocalNode& from, const LocalNode& to) {
    ok(from.api().request(
           "POST", "/v1/peers",
           nlohmann::json{{"peer_id", to.peer_id()}, {"addresses", {signal.webrtc_address()}}}),
       201);
  }
};

TEST(WebRtcTransport, NodesLinkThroughTheSignalingServerAndCarryMessagesBothWays) {
  RtcPair p;
  EXPECT_EQ(transport_status(p.a, "rtc")["type"], "webrtc");
  p.add(p.a, p.b);  // an unnamed .../p2p-webrtc-star address goes to the webrtc transport
  const auto there = send(p.a, p.b.peer_id(), "over a data channel");
  ASSERT_TRUE(wait_until([&] { return message_status(p.a, there)["status"] == "delivered"; }, 20s))
      << message_status(p.a, there).dump() << transport_status(p.a, "rtc").dump();
  EXPECT_EQ(message_status(p.a, there)["transport"], "rtc");
  EXPECT_EQ(inbox(p.b)[there], "over a data channel");
  const auto a_rtc = transport_status(p.a, "rtc")["webrtc"];
  EXPECT_GE(a_rtc["offers_sent"].get<int>(), 1) << a_rtc.dump();
  EXPECT_GE(a_rtc["channels_opened"].get<int>(), 1) << a_rtc.dump();
  EXPECT_GE(transport_status(p.b, "rtc")["webrtc"]["answers_sent"].get<int>(), 1);
  // b answers over the channel a opened, then a burst of 50 x 20 KB crosses it.
  const auto back = send(p.b, p.a.peer_id(), "and back");
  ASSERT_TRUE(wait_until([&] { return message_status(p.b, back)["status"] == "delivered"; }, 10s));
  EXPECT_EQ(inbox(p.a)[back], "and back");
  std::vector<std::string> burst;
  for (int i = 0; i < 50; ++i)
    burst.push_back(send(p.b, p.a.peer_id(), std::string(20'000, char('a' + i % 26))));
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& id : burst)
          if (message_status(p.b, id)["status"] != "delivered") return false;
        return true;
      },
      20s));
  const auto got = inbox(p.a);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(got.at(burst[i]), std::string(20'000, char('a' + i % 26)));
  EXPECT_EQ(session_transports(p.a).count("rtc"), 1u);
}

// Real-time (ephemeral) messages between nodes take the partially reliable "hyphae-rt" channel
// (ordered, maxRetransmits 3, protocol p2p-messenger), sealed by the link; durable ones the link's
// reliable channel. (The nodes also learn each other's TCP addresses from their records, so the
// messages name the transport.)
TEST(WebRtcTransport, EphemeralMessagesTakeThePartiallyReliableChannel) {
  RtcPair p;
  p.add(p.a, p.b);
  const auto id = send(p.a, p.b.peer_id(), "durable first");
  ASSERT_TRUE(wait_until([&] { return message_status(p.a, id)["status"] == "delivered"; }, 20s));
  std::vector<std::string> got;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    ApiClient client(p.b.endpoint());
    client.stream(
        [&](const nlohmann::json& m) {
          if (!m.value("ephemeral", false)) return true;
          got.push_back(m.value("payload", ""));
          return got.size() < 5;
        },
        15000);
    done = true;
  });
  int sent = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        if (done) return true;
        ok(p.a.api().request("POST", "/v1/messages",
                             nlohmann::json{{"to", p.b.peer_id()},
                                            {"payload", "live " + std::to_string(sent++)},
                                            {"ephemeral", true},
                                            {"transport", "rtc"}}),
           201);
        return false;
      },
      15s));
  reader.join();
  ASSERT_EQ(got.size(), 5u);
  const auto a_rtc = transport_status(p.a, "rtc")["webrtc"];
  const auto b_rtc = transport_status(p.b, "rtc")["webrtc"];
  EXPECT_GE(a_rtc["datagrams_out"].get<int>(), 5) << a_rtc.dump();
  EXPECT_GE(b_rtc["datagrams_in"].get<int>(), 5) << b_rtc.dump();
  EXPECT_EQ(b_rtc["datagrams_dropped"], 0) << b_rtc.dump();
}

// Both nodes offer at the same moment: the smaller PeerId's offer stands, the other answers it,
// every message is delivered, and each side ends with one link.
TEST(WebRtcTransport, SimultaneousOffersSettleOnOneLink) {
  RtcPair p;
  p.add(p.a, p.b);
  p.add(p.b, p.a);
  const auto ab = send(p.a, p.b.peer_id(), "from a");
  const auto ba = send(p.b, p.a.peer_id(), "from b");
  ASSERT_TRUE(wait_until(
      [&] {
        return message_status(p.a, ab)["status"] == "delivered" &&
               message_status(p.b, ba)["status"] == "delivered";
      },
      30s))
      << message_status(p.a, ab).dump() << message_status(p.b, ba).dump();
  EXPECT_EQ(inbox(p.b)[ab], "from a");
  EXPECT_EQ(inbox(p.a)[ba], "from b");
  EXPECT_TRUE(wait_until(
      [&] { return session_transports(p.a).count("rtc") == 1 && session_transports(p.b).count("rtc") == 1; },
      10s));
}

// An offer to a device that is not signed in fails as soon as the server says so, not at the
// negotiation timeout, and the dial backs off.
TEST(WebRtcTransport, AnOfferToAnAbsentPeerFailsAtOnce) {
  SignalProcess signal;
  TempDir dir;
  LocalNode a{"a",
              hyphae_binary(),
              dir.path() / "a",
              {"--config",
               rtc_config(dir.path() / "cfg", signal.url(), "    negotiation_timeout_ms: 60000\n").string()}};
  a.start();
  ASSERT_TRUE(wait_until([&] { return signed_in(a); }, 15s));
  const auto absent = Identity::generate().peer_id().to_string();
  ok(a.api().request("POST", "/v1/peers",
                     nlohmann::json{{"peer_id", absent}, {"addresses", {signal.webrtc_address()}}}),
     201);
  send(a, absent, "nobody home");
  ASSERT_TRUE(wait_until([&] { return transport_status(a, "rtc")["dials_failed"].get<int>() >= 2; }, 10s))
      << transport_status(a, "rtc").dump();
  EXPECT_GE(transport_status(a, "rtc")["webrtc"]["negotiations_failed"].get<int>(), 2);
  EXPECT_EQ(transport_status(a, "rtc")["webrtc"]["negotiations"], 0);
}

// A stranger at the signaling server floods a node with offers (real SDP that never connects, and
// junk): the node keeps at most max_negotiations, evicts the oldest, ignores junk, and a real peer
// still links to it.
TEST(WebRtcTransport, AFloodOfOffersIsBoundedAndARealPeerStillConnects) {
  RtcPair p("    max_negotiations: 4\n    negotiation_timeout_ms: 60000\n");
  // A real offer from a PeerConnection in this process (its candidates never reach the node).
  std::string sdp;
  {
    auto pc = webrtc::PeerConnection::create({}, {}, [](std::function<void()>) {});
    ASSERT_TRUE(pc.has_value());
    ASSERT_TRUE((*pc)->open_channel("hyphae", "p2p-messenger").has_value());
    auto offer = (*pc)->create_offer();
    ASSERT_TRUE(offer.has_value());
    sdp = *offer;
  }
  // Eight strangers, three offers each: one negotiation per peer (a newer offer replaces the
  // older), at most max_negotiations in all (the oldest answer is evicted).
  std::vector<std::unique_ptr<WsDevice>> devices;
  auto session = [](int i) {
    char text[33];
    std::snprintf(text, sizeof text, "%032x", i + 1);
    return std::string(text);
  };
  for (int d = 0; d < 8; ++d) {
    const auto id = Identity::generate();
    devices.push_back(std::make_unique<WsDevice>(p.signal.port, id.peer_id().to_string()));
    devices.back()->authenticate(id);
    for (int i = 0; i < 3; ++i)
      devices.back()->send({{"type", "OFFER"},
                            {"to", p.a.peer_id()},
                            {"payload", {{"session", session(d * 3 + i)}, {"sdp", sdp}}}});
  }
  auto& device = *devices.front();
  const nlohmann::json junk[] = {
      {{"type", "OFFER"},
       {"to", p.a.peer_id()},
       {"payload", {{"session", session(100)}, {"sdp", "v=0\r\nbogus"}}}},
      {{"type", "OFFER"}, {"to", p.a.peer_id()}, {"payload", {{"session", "short"}, {"sdp", sdp}}}},
      {{"type", "OFFER"}, {"to", p.a.peer_id()}, {"payload", "not an object"}},
      {{"type", "ANSWER"}, {"to", p.a.peer_id()}, {"payload", {{"session", session(0)}, {"sdp", sdp}}}},
      {{"type", "ICE_CANDIDATE"},
       {"to", p.a.peer_id()},
       {"payload", {{"session", session(23)}, {"candidate", 7}}}},
      {{"type", "ICE_CANDIDATE"},
       {"to", p.a.peer_id()},
       {"payload", {{"session", session(23)}, {"candidate", "candidate:garbage"}}}},
  };
  for (const auto& m : junk) device.send(m);
  ASSERT_TRUE(wait_until(
      [&] {
        const auto s = transport_status(p.a, "rtc")["webrtc"];
        return s["offers_received"].get<int>() >= 27 && s["ignored_signals"].get<int>() >= 4 &&
               s["negotiations_failed"].get<int>() >= 16;
      },
      15s))
      << transport_status(p.a, "rtc").dump();
  const auto s = transport_status(p.a, "rtc")["webrtc"];
  EXPECT_LE(s["negotiations"].get<int>(), 4) << s.dump();
  EXPECT_GE(s["negotiations_evicted"].get<int>(), 4) << s.dump();  // 8 strangers, room for 4
  // The node serves on: b links to it and a message crosses.
  p.add(p.b, p.a);
  const auto id = send(p.b, p.a.peer_id(), "still answering");
  ASSERT_TRUE(wait_until([&] { return message_status(p.b, id)["status"] == "delivered"; }, 30s))
      << message_status(p.b, id).dump() << transport_status(p.a, "rtc").dump();
  EXPECT_EQ(inbox(p.a)[id], "still answering");
  EXPECT_TRUE(p.a.running());
}

// Two nodes in network namespaces; a firewall in front of b drops every new inbound TCP
// connection, so the TCP mesh dial fails while both reach the signaling server (in a's namespace)
// and the WebRTC link (UDP) comes up: messages take it without being told.
TEST(WebRtcNetns, WhenTcpIsFirewalledMessagesTakeTheDataChannel) {
  if (auto why = NetnsLine::unavailable_reason())
    GTEST_SKIP() << "network namespaces are not available: " << *why;
  if (NetnsLine::run("command -v nft").status != 0)
    GTEST_SKIP() << "nft is not installed (scripts/setup.sh installs nftables)";
  NetnsLine line(2);
  const std::string a_host = line.address(0, line.interfaces(0).at(0)),
                    b_host = line.address(1, line.interfaces(1).at(0));
  SignalProcess signal(line.ns(0), a_host);
  TempDir dir;
  const auto tcp_port = free_tcp_port();
  auto config = [&](const std::string& name, const std::string& host, std::uint16_t tcp) {
    const auto file = dir.path() / (name + ".yaml");
    std::ofstream(file) << "listen: \"" << host << ":" << tcp << "\"\n"
                        << "reconnect_min_ms: 50\nreconnect_max_ms: 500\nmdns: false\n"
                        << "transport:\n  tcp:\n    dial_timeout_ms: 1000\n"
                        << "  rtc:\n    type: webrtc\n    signal: " << signal.url() << "\n"
                        << "    interfaces: [" << host << "]\n";
    return file;
  };
  const std::string nft = "ip netns exec " + line.ns(1) + " nft ";
  ASSERT_EQ(NetnsLine::run(nft + "add table inet fw").status, 0);
  ASSERT_EQ(
      NetnsLine::run(nft + "'add chain inet fw in { type filter hook input priority 0; policy accept; }'")
          .status,
      0);
  ASSERT_EQ(NetnsLine::run(nft + "add rule inet fw in iifname " + line.interfaces(1).at(0) +
                           " meta l4proto tcp ct state new drop")
                .status,
            0);
  LocalNode a{"a", hyphae_binary(), dir.path() / "a"}, b{"b", hyphae_binary(), dir.path() / "b"};
  a.set_netns(line.ns(0));
  a.set_config_file(config("a", a_host, free_tcp_port()));
  a.set_listen_host("");
  b.set_netns(line.ns(1));
  b.set_config_file(config("b", b_host, tcp_port));
  b.set_listen_host("");
  a.start();
  b.start();
  ASSERT_TRUE(wait_until([&] { return signed_in(a) && signed_in(b); }, 20s))
      << transport_status(b, "rtc").dump();
  ok(a.api().request(
         "POST", "/v1/peers",
         nlohmann::json{{"peer_id", b.peer_id()},
                        {"addresses", {b_host + ":" + std::to_string(tcp_port), signal.webrtc_address()}}}),
     201);
  const auto id = send(a, b.peer_id(), "through the firewall");
  ASSERT_TRUE(wait_until([&] { return message_status(a, id)["status"] == "delivered"; }, 30s))
      << message_status(a, id).dump() << transport_status(a, "rtc").dump();
  EXPECT_EQ(message_status(a, id)["transport"], "rtc");
  EXPECT_EQ(inbox(b)[id], "through the firewall");
  EXPECT_TRUE(wait_until([&] { return transport_status(a, "tcp")["dials_failed"].get<int>() >= 1; }, 10s));
  EXPECT_FALSE(session_transports(a).contains("tcp"));
}

// A page in headless Chromium signs in at the signaling server, offers the node a data channel with
// the browser's own RTCPeerConnection, runs the TypeScript Noise link inside it, and messages cross
// both ways.
TEST(WebRtcBrowserPeer, ChromiumLinksToANodeOverADataChannel) {
  const std::filesystem::path root(HYPHAE_SOURCE_DIR);
  ASSERT_TRUE(std::filesystem::exists(root / "web/dist/peer/hyphae-peer.js"))
      << "the browser peer is not built: `make build` runs `npm run build` in web/";
  ASSERT_TRUE(std::filesystem::exists(root / "tests/js/node_modules/playwright-core"))
      << "npm packages missing: scripts/setup.sh runs `npm ci` in tests/js";
  RtcPair p;
  auto client = std::async(std::launch::async, [&] {
    std::string out;
    const int rc = run_command("node '" + (root / "tests/js/browser_peer.mjs").string() + "' webrtc " +
                                   p.signal.url() + " " + p.b.peer_id() + " 20 2>&1",
                               out);
    return std::pair{rc, out};
  });
  std::string browser;
  const bool arrived = wait_until(
      [&] {
        if (client.wait_for(0s) == std::future_status::ready) return true;
        const auto body = p.b.api().request("GET", "/v1/messages?limit=100").body;
        if (body["messages"].size() < 20) return false;
        for (const auto& m : body["messages"])
          if (m.value("payload", "") == "hello from a browser peer") browser = m.value("from", "");
        return true;
      },
      60s);
  if (client.wait_for(0s) == std::future_status::ready) {
    auto [rc, out] = client.get();
    if (rc == 77) GTEST_SKIP() << out;
    FAIL() << "the page ended early (" << rc << "): " << out << transport_status(p.b, "rtc").dump();
  }
  ASSERT_TRUE(arrived) << transport_status(p.b, "rtc").dump();
  ASSERT_EQ(inbox(p.b).size(), 20u);
  ASSERT_TRUE(browser.starts_with("12D3KooW")) << browser;
  EXPECT_EQ(session_transports(p.b).count("rtc"), 1u);
  const auto bye = send(p.b, browser, "bye");
  ASSERT_EQ(client.wait_for(40s), std::future_status::ready);
  auto [rc, out] = client.get();
  ASSERT_EQ(rc, 0) << out;
  const auto seen = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(seen["peerId"], browser);
  EXPECT_EQ(seen["remote"], p.b.peer_id());
  EXPECT_EQ(seen["acked"].size(), 20u) << out;
  ASSERT_EQ(seen["messages"].size(), 1u) << out;
  EXPECT_EQ(seen["messages"][0]["payload"], "bye");
  EXPECT_EQ(seen["messages"][0]["id"], bye);
  EXPECT_TRUE(seen["errors"].empty()) << out;
  EXPECT_NE(seen["userAgent"].get<std::string>().find("Chrome"), std::string::npos);
  EXPECT_GE(transport_status(p.b, "rtc")["webrtc"]["answers_sent"].get<int>(), 1);
}

}  // namespace
}  // namespace hyphae::testing
