// Signed envelopes (libp2p RFC 0002): a payload, its type (a multicodec) and the signer's public
// key, signed over a domain string so a signature made for one purpose is never valid for another.
// Wire format (protobuf): 1 public_key (libp2p PublicKey), 2 payload_type, 3 payload, 5 signature.
// The signature covers uvarint(len) || domain || uvarint(len) || payload_type || uvarint(len) ||
// payload. Only Ed25519 keys are accepted.
// Thread-safety: pure functions. Ownership: values.
#pragma once

#include <expected>
#include <string_view>
#include <system_error>

#include "core/bytes.hpp"
#include "core/identity.hpp"
#include "core/peer_id.hpp"

namespace hyphae::discovery {

inline constexpr std::size_t kMaxEnvelopeBytes = 16 * 1024;

struct OpenedEnvelope {
  PeerId signer;  // derived from the envelope's public key
  Bytes payload_type;
  Bytes payload;
};

Bytes seal_envelope(const Identity& signer, std::string_view domain, ByteView payload_type, ByteView payload);
// Decodes and verifies. Errors: Errc::malformed (not an envelope, over `max_bytes`, not an Ed25519
// key), Errc::bad_signature (the signature does not verify for `domain`).
std::expected<OpenedEnvelope, std::error_code> open_envelope(ByteView envelope, std::string_view domain,
                                                             std::size_t max_bytes = kMaxEnvelopeBytes);

}  // namespace hyphae::discovery
