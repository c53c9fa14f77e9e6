// Fuzz target: peer address parsing, as config files and the API hand it over: the
// "[transport=]address" split, parse_address ("host:port", "[v6]:port", "/ip4|ip6|dns4|dns/host/tcp/port
// [/p2p/<id>]") and, for a multiaddr's /p2p/ part, PeerId::from_string. Checks that an accepted
// address has a host and reformats to an address that parses to the same host and port; the same for
// WebSocket addresses (ws:// and wss:// URLs, /ws and /tls/ws multiaddrs) and their multiaddr form,
// and WebRTC ones (a signaling server's /ws multiaddr + /p2p-webrtc-star), which are never both.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/peer_id.hpp"
#include "core/ws_address.hpp"
#include "node/config.hpp"

namespace {

void check_address(const std::string& address) {
  std::string host;
  std::uint16_t port = 0;
  if (!hyphae::parse_address(address, host, port)) return;
  if (host.empty()) std::abort();
  std::string again;
  if (!address.empty() && address[0] == '/') {
    if (host.find('/') != std::string::npos) std::abort();
    const auto proto = address.substr(1, address.find('/', 1) - 1);
    again = "/" + proto + "/" + host + "/tcp/" + std::to_string(port);
    const auto p2p = address.find("/p2p/");
    if (p2p != std::string::npos) (void)hyphae::PeerId::from_string(address.substr(p2p + 5));
  } else {
    const bool bracket = host.find(':') != std::string::npos || host.front() == '/' || host.front() == '[';
    again = (bracket ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
  std::string host2;
  std::uint16_t port2 = 0;
  if (!hyphae::parse_address(again, host2, port2) || host2 != host || port2 != port) std::abort();
}

void check_ws_address(const std::string& address) {
  auto parsed = hyphae::ws::parse_ws_address(address);
  if (!parsed) return;
  if (parsed->host.empty() || parsed->port == 0 || parsed->path.empty() || parsed->path[0] != '/')
    std::abort();
  auto again = hyphae::ws::parse_ws_address(hyphae::ws::ws_multiaddr(*parsed));
  if (!again || again->host != parsed->host || again->port != parsed->port || again->tls != parsed->tls)
    std::abort();
}

void check_webrtc_address(const std::string& address) {
  auto parsed = hyphae::ws::parse_webrtc_star_address(address);
  if (!parsed) return;
  if (parsed->host.empty() || parsed->port == 0 || parsed->tls) std::abort();
  if (hyphae::ws::parse_ws_address(address)) std::abort();  // never both
  auto again = hyphae::ws::parse_webrtc_star_address(hyphae::ws::webrtc_star_multiaddr(*parsed));
  if (!again || again->host != parsed->host || again->port != parsed->port) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto split = hyphae::split_transport_address(text);
  if (split.transport.find('=') != std::string::npos) std::abort();
  if (split.transport.empty() && text.find('=') == 0 && split.address != text.substr(1)) std::abort();
  const std::string rejoined = split.transport.empty() && text.find('=') == std::string::npos
                                   ? split.address
                                   : split.transport + "=" + split.address;
  if (rejoined != text) std::abort();
  const bool valid = hyphae::valid_peer_address(text);
  std::string host;
  std::uint16_t port = 0;
  const bool ws = hyphae::ws::parse_ws_address(split.address).has_value();
  const bool webrtc = hyphae::ws::parse_webrtc_star_address(split.address).has_value();
  if (valid != (hyphae::parse_address(split.address, host, port) || ws || webrtc)) std::abort();
  if (ws && hyphae::parse_address(split.address, host, port)) std::abort();  // never both
  check_ws_address(text);
  check_ws_address(split.address);
  check_address(text);
  check_address(split.address);
  check_webrtc_address(text);
  check_webrtc_address(split.address);
  return 0;
}
