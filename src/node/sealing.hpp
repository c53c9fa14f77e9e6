// Payload sealing for store-and-forward: a payload for a peer that is not connected is encrypted
// to the recipient's X25519 key (derived from its PeerId) and authenticated by the sender's key.
// Layout: Noise_X seal of a fresh 32-byte content key (128 bytes) || ChaCha20-Poly1305 of the payload
// under that key (nonce 0, the sealed key as associated data). Payloads of any size up to the
// node's limit. Stateless free functions; thread-safe.
#pragma once

#include <array>
#include <expected>
#include <system_error>

#include "core/bytes.hpp"
#include "crypto/noise/noise.hpp"

namespace hyphae {

inline constexpr std::size_t kSealedPayloadOverhead = 128 + 16;

std::expected<Bytes, std::error_code> seal_payload(const noise::KeyPair& sender,
                                                   const std::array<std::uint8_t, 32>& recipient,
                                                   ByteView payload);

struct OpenedPayload {
  std::array<std::uint8_t, 32> sender_pub;
  Bytes payload;
};
// Errc::bad_seal on any failure.
std::expected<OpenedPayload, std::error_code> open_payload(const noise::KeyPair& recipient, ByteView sealed);

}  // namespace hyphae
