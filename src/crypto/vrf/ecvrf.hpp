// ECVRF-EDWARDS25519-SHA512-TAI (RFC 9381, suite string 0x03): a verifiable random function on
// Ed25519 keys. The holder of an Ed25519 secret key proves that a 64-byte output belongs to an input
// (`alpha`); anyone with the public key checks the 80-byte proof. The privacy transport picks mix
// hops from such outputs, so a sender cannot steer its route and every hop can check the choice.
//
// Built on libsodium's public Ed25519 point and scalar operations. Two places are stricter than the
// RFC's decoding, and only ever reject what an honest prover never produces: a public key or a
// proof's Gamma must be a canonical point of the prime-order subgroup (libsodium's
// crypto_core_ed25519_is_valid_point), and a hash-to-curve candidate whose cofactor multiple is the
// identity is skipped like an undecodable one (probability about 2^-250).
// Thread-safety: stateless free functions. Ownership: values only.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <optional>

#include "core/bytes.hpp"

namespace hyphae::vrf {

inline constexpr std::size_t kSeedBytes = 32;  // an RFC 8032 Ed25519 secret key
inline constexpr std::size_t kPublicKeyBytes = 32;
inline constexpr std::size_t kProofBytes = 80;  // Gamma (32) || c (16) || s (32)
inline constexpr std::size_t kOutputBytes = 64;

using Seed = std::array<std::uint8_t, kSeedBytes>;
using PublicKey = std::array<std::uint8_t, kPublicKeyBytes>;
using Proof = std::array<std::uint8_t, kProofBytes>;
using Output = std::array<std::uint8_t, kOutputBytes>;
using Point = std::array<std::uint8_t, 32>;

enum class VrfError {
  invalid_public_key,  // not a canonical point of the prime-order subgroup
  malformed_proof,     // Gamma is not such a point, or s is not below the group order
  wrong_proof,         // well formed, but not a proof for this key and input
  no_point,            // hash-to-curve found no point in 256 tries (never in practice)
};
const char* to_string(VrfError e);

// The public key of `seed` (the Ed25519 public key, RFC 8032).
PublicKey public_key(const Seed& seed);

// The proof that `alpha` maps to proof_to_hash(proof) under `seed`'s key.
std::expected<Proof, VrfError> prove(const Seed& seed, ByteView alpha);

// The output of a proof (RFC 9381 section 5.2); only meaningful once verify() accepted the proof.
std::expected<Output, VrfError> proof_to_hash(const Proof& proof);

// Checks the proof; its output when it holds.
std::expected<Output, VrfError> verify(const PublicKey& key, const Proof& proof, ByteView alpha);

// Exposed for the RFC's intermediate test values.
struct TaiPoint {
  Point point;       // cofactor-cleared H
  unsigned counter;  // the try-and-increment counter that succeeded
};
std::optional<TaiPoint> encode_to_curve(const PublicKey& salt, ByteView alpha);
// The secret scalar x (clamped, as RFC 8032 derives it) of a seed.
std::array<std::uint8_t, 32> secret_scalar(const Seed& seed);

}  // namespace hyphae::vrf
