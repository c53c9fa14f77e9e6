// Relay message codec (see the header).
#include "relay/relay_messages.hpp"

#include "core/error.hpp"
#include "util/protobuf.hpp"

namespace hyphae::relay {

std::string_view to_string(RelayStatus status) noexcept {
  switch (status) {
    case RelayStatus::ok:
      return "ok";
    case RelayStatus::not_a_relay:
      return "this node does not relay";
    case RelayStatus::reservation_limit:
      return "reservation limit reached";
    case RelayStatus::no_reservation:
      return "the target has no reservation";
    case RelayStatus::not_connected:
      return "the target is not connected to the relay";
    case RelayStatus::circuit_limit:
      return "circuit limit reached";
    case RelayStatus::data_limit:
      return "the circuit's data limit was reached";
    case RelayStatus::duration_limit:
      return "the circuit's time limit was reached";
    case RelayStatus::refused_by_target:
      return "the target refused the circuit";
    case RelayStatus::timeout:
      return "the target did not answer";
    case RelayStatus::closed_by_peer:
      return "closed by the other end";
    case RelayStatus::link_lost:
      return "a link under the circuit went down";
    case RelayStatus::malformed:
      return "malformed relay message";
    case RelayStatus::storage_full:
      return "the relay's held-message quota is full";
    case RelayStatus::bad_envelope:
      return "not a signed, sealed envelope for a peer of this relay";
    case RelayStatus::rate_limited:
      return "too many requests";
  }
  return "unknown status";
}

namespace {

bool known_type(std::uint8_t t) {
  return (t >= 1 && t <= 6) || (t >= 16 && t <= 22);
}

bool carries_data(RelayType t) {
  return t == RelayType::data || t == RelayType::relayed || t == RelayType::store ||
         t == RelayType::store_result;
}

bool names_circuit(RelayType t) {
  using T = RelayType;
  return t == T::connect || t == T::accept || t == T::data || t == T::close || t == T::incoming ||
         t == T::connected || t == T::relayed || t == T::closed;
}

}  // namespace

Bytes encode_relay_message(const RelayMessage& m) {
  Bytes out;
  out.reserve(16 + m.data.size() + m.reason.size());
  out.push_back(static_cast<std::uint8_t>(m.type));
  if (m.circuit || names_circuit(m.type)) protobuf::put_varint_field(out, 1, m.circuit);
  if (m.peer) protobuf::put_bytes_field(out, 2, m.peer->bytes());
  if (!m.data.empty() || carries_data(m.type)) protobuf::put_bytes_field(out, 3, m.data);
  if (m.status != RelayStatus::ok) protobuf::put_varint_field(out, 4, static_cast<std::uint32_t>(m.status));
  if (!m.reason.empty())
    protobuf::put_bytes_field(out, 5,
                              ByteView(reinterpret_cast<const std::uint8_t*>(m.reason.data()),
                                       std::min(m.reason.size(), kMaxReasonBytes)));
  if (m.ttl_ms) protobuf::put_varint_field(out, 6, m.ttl_ms);
  if (m.max_bytes) protobuf::put_varint_field(out, 7, m.max_bytes);
  if (m.max_duration_ms) protobuf::put_varint_field(out, 8, m.max_duration_ms);
  if (m.max_circuits) protobuf::put_varint_field(out, 9, m.max_circuits);
  if (!m.observed.empty() && m.observed.size() <= kMaxReasonBytes)
    protobuf::put_bytes_field(out, 10, as_bytes(m.observed));
  return out;
}

void encode_relay_data(Bytes& out, RelayType type, std::uint64_t circuit, ByteView data) {
  out.clear();
  out.reserve(data.size() + 16);
  out.push_back(static_cast<std::uint8_t>(type));
  protobuf::put_varint_field(out, 1, circuit);
  protobuf::put_bytes_field(out, 3, data);
}

std::expected<RelayMessage, std::error_code> decode_relay_message(ByteView bytes,
                                                                  std::size_t max_store_bytes) {
  const auto malformed = [] { return std::unexpected(make_error_code(Errc::malformed)); };
  if (bytes.empty() || !known_type(bytes[0])) return malformed();
  RelayMessage m;
  m.type = static_cast<RelayType>(bytes[0]);
  bool has_circuit = false, has_data = false;
  protobuf::Field f;
  for (std::size_t pos = 1; pos < bytes.size();) {
    if (!protobuf::next_field(bytes, pos, f)) return malformed();
    const bool varint = f.wire_type == protobuf::kVarint;
    const bool length = f.wire_type == protobuf::kLengthDelimited;
    switch (f.number) {
      case 1:
        if (!varint) return malformed();
        m.circuit = f.varint;
        has_circuit = true;
        break;
      case 2: {
        if (!length) return malformed();
        auto peer = PeerId::from_bytes(f.bytes);
        if (!peer) return malformed();
        m.peer = *peer;
        break;
      }
      case 3:
        if (!length) return malformed();
        m.data = f.bytes;
        has_data = true;
        break;
      case 4:
        if (!varint || f.varint > 0xffff) return malformed();
        m.status = static_cast<RelayStatus>(f.varint);
        break;
      case 5:
        if (!length || f.bytes.size() > kMaxReasonBytes) return malformed();
        m.reason.assign(reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size());
        break;
      case 6:
      case 7:
      case 8:
      case 9:
        if (!varint) return malformed();
        (f.number == 6   ? m.ttl_ms
         : f.number == 7 ? m.max_bytes
         : f.number == 8 ? m.max_duration_ms
                         : m.max_circuits) = f.varint;
        break;
      case 10:
        if (!length || f.bytes.size() > kMaxReasonBytes) return malformed();
        m.observed.assign(reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size());
        break;
      default:
        break;  // unknown fields are skipped (a newer peer may add some)
    }
  }
  using T = RelayType;
  switch (m.type) {
    case T::connect:
    case T::incoming:
      if (!m.peer || !has_circuit) return malformed();
      break;
    case T::accept:
    case T::close:
    case T::connected:
    case T::closed:
      if (!has_circuit) return malformed();
      break;
    case T::data:
    case T::relayed:
      if (!has_circuit || !has_data) return malformed();
      break;
    case T::store:
      if (!has_data || m.data.empty()) return malformed();
      break;
    case T::store_result:
      if (m.data.size() != 16) return malformed();
      break;
    default:
      break;
  }
  const std::size_t max_data = m.type == T::store ? max_store_bytes : kMaxRelayData;
  if (m.data.size() > max_data) return malformed();
  return m;
}

}  // namespace hyphae::relay
