// WebSocket peer addresses: "ws://host:port/path", "wss://host:port/path" (a v6 host in brackets),
// or the multiaddrs "/ip4/h/tcp/p/ws", "/ip4/h/tcp/p/wss" and "/ip4/h/tcp/p/tls/ws" (also /ip6/,
// /dns/, /dns4/, with an optional /p2p/ tail; path "/"). Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hyphae::ws {

struct WsAddress {
  std::string host;
  std::uint16_t port = 0;
  bool tls = false;
  std::string path = "/";
};

std::optional<WsAddress> parse_ws_address(std::string_view text);

// The multiaddr form ("/ip4/1.2.3.4/tcp/443/tls/ws"); the path is not part of it.
std::string ws_multiaddr(const WsAddress& address);

// A peer reachable over WebRTC through a signaling server: the server's ws:// multiaddr followed by
// /p2p-webrtc-star (libp2p's name for it), as in "/ip4/10.0.0.1/tcp/8471/ws/p2p-webrtc-star"; an
// optional /p2p/<id> may follow. The result names the signaling server.
std::optional<WsAddress> parse_webrtc_star_address(std::string_view text);
std::string webrtc_star_multiaddr(const WsAddress& server);

}  // namespace hyphae::ws
