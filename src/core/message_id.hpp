// MessageId: a 128-bit random identifier for an envelope, used for de-duplication and acks.
// Plain value type (no allocation). MessageId::random() is thread-safe (a per-thread buffer of
// libsodium randomness, refilled every 256 IDs and discarded in a forked child); everything else
// is pure.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <expected>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>

namespace hyphae {

struct MessageId {
  std::array<std::uint8_t, 16> bytes{};

  static MessageId random();
  std::string to_hex() const;  // 32 lowercase hex digits
  // Exactly 32 hex digits (either case); Errc::malformed otherwise.
  static std::expected<MessageId, std::error_code> from_hex(std::string_view hex);
  bool is_zero() const;

  auto operator<=>(const MessageId&) const = default;
  bool operator==(const MessageId&) const = default;
};

}  // namespace hyphae

// Fast: the first 8 bytes (IDs are random). Not keyed; do not use where IDs are attacker-chosen
// and bucket flooding matters more than speed.
template <>
struct std::hash<hyphae::MessageId> {
  std::size_t operator()(const hyphae::MessageId& id) const noexcept {
    std::uint64_t v;
    std::memcpy(&v, id.bytes.data(), sizeof v);
    return static_cast<std::size_t>(v);
  }
};
