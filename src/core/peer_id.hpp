// PeerId: a libp2p peer identity, i.e. the multihash of a protobuf-encoded public key.
// Hyphae keys are Ed25519: identity multihash 00 24 || PublicKey{Type=Ed25519(1), Data=32 bytes}
// (38 bytes, "12D3KooW..." in base58btc). sha2-256 multihashes (12 20 ...) of other key types are
// accepted as opaque IDs but yield no public key.
// Value type with inline storage (no heap allocation); immutable once built; safe to share const
// across threads. Also: the canonical protobuf PublicKey helpers for Ed25519 keys.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>

#include "core/bytes.hpp"

namespace hyphae {

// Canonical libp2p PublicKey protobuf for an Ed25519 key: 08 01 12 20 || pub (36 bytes).
inline constexpr std::size_t kEd25519PublicKeyProtobufSize = 36;
Bytes encode_ed25519_public_key_protobuf(const std::array<std::uint8_t, 32>& pub);
// Accepts only the canonical encoding above (exact length, field order, minimal varints).
// Errc::unsupported if it is a well-formed key of another type, Errc::malformed otherwise.
std::expected<std::array<std::uint8_t, 32>, std::error_code> decode_ed25519_public_key_protobuf(ByteView pb);

class PeerId {
 public:
  // Longest multihash a PeerId holds (identity multihashes are at most 2 + 42 bytes).
  static constexpr std::size_t kMaxSize = 64;

  PeerId() = default;  // empty
  static PeerId from_ed25519(const std::array<std::uint8_t, 32>& pub);
  // Validates: identity multihash of a canonical Ed25519 PublicKey protobuf, or a sha2-256 multihash.
  // Errc::unsupported for an identity multihash of another key type, malformed otherwise.
  static std::expected<PeerId, std::error_code> from_bytes(ByteView multihash);
  // base58btc multihash ("12D3KooW...", "Qm...") or a CIDv1 libp2p-key in base32 ("bafz...").
  static std::expected<PeerId, std::error_code> from_string(std::string_view text);

  std::string to_string() const;  // base58btc; empty string for an empty PeerId
  ByteView bytes() const { return {buf_.data(), len_}; }
  bool empty() const { return len_ == 0; }
  bool is_ed25519() const;
  // Errc::invalid_argument when empty, Errc::unsupported for a sha2-256 PeerId.
  std::expected<std::array<std::uint8_t, 32>, std::error_code> ed25519_public_key() const;

  auto operator<=>(const PeerId&) const = default;
  bool operator==(const PeerId&) const = default;

 private:
  std::array<std::uint8_t, kMaxSize> buf_{};  // bytes past len_ are always zero
  std::uint8_t len_ = 0;
};

// Hash used by std::hash<PeerId>: mixes every byte with a per-process random seed, so remote peers
// cannot grind keys into one hash bucket.
std::size_t hash_value(const PeerId& id) noexcept;

}  // namespace hyphae

template <>
struct std::hash<hyphae::PeerId> {
  std::size_t operator()(const hyphae::PeerId& id) const noexcept { return hyphae::hash_value(id); }
};
