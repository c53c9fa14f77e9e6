// The Data Channel Establishment Protocol (RFC 8832), sans-IO: DATA_CHANNEL_OPEN and
// DATA_CHANNEL_ACK as they travel on an SCTP stream with PPID 50, and the PPIDs of the messages
// that follow (RFC 8831 §8). All integers big-endian.
// Thread-safety: pure functions. Ownership: values.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <system_error>
#include <variant>

#include "core/bytes.hpp"

namespace hyphae::webrtc {

// SCTP payload protocol identifiers (RFC 8831 §8).
namespace ppid {
inline constexpr std::uint32_t dcep = 50;
inline constexpr std::uint32_t string = 51;
inline constexpr std::uint32_t binary = 53;
inline constexpr std::uint32_t string_empty = 56;  // one 0x00 byte stands for ""
inline constexpr std::uint32_t binary_empty = 57;
}  // namespace ppid

inline constexpr std::uint8_t kDcepOpen = 0x03;
inline constexpr std::uint8_t kDcepAck = 0x02;
// Label and protocol are each at most 65535 bytes by the format; we take less from a stranger.
inline constexpr std::size_t kMaxDcepLabelBytes = 1024;

// The channel type byte: reliability in the low bits, 0x80 for unordered.
enum class Reliability : std::uint8_t {
  reliable = 0x00,
  partial_rexmit = 0x01,  // reliability_parameter = max retransmissions
  partial_timed = 0x02,   // reliability_parameter = lifetime in milliseconds
};

struct DcepOpen {
  Reliability reliability = Reliability::reliable;
  bool ordered = true;
  std::uint16_t priority = 256;  // RFC 8831 §6.4 "normal"
  std::uint32_t reliability_parameter = 0;
  std::string label;
  std::string protocol;
  friend bool operator==(const DcepOpen&, const DcepOpen&) = default;
};

struct DcepAck {
  friend bool operator==(const DcepAck&, const DcepAck&) = default;
};

using DcepMessage = std::variant<DcepOpen, DcepAck>;

// Errc::invalid_argument when label or protocol is over 65535 bytes.
std::expected<Bytes, std::error_code> encode_dcep_open(const DcepOpen& open);
Bytes encode_dcep_ack();

// Errc::truncated: shorter than its header or its declared strings. Errc::malformed: an unknown
// message type, an unknown channel type, or bytes after the message. Errc::too_large: label or
// protocol over kMaxDcepLabelBytes.
std::expected<DcepMessage, std::error_code> decode_dcep(ByteView bytes);

}  // namespace hyphae::webrtc
