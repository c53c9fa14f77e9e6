// MessageId: a 128-bit identifier for an envelope, used for de-duplication and acks.
// generate() makes time-ordered ids: 48 bits of Unix milliseconds (big-endian) then 80 random bits,
// so ids from one node sort by creation time and the store's id indexes grow at their right edge
// instead of dirtying random B-tree pages (docs/store.md). 80 random bits keep ids unguessable and
// collision-free. Receivers treat ids as opaque 16 bytes: a peer may choose any id.
// Plain value type (no allocation). generate() is thread-safe (a per-thread buffer of libsodium
// randomness, refilled every 409 IDs and discarded in a forked child); everything else is pure.
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

  static MessageId generate();
  std::uint64_t timestamp_ms() const;  // the first 48 bits, as generate() writes them
  std::string to_hex() const;          // 32 lowercase hex digits
  // Exactly 32 hex digits (either case); Errc::malformed otherwise.
  static std::expected<MessageId, std::error_code> from_hex(std::string_view hex);
  bool is_zero() const;

  auto operator<=>(const MessageId&) const = default;
  bool operator==(const MessageId&) const = default;
};

}  // namespace hyphae

// Fast: the last 8 bytes (random in generated ids; the first ones are a timestamp). Not keyed; do
// not use where IDs are attacker-chosen and bucket flooding matters more than speed.
template <>
struct std::hash<hyphae::MessageId> {
  std::size_t operator()(const hyphae::MessageId& id) const noexcept {
    std::uint64_t v;
    std::memcpy(&v, id.bytes.data() + 8, sizeof v);
    return static_cast<std::size_t>(v);
  }
};
