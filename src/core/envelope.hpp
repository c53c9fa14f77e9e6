// Envelope: the unit Hyphae routes — one message with its addressing, timing, priority and an
// optional Ed25519 signature by the sender. Binary layout: docs/wire-format.md.
// Plain value type; the functions here are pure and thread-safe. An Envelope owns its payload;
// the PeerIds are inline values (no allocation). Decoders never throw and bound every length.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <system_error>

#include "core/bytes.hpp"
#include "core/identity.hpp"
#include "core/message_id.hpp"
#include "core/peer_id.hpp"

namespace hyphae {

enum class Priority : std::uint8_t { emergency = 0, high = 1, normal = 2, low = 3 };

namespace envelope_flags {
constexpr std::uint8_t signed_ = 1, sealed = 2, addresses_implied = 4, ack_requested = 8;
constexpr std::uint8_t all = signed_ | sealed | addresses_implied | ack_requested;
}  // namespace envelope_flags

inline constexpr std::uint8_t kEnvelopeVersion = 1;
// version, flags, id, timestamp_ms, nonce, ttl_s, priority, type.
inline constexpr std::size_t kEnvelopeFixedSize = 1 + 1 + 16 + 8 + 8 + 4 + 1 + 1;
inline constexpr std::size_t kEnvelopeSignatureSize = 64;
inline constexpr std::size_t kEnvelopeMaxPeerIdSize = PeerId::kMaxSize;
inline constexpr char kEnvelopeSigningPrefix[] = "hyphae-envelope-v1:";

struct Envelope {
  MessageId id;
  PeerId from;
  PeerId to;
  std::uint64_t timestamp_ms = 0;
  std::uint64_t nonce = 0;
  std::uint32_t ttl_s = 0;
  Priority priority = Priority::normal;
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  Bytes payload;
  std::array<std::uint8_t, 64> signature{};

  bool is_signed() const { return (flags & envelope_flags::signed_) != 0; }
  bool is_sealed() const { return (flags & envelope_flags::sealed) != 0; }
};

struct EnvelopeLimits {
  std::size_t max_payload = 1 << 20;
};

// Bytes encode_envelope would append.
std::size_t encoded_envelope_size(const Envelope& env, bool omit_addresses = false);
// Appends the encoding to out. The addresses_implied flag is computed, not copied: it is set iff
// addresses are omitted. omit_addresses is ignored for signed envelopes (they always carry them).
// Flag bits outside envelope_flags::all are dropped. The signature is appended iff env.is_signed().
void encode_envelope(const Envelope& env, Bytes& out, bool omit_addresses = false);
Bytes encode_envelope(const Envelope& env, bool omit_addresses = false);

// Decodes exactly one envelope from the front of data and sets *consumed to its length; bytes after
// it are left for the caller. When addresses are implied, from/to stay empty for the caller to fill.
// Errors: Errc::truncated (input ends early), too_large (payload over limits.max_payload),
// unsupported (version != 1), malformed (unknown flag bits, priority > 3, a signed envelope with
// implied addresses, a non-minimal varint, an invalid PeerId).
std::expected<Envelope, std::error_code> decode_envelope(ByteView data, std::size_t* consumed = nullptr,
                                                         const EnvelopeLimits& limits = {});

// Canonical bytes the sender signs: "hyphae-envelope-v1:" followed by the full encoding with
// addresses, the signed flag set, addresses_implied clear, all other flags as they are, and no
// signature.
Bytes signing_bytes(const Envelope& env);
void append_signing_bytes(const Envelope& env, Bytes& out);

// Sets env.from to the identity's PeerId, sets the signed flag and fills env.signature.
void sign_envelope(Envelope& env, const Identity& identity);
// Checks env.signature with the key inside env.from. Errc::bad_signature if the envelope is not
// signed or the signature does not verify; Errc::peer_id_mismatch if env.from carries no usable
// Ed25519 key.
std::error_code verify_envelope_signature(const Envelope& env);
// Errc::stale if |timestamp - now| > window_ms, or if ttl_s > 0 and timestamp + ttl has passed.
std::error_code check_timestamp(const Envelope& env, std::uint64_t now_ms, std::uint64_t window_ms);

}  // namespace hyphae
