// WebSocket addresses (URL and multiaddr forms), how plain TCP addresses stay apart from them, and
// the self-signed certificates the wss:// listener and DTLS use.
#include "core/ws_address.hpp"

#include <gtest/gtest.h>

#include "core/address.hpp"
#include "net/self_signed_cert.hpp"

namespace hyphae {
namespace {

TEST(WsAddress, ParsesUrlsAndMultiaddrs) {
  auto a = ws::parse_ws_address("wss://example.org:443/hyphae");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "example.org");
  EXPECT_EQ(a->port, 443);
  EXPECT_TRUE(a->tls);
  EXPECT_EQ(a->path, "/hyphae");
  auto b = ws::parse_ws_address("ws://[::1]:8080");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_FALSE(b->tls);
  EXPECT_EQ(b->path, "/");
  auto c = ws::parse_ws_address("/ip4/10.0.0.1/tcp/4001/tls/ws/p2p/12D3KooWabc");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->tls);
  EXPECT_EQ(c->port, 4001);
  EXPECT_EQ(ws::ws_multiaddr(*c), "/ip4/10.0.0.1/tcp/4001/tls/ws");
  EXPECT_TRUE(ws::parse_ws_address("/dns/example.org/tcp/80/ws"));
  EXPECT_TRUE(ws::parse_ws_address("/ip6/::1/tcp/80/wss"));
}

TEST(WsAddress, RejectsWhatIsNotOne) {
  for (const char* bad :
       {"", "ws://", "ws://host", "ws://host:0/", "ws://host:70000/", "ws://::1:80/", "ws://host:80/a b",
        "http://host:80/", "/ip4/1.2.3.4/tcp/80", "/ip4/1.2.3.4/tcp/80/ws/x", "/ip4/1.2.3.4/udp/80/ws",
        "/ip4/1.2.3.4/tcp/80/tls", "/ip4/1.2.3.4/tcp/80/ws/p2p/", "ws://bad host:80/"})
    EXPECT_FALSE(ws::parse_ws_address(bad)) << bad;
  EXPECT_FALSE(ws::parse_ws_address("ws://h:1/" + std::string(2000, 'a')));
}

TEST(WsAddress, PlainTcpAddressesDoNotTakeWebSocketOnes) {
  std::string host;
  std::uint16_t port = 0;
  EXPECT_TRUE(parse_address("/ip4/1.2.3.4/tcp/80", host, port));
  EXPECT_TRUE(parse_address("/ip4/1.2.3.4/tcp/80/p2p/12D3KooWabc", host, port));
  EXPECT_FALSE(parse_address("/ip4/1.2.3.4/tcp/80/ws", host, port));
  EXPECT_FALSE(parse_address("/ip4/1.2.3.4/tcp/80/tls/ws", host, port));
  EXPECT_TRUE(valid_peer_address("ws=wss://1.2.3.4:443/"));
  EXPECT_TRUE(valid_peer_address("/ip4/1.2.3.4/tcp/80/ws"));
  EXPECT_FALSE(valid_peer_address("ftp://1.2.3.4:21/"));
}

TEST(WebRtcStarAddress, NamesTheSignalingServerAndIsNeverAWebSocketOrTcpAddress) {
  auto a = ws::parse_webrtc_star_address("/ip4/10.0.0.1/tcp/8471/ws/p2p-webrtc-star");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "10.0.0.1");
  EXPECT_EQ(a->port, 8471);
  EXPECT_FALSE(a->tls);
  auto named = ws::parse_webrtc_star_address(
      "/dns4/signal.example/tcp/80/ws/p2p-webrtc-star/p2p/"
      "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->host, "signal.example");
  EXPECT_EQ(ws::webrtc_star_multiaddr(*a), "/ip4/10.0.0.1/tcp/8471/ws/p2p-webrtc-star");
  EXPECT_FALSE(ws::parse_webrtc_star_address("/ip4/10.0.0.1/tcp/8471/ws"));
  EXPECT_FALSE(ws::parse_webrtc_star_address("/ip4/10.0.0.1/tcp/8471/wss/p2p-webrtc-star"));  // ws:// only
  EXPECT_FALSE(ws::parse_webrtc_star_address("/ip4/10.0.0.1/tcp/8471/p2p-webrtc-star"));
  EXPECT_FALSE(ws::parse_webrtc_star_address("/ip4/10.0.0.1/tcp/8471/ws/p2p-webrtc-star/ws"));
  EXPECT_FALSE(ws::parse_webrtc_star_address("/ip4/10.0.0.1/tcp/8471/ws/p2p-webrtc-star/p2p/"));
  EXPECT_FALSE(ws::parse_ws_address("/ip4/10.0.0.1/tcp/8471/ws/p2p-webrtc-star"));
  std::string host;
  std::uint16_t port = 0;
  EXPECT_FALSE(parse_address("/ip4/10.0.0.1/tcp/8471/ws/p2p-webrtc-star", host, port));
  EXPECT_TRUE(valid_peer_address("/ip4/10.0.0.1/tcp/8471/ws/p2p-webrtc-star"));
  EXPECT_TRUE(valid_peer_address("rtc=/ip4/10.0.0.1/tcp/8471/ws/p2p-webrtc-star"));
}

TEST(SelfSignedCert, MakesAFreshCertificateWithAStableFingerprint) {
  auto one = net::make_self_signed_cert("hyphae");
  auto two = net::make_self_signed_cert("hyphae");
  ASSERT_TRUE(one) << one.error();
  ASSERT_TRUE(two) << two.error();
  EXPECT_NE(one->cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(one->key_pem.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(one->fingerprint_sha256.size(), 32u * 3 - 1);  // "AB:CD:..."
  EXPECT_NE(one->fingerprint_sha256, two->fingerprint_sha256);
  auto again = net::certificate_fingerprint(one->cert_pem);
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(*again, one->fingerprint_sha256);
  EXPECT_FALSE(net::certificate_fingerprint("not a certificate"));
}

}  // namespace
}  // namespace hyphae
