// Socket.IO v4 packets over Engine.IO v4, as text WebSocket frames (the signaling server's browser
// front end), without I/O:
//   Engine.IO: one packet per frame, a type digit then its data: 0 open, 1 close, 2 ping, 3 pong,
//              4 message, 5 upgrade, 6 noop.
//   Socket.IO (inside a 4 message): <type>[<attachments>-][<namespace>,][<ack id>][JSON]; types 0
//              CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5 BINARY_EVENT, 6 BINARY_ACK.
// Thread-safety: pure functions. Ownership: values (a parsed packet may view the input).
#pragma once

#include <cstdint>
#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace hyphae::signaling {

struct EnginePacket {
  char type;              // '0' .. '6'
  std::string_view data;  // the rest of the frame
};
// Errc::malformed: empty, or not a known type digit.
std::expected<EnginePacket, std::error_code> parse_engine_packet(std::string_view frame);

struct SocketIoPacket {
  int type = 0;                   // 0 .. 6
  std::uint32_t attachments = 0;  // binary frames that follow (binary types)
  std::string nsp = "/";
  std::optional<std::uint64_t> ack_id;
  nlohmann::json data;  // null when absent
  friend bool operator==(const SocketIoPacket&, const SocketIoPacket&) = default;
};
// The packet inside an Engine.IO message. Errc::malformed: a bad type, attachment count, ack id or
// JSON; data of the wrong shape for the type (CONNECT: an object or none; DISCONNECT: none;
// EVENT: a non-empty array starting with a string; ACK: an array; CONNECT_ERROR: an object or a
// string); more than 1 MiB. (A number or other bare value would run into the ack id's digits.)
std::expected<SocketIoPacket, std::error_code> parse_socket_io_packet(std::string_view text);
// The Engine.IO message frame ("4" + packet) for a Socket.IO packet.
std::string encode_socket_io_frame(const SocketIoPacket& packet);

}  // namespace hyphae::signaling
