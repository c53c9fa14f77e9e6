#include "webrtc/dcep.hpp"

#include "core/error.hpp"

namespace hyphae::webrtc {

namespace {
constexpr std::size_t kOpenHeaderBytes = 12;  // type, channel type, priority, reliability, 2 lengths
}

std::expected<Bytes, std::error_code> encode_dcep_open(const DcepOpen& open) {
  if (open.label.size() > 0xffff || open.protocol.size() > 0xffff)
    return std::unexpected(make_error_code(Errc::invalid_argument));
  Bytes out;
  out.reserve(kOpenHeaderBytes + open.label.size() + open.protocol.size());
  out.push_back(kDcepOpen);
  out.push_back(
      static_cast<std::uint8_t>(static_cast<std::uint8_t>(open.reliability) | (open.ordered ? 0 : 0x80)));
  put_u16be(out, open.priority);
  put_u32be(out, open.reliability == Reliability::reliable ? 0 : open.reliability_parameter);
  put_u16be(out, static_cast<std::uint16_t>(open.label.size()));
  put_u16be(out, static_cast<std::uint16_t>(open.protocol.size()));
  append(out, as_bytes(open.label));
  append(out, as_bytes(open.protocol));
  return out;
}

Bytes encode_dcep_ack() {
  return Bytes{kDcepAck};
}

std::expected<DcepMessage, std::error_code> decode_dcep(ByteView bytes) {
  if (bytes.empty()) return std::unexpected(make_error_code(Errc::truncated));
  if (bytes[0] == kDcepAck) {
    // RFC 8832 §5.2: the ACK is the type byte alone.
    if (bytes.size() != 1) return std::unexpected(make_error_code(Errc::malformed));
    return DcepAck{};
  }
  if (bytes[0] != kDcepOpen) return std::unexpected(make_error_code(Errc::malformed));
  if (bytes.size() < kOpenHeaderBytes) return std::unexpected(make_error_code(Errc::truncated));

  DcepOpen open;
  const std::uint8_t type = bytes[1];
  const std::uint8_t base = type & 0x7f;
  if (base > static_cast<std::uint8_t>(Reliability::partial_timed))
    return std::unexpected(make_error_code(Errc::malformed));
  open.reliability = static_cast<Reliability>(base);
  open.ordered = (type & 0x80) == 0;
  open.priority = get_u16be(bytes.data() + 2);
  // RFC 8832 §5.1: for a reliable channel the sender sets it to 0 and the receiver ignores it.
  open.reliability_parameter = open.reliability == Reliability::reliable ? 0 : get_u32be(bytes.data() + 4);
  const std::size_t label_len = get_u16be(bytes.data() + 8);
  const std::size_t protocol_len = get_u16be(bytes.data() + 10);
  if (label_len > kMaxDcepLabelBytes || protocol_len > kMaxDcepLabelBytes)
    return std::unexpected(make_error_code(Errc::too_large));
  const std::size_t total = kOpenHeaderBytes + label_len + protocol_len;
  if (bytes.size() < total) return std::unexpected(make_error_code(Errc::truncated));
  if (bytes.size() > total) return std::unexpected(make_error_code(Errc::malformed));
  open.label = to_string(bytes.subspan(kOpenHeaderBytes, label_len));
  open.protocol = to_string(bytes.subspan(kOpenHeaderBytes + label_len, protocol_len));
  return open;
}

}  // namespace hyphae::webrtc
