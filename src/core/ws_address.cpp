#include "core/ws_address.hpp"

#include <cctype>
#include <charconv>
#include <vector>

namespace hyphae::ws {

namespace {

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() || value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_'))
      return false;
  return true;
}

bool valid_path(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > 256) return false;
  for (char c : path)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) return false;
  return true;
}

std::optional<WsAddress> parse_url(std::string_view text) {
  WsAddress out;
  if (text.starts_with("wss://")) {
    out.tls = true;
    text.remove_prefix(6);
  } else if (text.starts_with("ws://")) {
    text.remove_prefix(5);
  } else {
    return std::nullopt;
  }
  const auto slash = text.find('/');
  std::string_view authority = text.substr(0, slash);
  if (slash != std::string_view::npos) out.path = std::string(text.substr(slash));
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos || close + 1 >= authority.size() || authority[close + 1] != ':')
      return std::nullopt;
    out.host = std::string(authority.substr(1, close - 1));
    port_text = authority.substr(close + 2);
  } else {
    const auto colon = authority.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    out.host = std::string(authority.substr(0, colon));
    port_text = authority.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) return std::nullopt;  // a v6 host needs brackets
  }
  auto port = parse_port(port_text);
  if (!port || !valid_host(out.host) || !valid_path(out.path)) return std::nullopt;
  out.port = *port;
  return out;
}

std::optional<WsAddress> parse_multiaddr(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 1;
  while (start <= text.size()) {
    auto end = text.find('/', start);
    if (end == std::string_view::npos) end = text.size();
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
    if (parts.size() > 8) return std::nullopt;
  }
  if (parts.size() < 5) return std::nullopt;
  if (parts[0] != "ip4" && parts[0] != "ip6" && parts[0] != "dns" && parts[0] != "dns4" && parts[0] != "dns6")
    return std::nullopt;
  if (parts[2] != "tcp") return std::nullopt;
  WsAddress out;
  out.host = std::string(parts[1]);
  auto port = parse_port(parts[3]);
  if (!port || !valid_host(out.host)) return std::nullopt;
  out.port = *port;
  std::size_t next = 4;
  if (parts[next] == "ws") {
    next += 1;
  } else if (parts[next] == "wss") {
    out.tls = true;
    next += 1;
  } else if (parts[next] == "tls" && next + 1 < parts.size() && parts[next + 1] == "ws") {
    out.tls = true;
    next += 2;
  } else {
    return std::nullopt;
  }
  if (next == parts.size()) return out;
  if (next + 2 == parts.size() && parts[next] == "p2p" && !parts[next + 1].empty()) return out;
  return std::nullopt;
}

}  // namespace

std::optional<WsAddress> parse_ws_address(std::string_view text) {
  if (text.size() > 1024) return std::nullopt;
  if (text.starts_with('/')) return parse_multiaddr(text);
  return parse_url(text);
}

std::optional<WsAddress> parse_webrtc_star_address(std::string_view text) {
  if (text.size() > 1024 || !text.starts_with('/')) return std::nullopt;
  constexpr std::string_view kTail = "/p2p-webrtc-star";
  auto at = text.find(kTail);
  if (at == std::string_view::npos) return std::nullopt;
  const auto after = text.substr(at + kTail.size());
  if (!after.empty()) {  // only a /p2p/<id> may follow
    if (!after.starts_with("/p2p/") || after.size() == 5 || after.find('/', 5) != std::string_view::npos)
      return std::nullopt;
  }
  auto server = parse_multiaddr(text.substr(0, at));
  if (!server || server->tls) return std::nullopt;
  return server;
}

std::string webrtc_star_multiaddr(const WsAddress& server) {
  return ws_multiaddr(server) + "/p2p-webrtc-star";
}

std::string ws_multiaddr(const WsAddress& address) {
  const bool v4 = address.host.find_first_not_of("0123456789.") == std::string::npos;
  const bool v6 = address.host.find(':') != std::string::npos;
  return std::string(v4   ? "/ip4/"
                     : v6 ? "/ip6/"
                          : "/dns/") +
         address.host + "/tcp/" + std::to_string(address.port) + (address.tls ? "/tls/ws" : "/ws");
}

}  // namespace hyphae::ws
