#include "transport/stream/handshake_payload.hpp"

#include <cstring>
#include <optional>

#include "core/error.hpp"
#include "util/protobuf.hpp"

namespace hyphae {
namespace {

constexpr std::size_t kPrefixSize = sizeof(kNoiseStaticKeySigPrefix) - 1;
using protobuf::Field;
using protobuf::kLengthDelimited;
using protobuf::kVarint;
using protobuf::next_field;

// PublicKey{Type=1 (varint), Data=2 (bytes)} parsed per protobuf rules (any order, unknown fields
// skipped, last occurrence wins). The PeerId is re-derived from the key, so the encoding need not
// be canonical.
std::expected<std::array<std::uint8_t, 32>, std::error_code> parse_public_key(ByteView pb) {
  auto fail = [](Errc e) { return std::unexpected(make_error_code(e)); };
  std::optional<std::uint64_t> type;
  std::optional<ByteView> data;
  std::size_t pos = 0;
  Field f;
  while (pos < pb.size()) {
    if (!next_field(pb, pos, f)) return fail(Errc::malformed);
    if (f.number == 1) {
      if (f.wire_type != kVarint) return fail(Errc::malformed);
      type = f.varint;
    } else if (f.number == 2) {
      if (f.wire_type != kLengthDelimited) return fail(Errc::malformed);
      data = f.bytes;
    }
  }
  if (!type || !data) return fail(Errc::malformed);
  if (*type != 1) return fail(Errc::unsupported);
  if (data->size() != 32) return fail(Errc::malformed);
  std::array<std::uint8_t, 32> pub;
  std::memcpy(pub.data(), data->data(), pub.size());
  return pub;
}

std::array<std::uint8_t, kPrefixSize + 32> signed_message(const std::array<std::uint8_t, 32>& noise_static) {
  std::array<std::uint8_t, kPrefixSize + 32> msg;
  std::memcpy(msg.data(), kNoiseStaticKeySigPrefix, kPrefixSize);
  std::memcpy(msg.data() + kPrefixSize, noise_static.data(), noise_static.size());
  return msg;
}

}  // namespace

Bytes make_handshake_payload(const Identity& identity, const std::array<std::uint8_t, 32>& noise_static_pub) {
  const auto sig = identity.sign(signed_message(noise_static_pub));
  Bytes out;
  out.reserve(2 + kEd25519PublicKeyProtobufSize + 2 + sig.size());
  out.push_back((1 << 3) | kLengthDelimited);
  out.push_back(static_cast<std::uint8_t>(kEd25519PublicKeyProtobufSize));
  append(out, encode_ed25519_public_key_protobuf(identity.public_key()));
  out.push_back((2 << 3) | kLengthDelimited);
  out.push_back(static_cast<std::uint8_t>(sig.size()));
  append(out, sig);
  return out;
}

std::expected<PeerId, std::error_code> verify_handshake_payload(
    ByteView payload, const std::array<std::uint8_t, 32>& remote_noise_static) {
  auto fail = [](Errc e) { return std::unexpected(make_error_code(e)); };
  if (payload.size() > kMaxHandshakePayload) return fail(Errc::too_large);
  std::optional<ByteView> key, sig;
  std::size_t pos = 0;
  Field f;
  while (pos < payload.size()) {
    if (!next_field(payload, pos, f)) return fail(Errc::malformed);
    // Known fields must have their declared wire type; extensions (4) and unknown fields are skipped.
    if (f.number == 1 || f.number == 2 || f.number == 4) {
      if (f.wire_type != kLengthDelimited) return fail(Errc::malformed);
      if (f.number == 1) key = f.bytes;
      if (f.number == 2) sig = f.bytes;
    }
  }
  if (!key || !sig) return fail(Errc::malformed);
  auto pub = parse_public_key(*key);
  if (!pub) return std::unexpected(pub.error());
  if (sig->size() != 64) return fail(Errc::malformed);
  std::array<std::uint8_t, 64> sig_arr;
  std::memcpy(sig_arr.data(), sig->data(), sig_arr.size());
  if (!Identity::verify(*pub, signed_message(remote_noise_static), sig_arr))
    return fail(Errc::peer_id_mismatch);
  return PeerId::from_ed25519(*pub);
}

}  // namespace hyphae
