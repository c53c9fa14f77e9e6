// Peer address parsing (see address.hpp).
#include "core/address.hpp"

#include <charconv>
#include <vector>

#include "core/ws_address.hpp"

namespace hyphae {

bool parse_address(const std::string& address, std::string& host, std::uint16_t& port) {
  std::string port_text;
  if (!address.empty() && address[0] == '/') {
    // /ip4/127.0.0.1/tcp/4001[/p2p/...]
    std::vector<std::string> parts;
    std::size_t start = 1;
    while (start <= address.size()) {
      auto end = address.find('/', start);
      if (end == std::string::npos) end = address.size();
      parts.push_back(address.substr(start, end - start));
      start = end + 1;
    }
    if (parts.size() < 4 ||
        (parts[0] != "ip4" && parts[0] != "ip6" && parts[0] != "dns4" && parts[0] != "dns") ||
        parts[2] != "tcp")
      return false;
    // A plain TCP address: nothing after the port but the PeerId (".../ws" is a WebSocket address).
    if (parts.size() != 4 && !(parts.size() == 6 && parts[4] == "p2p")) return false;
    host = parts[1];
    port_text = parts[3];
  } else {
    auto colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    host = address.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.find('/') != std::string::npos) return false;  // "ws://h:1" is a WebSocket URL, not host:port
    port_text = address.substr(colon + 1);
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || value > 65535 || host.empty())
    return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

TransportAddress split_transport_address(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos) return {"", text};
  return {text.substr(0, eq), text.substr(eq + 1)};
}

bool valid_peer_address(const std::string& text) {
  std::string host;
  std::uint16_t port = 0;
  const auto address = split_transport_address(text).address;
  return parse_address(address, host, port) || ws::parse_ws_address(address).has_value() ||
         ws::parse_webrtc_star_address(address).has_value();
}

}  // namespace hyphae
