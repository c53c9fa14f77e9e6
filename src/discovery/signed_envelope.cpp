// Signed envelopes: seal and open.
#include "discovery/signed_envelope.hpp"

#include "core/error.hpp"
#include "util/protobuf.hpp"

namespace hyphae::discovery {
namespace {

enum : std::uint64_t { kPublicKey = 1, kPayloadType = 2, kPayload = 3, kSignature = 5 };

Bytes signed_content(std::string_view domain, ByteView payload_type, ByteView payload) {
  Bytes out;
  out.reserve(domain.size() + payload_type.size() + payload.size() + 12);
  put_uvarint(out, domain.size());
  out.insert(out.end(), domain.begin(), domain.end());
  put_uvarint(out, payload_type.size());
  out.insert(out.end(), payload_type.begin(), payload_type.end());
  put_uvarint(out, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

}  // namespace

Bytes seal_envelope(const Identity& signer, std::string_view domain, ByteView payload_type,
                    ByteView payload) {
  const auto signature = signer.sign(signed_content(domain, payload_type, payload));
  Bytes out;
  protobuf::put_bytes_field(out, kPublicKey, encode_ed25519_public_key_protobuf(signer.public_key()));
  protobuf::put_bytes_field(out, kPayloadType, payload_type);
  protobuf::put_bytes_field(out, kPayload, payload);
  protobuf::put_bytes_field(out, kSignature, signature);
  return out;
}

std::expected<OpenedEnvelope, std::error_code> open_envelope(ByteView envelope, std::string_view domain,
                                                             std::size_t max_bytes) {
  const auto malformed = [] { return std::unexpected(make_error_code(Errc::malformed)); };
  if (envelope.size() > max_bytes) return malformed();
  ByteView key, type, payload, signature;
  bool has_key = false, has_signature = false;
  protobuf::Field f;
  for (std::size_t pos = 0; pos < envelope.size();) {
    if (!protobuf::next_field(envelope, pos, f)) return malformed();
    if (f.number > kSignature || f.number == 4) continue;  // unknown fields are skipped
    if (f.wire_type != protobuf::kLengthDelimited) return malformed();
    switch (f.number) {
      case kPublicKey:
        key = f.bytes;
        has_key = true;
        break;
      case kPayloadType:
        type = f.bytes;
        break;
      case kPayload:
        payload = f.bytes;
        break;
      case kSignature:
        signature = f.bytes;
        has_signature = true;
        break;
    }
  }
  if (!has_key || !has_signature || signature.size() != 64) return malformed();
  auto pub = decode_ed25519_public_key_protobuf(key);
  if (!pub) return malformed();
  std::array<std::uint8_t, 64> sig{};
  std::copy(signature.begin(), signature.end(), sig.begin());
  if (!Identity::verify(*pub, signed_content(domain, type, payload), sig))
    return std::unexpected(make_error_code(Errc::bad_signature));
  return OpenedEnvelope{PeerId::from_ed25519(*pub), Bytes(type.begin(), type.end()),
                        Bytes(payload.begin(), payload.end())};
}

}  // namespace hyphae::discovery
