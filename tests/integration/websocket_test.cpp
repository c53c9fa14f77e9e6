// The WebSocket transport between real node processes: links over ws:// and wss:// carry messages
// both ways (the same Noise XX + libp2p channel as TCP links), and the listener survives what a
// stranger on an HTTP port sends: plain HTTP, upgrades to other paths, text messages, oversized
// messages, and a flood of connections that never finish their handshakes.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <fstream>
#include <future>

#include "harness.hpp"
#include "netns.hpp"
#include "testnet/local_registry.hpp"

namespace hyphae::testing {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;

std::filesystem::path write_ws_config(const std::filesystem::path& dir, bool tls, int max_handshakes = 64) {
  std::filesystem::create_directories(dir);
  const auto file = dir / "node.yaml";
  std::ofstream(file) << "power:\n  sysfs_root: " << (dir / "no-sysfs").string() << "\n"
                      << "ack_timeout_ms: 300\n"
                      << "reconnect_min_ms: 50\n"
                      << "reconnect_max_ms: 200\n"
                      << "transport:\n"
                      << "  ws:\n"
                      << "    type: websocket\n"
                      << "    listen: 127.0.0.1:0\n"
                      << "    tls: " << (tls ? "true" : "false") << "\n"
                      << "    path: /hyphae\n"
                      << "    max_handshakes: " << max_handshakes << "\n";
  return file;
}

std::uint16_t ws_port(LocalNode& node) {
  return transport_status(node, "ws")["listen_port"].get<std::uint16_t>();
}

std::string send(LocalNode& from, const LocalNode& to, const std::string& payload) {
  auto r =
      from.api().request("POST", "/v1/messages",
                         nlohmann::json{{"to", to.peer_id()}, {"payload", payload}, {"transport", "ws"}});
  EXPECT_EQ(r.status, 201) << r.body.dump();
  return r.body.value("id", "");
}

struct WsPair {
  TempDir dir;
  LocalNode a, b;
  explicit WsPair(bool tls, int max_handshakes = 64)
      : a{"a",
          hyphae_binary(),
          dir.path() / "a",
          {"--config", write_ws_config(dir.path() / "cfg-a", tls, max_handshakes).string()}},
        b{"b",
          hyphae_binary(),
          dir.path() / "b",
          {"--config", write_ws_config(dir.path() / "cfg-b", tls, max_handshakes).string()}} {
    a.start();
    b.start();
  }
  void link(bool tls) {
    const std::string url =
        std::string(tls ? "wss" : "ws") + "://127.0.0.1:" + std::to_string(ws_port(b)) + "/hyphae";
    ok(a.api().request("POST", "/v1/peers",
                       nlohmann::json{{"peer_id", b.peer_id()}, {"addresses", {"ws=" + url}}}),
       201);
    ASSERT_TRUE(wait_until(
        [&] { return session_transports(a).contains("ws") && session_transports(b).contains("ws"); }, 15s))
        << a.api().request("GET", "/v1/p2p/connections").body.dump();
  }
};

class WebSocketLinks : public ::testing::TestWithParam<bool> {};

TEST_P(WebSocketLinks, CarryMessagesBothWays) {
  const bool tls = GetParam();
  WsPair p(tls);
  EXPECT_EQ(transport_status(p.b, "ws")["scheme"], tls ? "wss" : "ws");
  p.link(tls);
  const auto there = send(p.a, p.b, "over a WebSocket");
  ASSERT_TRUE(wait_until([&] { return message_status(p.a, there)["status"] == "delivered"; }, 10s))
      << message_status(p.a, there).dump();
  EXPECT_EQ(message_status(p.a, there)["transport"], "ws");
  EXPECT_EQ(inbox(p.b).count(there), 1u);
  EXPECT_EQ(inbox(p.b)[there], "over a WebSocket");
  // b answers over the link a opened (b has no address for a).
  const auto back = send(p.b, p.a, "and back");
  ASSERT_TRUE(wait_until([&] { return message_status(p.b, back)["status"] == "delivered"; }, 10s))
      << message_status(p.b, back).dump();
  EXPECT_EQ(inbox(p.a)[back], "and back");
  // A burst of larger messages (several WebSocket messages per write).
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i)
    ids.push_back(send(p.a, p.b, std::string(20'000, static_cast<char>('a' + i % 26))));
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& id : ids)
          if (message_status(p.a, id)["status"] != "delivered") return false;
        return true;
      },
      20s));
  auto got = inbox(p.b);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(got[ids[static_cast<std::size_t>(i)]].size(), 20'000u);
}

INSTANTIATE_TEST_SUITE_P(PlainAndTls, WebSocketLinks, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "wss" : "ws"; });

// What a raw TCP client reads back after sending `request` (until the node closes).
std::string http_exchange(std::uint16_t port, const std::string& request) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(socket, asio::buffer(request));
  std::string reply;
  boost::system::error_code ec;
  asio::read(socket, asio::dynamic_buffer(reply), ec);
  return reply;
}

// Whether the node closes a WebSocket client's connection after it sends `message`.
bool closed_after(std::uint16_t port, bool text, std::size_t size) {
  asio::io_context io;
  websocket::stream<beast::tcp_stream> ws(io);
  beast::get_lowest_layer(ws).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  ws.handshake("127.0.0.1", "/hyphae");
  ws.text(text);
  beast::get_lowest_layer(ws).expires_after(10s);
  boost::system::error_code ec;
  ws.write(asio::buffer(std::string(size, 'x')), ec);
  beast::flat_buffer buffer;
  ws.read(buffer, ec);
  return ec && ec != beast::error::timeout;
}

TEST(WebSocketListener, AnswersStrangersAndServesOn) {
  WsPair p(false, 8);
  const auto port = ws_port(p.b);
  EXPECT_NE(http_exchange(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").find("426"), std::string::npos);
  const std::string wrong_path =
      "GET /elsewhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  EXPECT_NE(http_exchange(port, wrong_path).find("404"), std::string::npos);
  EXPECT_EQ(http_exchange(port, std::string(20'000, 'G') + "\r\n\r\n").find("101"), std::string::npos);
  EXPECT_TRUE(closed_after(port, true, 10));                     // text on a binary link
  EXPECT_TRUE(closed_after(port, false, std::size_t{5} << 20));  // over the 4 MiB message cap
  EXPECT_TRUE(closed_after(port, false, 300));                   // not a Noise handshake

  // 40 connections that upgrade and then say nothing, against max_handshakes 8: the oldest are
  // evicted, and a real peer still gets in.
  asio::io_context io;
  std::vector<std::unique_ptr<websocket::stream<beast::tcp_stream>>> idle;
  for (int i = 0; i < 40; ++i) {
    auto ws = std::make_unique<websocket::stream<beast::tcp_stream>>(io);
    beast::get_lowest_layer(*ws).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    boost::system::error_code ec;
    ws->handshake("127.0.0.1", "/hyphae", ec);  // an evicted one may fail here: that is fine
    idle.push_back(std::move(ws));
  }
  ASSERT_TRUE(
      wait_until([&] { return transport_status(p.b, "ws")["handshakes_evicted"].get<int>() >= 30; }, 10s))
      << transport_status(p.b, "ws").dump();
  EXPECT_LE(transport_status(p.b, "ws")["handshakes_in_flight"].get<int>(), 8);
  p.link(false);
  const auto id = send(p.a, p.b, "still serving");
  ASSERT_TRUE(wait_until([&] { return message_status(p.a, id)["status"] == "delivered"; }, 10s));
  EXPECT_TRUE(p.b.running());
}

// The browser peer (web/src/peer: TypeScript on @noble's X25519, ChaCha20-Poly1305 and SHA-256)
// dials the node over WebSocket, both sides prove their PeerIds, its messages are acked and
// delivered once, and the node's answer reaches it over the same link. Run twice: under Node.js with
// its own WebSocket client (undici), and in a page of headless Chromium with the browser's.
class WebSocketBrowserPeer : public ::testing::TestWithParam<std::string> {};

TEST_P(WebSocketBrowserPeer, ExchangesMessagesWithANode) {
  const std::filesystem::path root(HYPHAE_SOURCE_DIR);
  ASSERT_TRUE(std::filesystem::exists(root / "web/build/peer/index.js") &&
              std::filesystem::exists(root / "web/dist/peer/hyphae-peer.js"))
      << "the browser peer is not built: `make build` runs `npm run build` in web/";
  ASSERT_TRUE(std::filesystem::exists(root / "tests/js/node_modules/playwright-core"))
      << "npm packages missing: scripts/setup.sh runs `npm ci` in tests/js";
  const bool chromium = GetParam() == "chromium";
  WsPair p(false);
  const std::string url = "ws://127.0.0.1:" + std::to_string(ws_port(p.b)) + "/hyphae";
  const std::string script = chromium ? "browser_peer.mjs ws" : "peer_ws_client.mjs";
  auto client = std::async(std::launch::async, [&] {
    std::string out;
    const int rc = run_command(std::string("node ") + (chromium ? "" : "--experimental-websocket ") + "'" +
                                   (root / "tests/js").string() + "'/" + script + " " + url + " " +
                                   p.b.peer_id() + " 20 2>&1",
                               out);
    return std::pair{rc, out};
  });
  // The node's inbox gets the peer's 20 messages, once each, from the PeerId it proved.
  std::string browser;
  const bool arrived = wait_until(
      [&] {
        if (client.wait_for(0s) == std::future_status::ready) return true;  // it ended early
        const auto body = p.b.api().request("GET", "/v1/messages?limit=100").body;
        if (body["messages"].size() < 20) return false;
        for (const auto& m : body["messages"])
          if (m.value("payload", "") == "hello from a browser peer") browser = m.value("from", "");
        return true;
      },
      40s);
  if (client.wait_for(0s) == std::future_status::ready) {
    auto [rc, out] = client.get();
    if (rc == 77) GTEST_SKIP() << out;
    FAIL() << "the peer ended early (" << rc << "): " << out;
  }
  ASSERT_TRUE(arrived);
  ASSERT_EQ(inbox(p.b).size(), 20u);
  ASSERT_TRUE(browser.starts_with("12D3KooW")) << browser;
  // The node answers over the link the browser opened.
  auto r = p.b.api().request("POST", "/v1/messages", nlohmann::json{{"to", browser}, {"payload", "bye"}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  const auto bye = r.body["id"].get<std::string>();
  ASSERT_EQ(client.wait_for(40s), std::future_status::ready);
  auto [rc, out] = client.get();
  ASSERT_EQ(rc, 0) << out;
  const auto seen = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(seen["peerId"], browser);
  EXPECT_EQ(seen["remote"], p.b.peer_id());
  EXPECT_EQ(seen["acked"].size(), 20u) << out;
  ASSERT_EQ(seen["messages"].size(), 1u) << out;
  EXPECT_EQ(seen["messages"][0]["payload"], "bye");
  EXPECT_EQ(seen["messages"][0]["from"], p.b.peer_id());
  EXPECT_EQ(seen["messages"][0]["id"], bye);
  EXPECT_TRUE(seen["errors"].empty()) << out;  // no console errors in the page either
  if (chromium) EXPECT_NE(seen["userAgent"].get<std::string>().find("Chrome"), std::string::npos);
  EXPECT_TRUE(wait_until([&] { return message_status(p.b, bye)["status"] == "delivered"; }, 10s))
      << message_status(p.b, bye).dump();
}

INSTANTIATE_TEST_SUITE_P(NodeJsAndChromium, WebSocketBrowserPeer, ::testing::Values("nodejs", "chromium"),
                         [](const auto& info) { return info.param; });

// Two nodes in network namespaces where a firewall in front of the receiver lets only its wss://
// port through (an "HTTPS only" network): the TCP mesh dial is dropped, the WebSocket link comes up,
// and messages pick it without being told.
TEST(WebSocketNetns, OnlyHttpsPassesAndMessagesTakeTheWebSocket) {
  if (auto why = NetnsLine::unavailable_reason())
    GTEST_SKIP() << "network namespaces are not available: " << *why;
  if (NetnsLine::run("command -v nft").status != 0)
    GTEST_SKIP() << "nft is not installed (scripts/setup.sh installs nftables)";
  NetnsLine line(2);
  TempDir dir;
  const std::string a_host = line.address(0, line.interfaces(0).at(0)),
                    b_host = line.address(1, line.interfaces(1).at(0));
  const auto tcp_port = free_tcp_port(), ws_port_b = free_tcp_port();
  auto config = [&](const std::string& name, const std::string& host, std::uint16_t tcp, std::uint16_t ws) {
    const auto file = dir.path() / (name + ".yaml");
    std::ofstream(file) << "listen: \"" << host << ":" << tcp << "\"\n"
                        << "reconnect_min_ms: 50\nreconnect_max_ms: 500\nmdns: false\n"
                        << "transport:\n  tcp:\n    dial_timeout_ms: 1000\n"
                        << "  ws:\n    type: websocket\n    tls: true\n    listen: \"" << host << ":" << ws
                        << "\"\n";
    return file;
  };
  // The firewall: in b's namespace, new TCP connections from the network (not loopback: the API is
  // there) to anything but the wss:// port are dropped.
  const std::string nft = "ip netns exec " + line.ns(1) + " nft ";
  ASSERT_EQ(NetnsLine::run(nft + "add table inet fw").status, 0);
  ASSERT_EQ(
      NetnsLine::run(nft + "'add chain inet fw in { type filter hook input priority 0; policy accept; }'")
          .status,
      0);
  ASSERT_EQ(NetnsLine::run(nft + "add rule inet fw in iifname " + line.interfaces(1).at(0) +
                           " tcp dport != " + std::to_string(ws_port_b) + " ct state new drop")
                .status,
            0);
  LocalNode a{"a", hyphae_binary(), dir.path() / "a"}, b{"b", hyphae_binary(), dir.path() / "b"};
  a.set_netns(line.ns(0));
  a.set_config_file(config("a", a_host, free_tcp_port(), free_tcp_port()));
  a.set_listen_host("");
  b.set_netns(line.ns(1));
  b.set_config_file(config("b", b_host, tcp_port, ws_port_b));
  b.set_listen_host("");
  a.start();
  b.start();
  const std::string tcp_address = b_host + ":" + std::to_string(tcp_port);
  const std::string wss_address = "ws=wss://" + b_host + ":" + std::to_string(ws_port_b) + "/";
  ok(a.api().request("POST", "/v1/peers",
                     nlohmann::json{{"peer_id", b.peer_id()}, {"addresses", {tcp_address, wss_address}}}),
     201);
  ASSERT_TRUE(wait_until([&] { return session_transports(a).contains("ws"); }, 20s))
      << a.api().request("GET", "/v1/p2p/connections").body.dump();
  EXPECT_FALSE(session_transports(a).contains("tcp"));
  auto r = a.api().request("POST", "/v1/messages",
                           nlohmann::json{{"to", b.peer_id()}, {"payload", "through https"}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  const auto id = r.body["id"].get<std::string>();
  ASSERT_TRUE(wait_until([&] { return message_status(a, id)["status"] == "delivered"; }, 20s))
      << message_status(a, id).dump();
  EXPECT_EQ(message_status(a, id)["transport"], "ws");
  EXPECT_EQ(inbox(b)[id], "through https");
  EXPECT_TRUE(wait_until([&] { return transport_status(a, "tcp")["dials_failed"].get<int>() >= 1; }, 10s))
      << transport_status(a, "tcp").dump();
  EXPECT_FALSE(session_transports(a).contains("tcp"));
}

}  // namespace
}  // namespace hyphae::testing
