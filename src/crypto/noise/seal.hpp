// One-way sealed messages: a single Noise_X_25519_ChaChaPoly_SHA256 handshake message addressed
// to a recipient's static X25519 key and authenticated by the sender's static key (the sender's
// public key travels encrypted inside). Sans-IO free functions; stateless and thread-safe.
// Caveats of pattern X: no replay protection (bind freshness into the prologue or payload), and
// a compromised recipient key decrypts every message ever sealed to it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <system_error>

#include "core/bytes.hpp"
#include "crypto/noise/handshake_state.hpp"

namespace hyphae::noise {

// e (32) + encrypted s (32 + 16) + payload tag (16).
inline constexpr std::size_t kSealOverhead = 96;
inline constexpr std::size_t kMaxSealPlaintext = kMaxMessageLen - kSealOverhead;

// Errc::too_large if plaintext.size() > kMaxSealPlaintext; Errc::invalid_argument if
// recipient_pub is a low-order point (all-zero DH output).
std::expected<Bytes, std::error_code> seal(const KeyPair& sender_static,
                                           const std::array<std::uint8_t, 32>& recipient_pub,
                                           ByteView prologue, ByteView plaintext);

struct Opened {
  std::array<std::uint8_t, 32> sender_pub;
  Bytes plaintext;
};
// The prologue must equal the sealer's. Errc::bad_seal on any failure.
std::expected<Opened, std::error_code> open(const KeyPair& recipient_static, ByteView prologue,
                                            ByteView sealed);

}  // namespace hyphae::noise
