// HKDF with HMAC-SHA256 (RFC 5869): extract a pseudorandom key from input keying material and a
// salt, expand it into as many bytes as needed (at most 255 * 32) bound to an `info` string.
// libsodium 1.0.18 has no HKDF; this is the RFC's two steps on crypto_auth_hmacsha256.
// Thread-safety: stateless. Ownership: values.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "core/bytes.hpp"

namespace hyphae::hkdf {

using Prk = std::array<std::uint8_t, 32>;

// An empty salt means 32 zero bytes, as the RFC says.
Prk extract(ByteView salt, ByteView ikm);
// Fills `out` (at most 8160 bytes; more is a programming error).
void expand(const Prk& prk, ByteView info, std::span<std::uint8_t> out);
// extract + expand.
void derive(ByteView salt, ByteView ikm, ByteView info, std::span<std::uint8_t> out);

}  // namespace hyphae::hkdf
