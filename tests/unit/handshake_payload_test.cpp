// libp2p Noise handshake payload: construction, verification and protobuf leniency rules.
#include "transport/stream/handshake_payload.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "core/error.hpp"

using namespace hyphae;

namespace {

Identity identity(std::uint8_t v) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(v);
  return Identity::from_seed(seed);
}

std::array<std::uint8_t, 32> static_key(std::uint8_t v) {
  std::array<std::uint8_t, 32> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(v + i);
  return k;
}

// protobuf helpers for hand-built payloads
void field_bytes(Bytes& out, std::uint32_t number, ByteView value) {
  put_uvarint(out, (number << 3) | 2);
  put_uvarint(out, value.size());
  append(out, value);
}

Bytes sig_over(const Identity& id, const std::array<std::uint8_t, 32>& s) {
  Bytes msg(as_bytes("noise-libp2p-static-key:").begin(), as_bytes("noise-libp2p-static-key:").end());
  append(msg, s);
  auto sig = id.sign(msg);
  return Bytes(sig.begin(), sig.end());
}

}  // namespace

TEST(HandshakePayload, RoundTripAndExactLayout) {
  const auto id = identity(1);
  const auto s = static_key(10);
  const Bytes p = make_handshake_payload(id, s);
  ASSERT_EQ(p.size(), 104u);
  EXPECT_EQ(p[0], 0x0a);
  EXPECT_EQ(p[1], 36);
  EXPECT_EQ(Bytes(p.begin() + 2, p.begin() + 38), encode_ed25519_public_key_protobuf(id.public_key()));
  EXPECT_EQ(p[38], 0x12);
  EXPECT_EQ(p[39], 64);
  EXPECT_EQ(Bytes(p.begin() + 40, p.end()), sig_over(id, s));

  auto peer = verify_handshake_payload(p, s);
  ASSERT_TRUE(peer.has_value()) << peer.error().message();
  EXPECT_EQ(*peer, id.peer_id());
}

TEST(HandshakePayload, WrongStaticKeyIsPeerIdMismatch) {
  const auto id = identity(2);
  const Bytes p = make_handshake_payload(id, static_key(1));
  auto r = verify_handshake_payload(p, static_key(2));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Errc::peer_id_mismatch);
}

TEST(HandshakePayload, ExtensionsUnknownFieldsAndOrderAreAccepted) {
  const auto id = identity(3);
  const auto s = static_key(3);
  const Bytes key = encode_ed25519_public_key_protobuf(id.public_key());
  const Bytes sig = sig_over(id, s);
  Bytes ext;  // NoiseExtensions{stream_muxers = "/yamux/1.0.0"}
  field_bytes(ext, 2, as_bytes("/yamux/1.0.0"));

  Bytes p;
  put_uvarint(p, (9 << 3) | 0);  // unknown varint field
  put_uvarint(p, 300);
  field_bytes(p, 2, sig);  // signature before key
  field_bytes(p, 4, ext);
  put_uvarint(p, (10 << 3) | 5);  // unknown fixed32
  p.insert(p.end(), 4, 0xab);
  put_uvarint(p, (11 << 3) | 1);  // unknown fixed64
  p.insert(p.end(), 8, 0xcd);
  field_bytes(p, 1, key);
  field_bytes(p, 1000, as_bytes("future"));
  auto r = verify_handshake_payload(p, s);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, id.peer_id());

  // Non-canonical PublicKey encoding (Data before Type, an unknown field) still names the same peer.
  Bytes key2;
  field_bytes(key2, 2, id.public_key());
  put_uvarint(key2, (1 << 3) | 0);
  put_uvarint(key2, 1);
  field_bytes(key2, 7, as_bytes("x"));
  Bytes p2;
  field_bytes(p2, 1, key2);
  field_bytes(p2, 2, sig);
  EXPECT_EQ(*verify_handshake_payload(p2, s), id.peer_id());
}

TEST(HandshakePayload, LastOccurrenceOfAFieldWins) {
  const auto id = identity(4), other = identity(5);
  const auto s = static_key(4);
  Bytes p;
  field_bytes(p, 1, encode_ed25519_public_key_protobuf(other.public_key()));
  field_bytes(p, 2, sig_over(other, s));
  field_bytes(p, 1, encode_ed25519_public_key_protobuf(id.public_key()));
  field_bytes(p, 2, sig_over(id, s));
  EXPECT_EQ(*verify_handshake_payload(p, s), id.peer_id());

  Bytes q;
  field_bytes(q, 1, encode_ed25519_public_key_protobuf(id.public_key()));
  field_bytes(q, 1, encode_ed25519_public_key_protobuf(other.public_key()));
  field_bytes(q, 2, sig_over(id, s));
  EXPECT_EQ(verify_handshake_payload(q, s).error(), Errc::peer_id_mismatch);
}

TEST(HandshakePayload, MalformedPayloads) {
  const auto id = identity(6);
  const auto s = static_key(6);
  const Bytes key = encode_ed25519_public_key_protobuf(id.public_key());
  const Bytes sig = sig_over(id, s);
  auto err = [&](const Bytes& p) {
    auto r = verify_handshake_payload(p, s);
    EXPECT_FALSE(r.has_value()) << to_hex(p);
    return r ? std::error_code{} : r.error();
  };
  EXPECT_EQ(err({}), Errc::malformed);
  Bytes only_key, only_sig;
  field_bytes(only_key, 1, key);
  field_bytes(only_sig, 2, sig);
  EXPECT_EQ(err(only_key), Errc::malformed);
  EXPECT_EQ(err(only_sig), Errc::malformed);

  Bytes short_sig;
  field_bytes(short_sig, 1, key);
  field_bytes(short_sig, 2, ByteView(sig).first(63));
  EXPECT_EQ(err(short_sig), Errc::malformed);

  Bytes secp_key = {0x08, 0x02, 0x12, 0x21};
  secp_key.insert(secp_key.end(), 33, 0x02);
  Bytes secp;
  field_bytes(secp, 1, secp_key);
  field_bytes(secp, 2, sig);
  EXPECT_EQ(err(secp), Errc::unsupported);

  Bytes short_key_pb = {0x08, 0x01, 0x12, 0x1f};
  short_key_pb.insert(short_key_pb.end(), 31, 1);
  Bytes short_key;
  field_bytes(short_key, 1, short_key_pb);
  field_bytes(short_key, 2, sig);
  EXPECT_EQ(err(short_key), Errc::malformed);

  Bytes wrong_wire_type = {0x08, 0x01};  // identity_key as a varint
  field_bytes(wrong_wire_type, 2, sig);
  EXPECT_EQ(err(wrong_wire_type), Errc::malformed);

  Bytes group = make_handshake_payload(id, s);
  group.insert(group.end(), {(5 << 3) | 3, (5 << 3) | 4});
  EXPECT_EQ(err(group), Errc::malformed);

  Bytes field_zero = make_handshake_payload(id, s);
  field_zero.insert(field_zero.end(), {0x02, 0x00});
  EXPECT_EQ(err(field_zero), Errc::malformed);

  Bytes overlong = make_handshake_payload(id, s);
  field_bytes(overlong, 15, Bytes(kMaxHandshakePayload, 0));
  EXPECT_EQ(err(overlong), Errc::too_large);
}

TEST(HandshakePayload, TruncatedOrTamperedIsAnError) {
  const auto id = identity(7);
  const auto s = static_key(7);
  const Bytes p = make_handshake_payload(id, s);
  for (std::size_t n = 0; n < p.size(); ++n)
    EXPECT_FALSE(verify_handshake_payload(ByteView(p).first(n), s).has_value()) << n;
  for (std::size_t i = 0; i < p.size(); ++i) {
    for (std::uint8_t mask : {0x01, 0x80}) {
      Bytes bad = p;
      bad[i] ^= mask;
      auto r = verify_handshake_payload(bad, s);
      // Flipping the key changes the peer: either rejected or (never) accepted as someone else.
      EXPECT_FALSE(r.has_value() && *r == id.peer_id()) << i;
      EXPECT_FALSE(r.has_value()) << i << " " << int(mask);
    }
  }
}
