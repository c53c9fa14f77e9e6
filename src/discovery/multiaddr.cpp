// Multiaddr text and binary codecs (the multiformats multiaddr and multicodec tables).
#include "discovery/multiaddr.hpp"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <optional>
#include <vector>

#include "core/error.hpp"
#include "core/peer_id.hpp"

namespace hyphae::discovery {
namespace {

enum class Value { none, port, ip4, ip6, name, peer };

struct Protocol {
  std::uint64_t code;
  std::string_view name;
  Value value;
};

// Codes from the multicodec table.
constexpr std::array<Protocol, 19> kProtocols{{
    {0x04, "ip4", Value::ip4},
    {0x06, "tcp", Value::port},
    {0x29, "ip6", Value::ip6},
    {0x35, "dns", Value::name},
    {0x36, "dns4", Value::name},
    {0x37, "dns6", Value::name},
    {0x38, "dnsaddr", Value::name},
    {0x0111, "udp", Value::port},
    {0x0113, "p2p-webrtc-star", Value::none},
    {0x0118, "webrtc-direct", Value::none},
    {0x0119, "webrtc", Value::none},
    {0x0122, "p2p-circuit", Value::none},
    {0x01a5, "p2p", Value::peer},
    {0x01c0, "tls", Value::none},
    {0x01cc, "quic", Value::none},
    {0x01cd, "quic-v1", Value::none},
    {0x01d1, "webtransport", Value::none},
    {0x01dd, "ws", Value::none},
    {0x01de, "wss", Value::none},
}};

const Protocol* by_name(std::string_view name) {
  for (const auto& p : kProtocols)
    if (p.name == name) return &p;
  return nullptr;
}

const Protocol* by_code(std::uint64_t code) {
  for (const auto& p : kProtocols)
    if (p.code == code) return &p;
  return nullptr;
}

// The multiformats unsigned varint: minimal encoding only (each value has one spelling, so a
// multiaddr has one binary form).
bool get_minimal_uvarint(ByteView bytes, std::size_t& pos, std::uint64_t& value) {
  const auto start = pos;
  if (!get_uvarint(bytes, pos, value)) return false;
  // Minimal: a single byte, or a last byte that is not zero (it carries the value's top bits).
  return pos - start == 1 || bytes[pos - 1] != 0;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  for (char c : name)
    if (c == '/' || static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) == 0x7f)
      return false;
  return true;
}

}  // namespace

std::expected<Bytes, std::string> multiaddr_from_text(std::string_view text) {
  if (text.empty() || text.front() != '/') return std::unexpected("a multiaddr starts with '/'");
  std::vector<std::string_view> parts;
  for (std::size_t pos = 1; pos <= text.size();) {
    const auto slash = text.find('/', pos);
    const auto end = slash == std::string_view::npos ? text.size() : slash;
    parts.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  if (!parts.empty() && parts.back().empty()) parts.pop_back();  // a trailing '/'
  if (parts.empty()) return std::unexpected("an empty multiaddr");
  Bytes out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto* p = by_name(parts[i]);
    if (!p) return std::unexpected("unknown protocol '" + std::string(parts[i]) + "'");
    put_uvarint(out, p->code);
    if (p->value == Value::none) continue;
    if (++i >= parts.size()) return std::unexpected("'" + std::string(p->name) + "' needs a value");
    const auto value = parts[i];
    switch (p->value) {
      case Value::ip4: {
        std::array<std::uint8_t, 4> a{};
        if (inet_pton(AF_INET, std::string(value).c_str(), a.data()) != 1)
          return std::unexpected("'" + std::string(value) + "' is not an IPv4 address");
        out.insert(out.end(), a.begin(), a.end());
        break;
      }
      case Value::ip6: {
        std::array<std::uint8_t, 16> a{};
        if (inet_pton(AF_INET6, std::string(value).c_str(), a.data()) != 1)
          return std::unexpected("'" + std::string(value) + "' is not an IPv6 address");
        out.insert(out.end(), a.begin(), a.end());
        break;
      }
      case Value::port: {
        unsigned port = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), port);
        if (ec != std::errc() || end != value.data() + value.size() || port > 65535)
          return std::unexpected("'" + std::string(value) + "' is not a port (0 to 65535)");
        out.push_back(static_cast<std::uint8_t>(port >> 8));
        out.push_back(static_cast<std::uint8_t>(port));
        break;
      }
      case Value::name:
        if (!valid_name(value)) return std::unexpected("'" + std::string(value) + "' is not a host name");
        put_uvarint(out, value.size());
        out.insert(out.end(), value.begin(), value.end());
        break;
      case Value::peer: {
        auto peer = PeerId::from_string(value);
        if (!peer) return std::unexpected("'" + std::string(value) + "' is not a PeerId");
        put_uvarint(out, peer->bytes().size());
        out.insert(out.end(), peer->bytes().begin(), peer->bytes().end());
        break;
      }
      case Value::none:
        break;
    }
  }
  if (out.size() > kMaxMultiaddrBytes) return std::unexpected("the multiaddr is too long");
  return out;
}

std::expected<std::string, std::error_code> multiaddr_to_text(ByteView bytes) {
  const auto bad = [] { return std::unexpected(make_error_code(Errc::malformed)); };
  if (bytes.empty() || bytes.size() > kMaxMultiaddrBytes) return bad();
  std::string out;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::uint64_t code = 0;
    if (!get_minimal_uvarint(bytes, pos, code)) return bad();
    const auto* p = by_code(code);
    if (!p) return bad();
    out += '/';
    out += p->name;
    const auto need = [&](std::size_t n) { return bytes.size() - pos >= n; };
    switch (p->value) {
      case Value::none:
        break;
      case Value::ip4: {
        if (!need(4)) return bad();
        char text[INET_ADDRSTRLEN];
        if (!inet_ntop(AF_INET, bytes.data() + pos, text, sizeof text)) return bad();
        out += '/';
        out += text;
        pos += 4;
        break;
      }
      case Value::ip6: {
        if (!need(16)) return bad();
        char text[INET6_ADDRSTRLEN];
        if (!inet_ntop(AF_INET6, bytes.data() + pos, text, sizeof text)) return bad();
        out += '/';
        out += text;
        pos += 16;
        break;
      }
      case Value::port:
        if (!need(2)) return bad();
        out += '/' + std::to_string(bytes[pos] << 8 | bytes[pos + 1]);
        pos += 2;
        break;
      case Value::name:
      case Value::peer: {
        std::uint64_t len = 0;
        if (!get_minimal_uvarint(bytes, pos, len) || len > bytes.size() - pos) return bad();
        const auto value = bytes.subspan(pos, static_cast<std::size_t>(len));
        pos += static_cast<std::size_t>(len);
        if (p->value == Value::name) {
          std::string name(value.begin(), value.end());
          if (!valid_name(name)) return bad();
          out += '/' + name;
        } else {
          auto peer = PeerId::from_bytes(value);
          if (!peer) return bad();
          out += '/' + peer->to_string();
        }
        break;
      }
    }
  }
  return out;
}

}  // namespace hyphae::discovery
