// Socket.IO / Engine.IO packet parsing and encoding.
#include "signaling/socket_io.hpp"

#include <charconv>

#include "core/error.hpp"

namespace hyphae::signaling {

namespace {
auto malformed() {
  return std::unexpected(make_error_code(Errc::malformed));
}
bool digit(char c) {
  return c >= '0' && c <= '9';
}
}  // namespace

std::expected<EnginePacket, std::error_code> parse_engine_packet(std::string_view frame) {
  if (frame.empty() || frame[0] < '0' || frame[0] > '6') return malformed();
  return EnginePacket{frame[0], frame.substr(1)};
}

std::expected<SocketIoPacket, std::error_code> parse_socket_io_packet(std::string_view text) {
  if (text.empty() || text.size() > (1u << 20) || text[0] < '0' || text[0] > '6') return malformed();
  SocketIoPacket p;
  p.type = text[0] - '0';
  std::string_view rest = text.substr(1);
  if (p.type == 5 || p.type == 6) {  // <count>-
    const auto dash = rest.find('-');
    if (dash == std::string_view::npos || dash == 0 || dash > 6) return malformed();
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + dash, p.attachments);
    if (ec != std::errc{} || end != rest.data() + dash) return malformed();
    rest.remove_prefix(dash + 1);
  }
  if (!rest.empty() && rest[0] == '/') {  // namespace, up to ','
    const auto comma = rest.find(',');
    if (comma == std::string_view::npos) {
      p.nsp = std::string(rest);
      rest = {};
    } else {
      p.nsp = std::string(rest.substr(0, comma));
      rest.remove_prefix(comma + 1);
    }
  }
  std::size_t digits = 0;
  while (digits < rest.size() && digit(rest[digits])) ++digits;
  if (digits) {
    if (digits > 19) return malformed();
    std::uint64_t id = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + digits, id);
    if (ec != std::errc{}) return malformed();
    p.ack_id = id;
    rest.remove_prefix(digits);
  }
  if (!rest.empty()) {
    p.data = nlohmann::json::parse(rest, nullptr, false);
    if (p.data.is_discarded()) return malformed();
  }
  const bool event = p.type == 2 || p.type == 5;
  if (event && !(p.data.is_array() && !p.data.empty() && p.data[0].is_string())) return malformed();
  if ((p.type == 3 || p.type == 6) && (!p.data.is_array() || !p.ack_id)) return malformed();
  if (p.type == 0 && !p.data.is_null() && !p.data.is_object()) return malformed();
  if (p.type == 1 && !p.data.is_null()) return malformed();
  if (p.type == 4 && !p.data.is_object() && !p.data.is_string()) return malformed();
  return p;
}

std::string encode_socket_io_frame(const SocketIoPacket& packet) {
  std::string out = "4";
  out += static_cast<char>('0' + packet.type);
  if (packet.type == 5 || packet.type == 6) out += std::to_string(packet.attachments) + "-";
  if (packet.nsp != "/") out += packet.nsp + ",";
  if (packet.ack_id) out += std::to_string(*packet.ack_id);
  if (!packet.data.is_null()) out += packet.data.dump();
  return out;
}

}  // namespace hyphae::signaling
