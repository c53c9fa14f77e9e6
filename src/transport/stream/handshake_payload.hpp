// The libp2p Noise handshake payload (libp2p/specs noise/README.md):
//   message NoiseHandshakePayload { bytes identity_key = 1; bytes identity_sig = 2; NoiseExtensions
//   extensions = 4; }
// identity_key is the protobuf PublicKey of the node's Ed25519 identity; identity_sig is its
// signature over "noise-libp2p-static-key:" || the sender's 32-byte X25519 Noise static public key.
// It binds the Noise session to a PeerId. Pure functions; thread-safe; results are owned by the caller.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <system_error>

#include "core/bytes.hpp"
#include "core/identity.hpp"
#include "core/peer_id.hpp"

namespace hyphae {

inline constexpr char kNoiseStaticKeySigPrefix[] = "noise-libp2p-static-key:";
// A Noise transport message carries at most 65535 bytes; larger payloads are refused.
inline constexpr std::size_t kMaxHandshakePayload = 65535;

// identity_key and identity_sig, no extensions (104 bytes).
Bytes make_handshake_payload(const Identity& identity, const std::array<std::uint8_t, 32>& noise_static_pub);

// Verifies the identity key's signature over the remote's Noise static key; returns the remote PeerId.
// Unknown fields (and the extensions message) are skipped per protobuf rules; for repeated scalar
// fields the last occurrence wins. Errors: Errc::peer_id_mismatch if the signature does not verify;
// Errc::unsupported for a non-Ed25519 identity key; Errc::too_large above kMaxHandshakePayload;
// Errc::malformed for bad protobuf, a missing field, a key that is not 32 bytes or a signature
// that is not 64 bytes.
std::expected<PeerId, std::error_code> verify_handshake_payload(
    ByteView payload, const std::array<std::uint8_t, 32>& remote_noise_static);

}  // namespace hyphae
