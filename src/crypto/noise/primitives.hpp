// Internal crypto primitives of the Noise implementation (section 4 of the spec): X25519 DH,
// SHA-256 / BLAKE2b-512 hashing, HMAC (RFC 2104) and Noise's HKDF, all on fixed-size stack
// buffers (no heap). Stateless free functions plus a stack-only streaming Hasher; thread-safe.
// Not part of the public API: include crypto/noise/noise.hpp instead.
#pragma once

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"
#include "crypto/noise/protocol.hpp"

namespace hyphae::noise::detail {

inline constexpr std::size_t kDhLen = 32;
inline constexpr std::size_t kKeyLen = 32;
inline constexpr std::size_t kTagLen = 16;
inline constexpr std::size_t kMaxHashLen = 64;

using Digest = std::array<std::uint8_t, kMaxHashLen>;  // first hash_len(kind) bytes are meaningful

// Calls sodium_init() exactly once (function-local static); aborts if libsodium cannot start.
void ensure_sodium();
bool aesgcm_available();

constexpr std::size_t hash_len(HashKind h) {
  return h == HashKind::BLAKE2b ? 64 : 32;
}
constexpr std::size_t block_len(HashKind h) {
  return h == HashKind::BLAKE2b ? 128 : 64;
}

// Streaming HASH(): SHA-256 or unkeyed BLAKE2b with a 64-byte output.
class Hasher {
 public:
  explicit Hasher(HashKind kind);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void update(ByteView data);
  void final(std::uint8_t* out);  // writes hash_len(kind) bytes

 private:
  HashKind kind_;
  union {
    crypto_hash_sha256_state sha;
    crypto_generichash_state blake;
  } st_;
};

// HMAC-HASH(key, data) per RFC 2104; out gets hash_len(kind) bytes.
void hmac(HashKind kind, ByteView key, ByteView data, std::uint8_t* out);
// Noise HKDF(chaining_key, ikm, n) for n = 2 or 3; out3 may be null when n = 2.
void hkdf(HashKind kind, ByteView chaining_key, ByteView ikm, std::uint8_t* out1, std::uint8_t* out2,
          std::uint8_t* out3);

// X25519. Returns false when libsodium rejects the result (all-zero shared secret).
bool dh(const std::array<std::uint8_t, 32>& priv, const std::array<std::uint8_t, 32>& pub,
        std::array<std::uint8_t, 32>& out);

}  // namespace hyphae::noise::detail
