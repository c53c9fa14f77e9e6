// Envelope binary encoding, signing and timestamp checks.
#include "core/envelope.hpp"

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

Envelope sample(std::size_t payload_size = 11) {
  Envelope e;
  e.id = MessageId::generate();
  e.from = identity(1).peer_id();
  e.to = identity(2).peer_id();
  e.timestamp_ms = 1'700'000'000'123;
  e.nonce = 0x0102030405060708;
  e.ttl_s = 3600;
  e.priority = Priority::high;
  e.type = 7;
  e.flags = envelope_flags::ack_requested;
  e.payload.resize(payload_size);
  for (std::size_t i = 0; i < payload_size; ++i) e.payload[i] = static_cast<std::uint8_t>(i * 31 + 5);
  return e;
}

void expect_same(const Envelope& a, const Envelope& b, bool addresses = true) {
  EXPECT_EQ(a.id, b.id);
  if (addresses) {
    EXPECT_EQ(a.from, b.from);
    EXPECT_EQ(a.to, b.to);
  }
  EXPECT_EQ(a.timestamp_ms, b.timestamp_ms);
  EXPECT_EQ(a.nonce, b.nonce);
  EXPECT_EQ(a.ttl_s, b.ttl_s);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.payload, b.payload);
  EXPECT_EQ(a.signature, b.signature);
}

}  // namespace

TEST(Envelope, RoundTripWithAddresses) {
  const Envelope e = sample();
  const Bytes wire = encode_envelope(e);
  EXPECT_EQ(wire.size(), encoded_envelope_size(e));
  // Fixed header + 2 * (1 + 38) + 1 + 11.
  EXPECT_EQ(wire.size(), kEnvelopeFixedSize + 2 * 39 + 1 + 11);
  EXPECT_EQ(wire[0], 1);
  EXPECT_EQ(wire[1], envelope_flags::ack_requested);
  EXPECT_EQ(0, std::memcmp(wire.data() + 2, e.id.bytes.data(), 16));
  EXPECT_EQ(get_u64be(wire.data() + 18), e.timestamp_ms);
  EXPECT_EQ(get_u64be(wire.data() + 26), e.nonce);
  EXPECT_EQ(get_u32be(wire.data() + 34), e.ttl_s);
  EXPECT_EQ(wire[38], 1);
  EXPECT_EQ(wire[39], 7);
  EXPECT_EQ(wire[40], 38);

  std::size_t consumed = 0;
  auto d = decode_envelope(wire, &consumed);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ(consumed, wire.size());
  expect_same(*d, e);
  EXPECT_EQ(d->flags, envelope_flags::ack_requested);
  EXPECT_EQ(encode_envelope(*d), wire);
}

TEST(Envelope, RoundTripEmptyPayloadAndEmptyAddresses) {
  Envelope e;
  const Bytes wire = encode_envelope(e);
  EXPECT_EQ(wire.size(), kEnvelopeFixedSize + 3);
  auto d = decode_envelope(wire);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->from.empty());
  EXPECT_TRUE(d->to.empty());
  EXPECT_TRUE(d->payload.empty());
  EXPECT_EQ(d->priority, Priority::normal);
}

TEST(Envelope, OmitAddresses) {
  const Envelope e = sample();
  const Bytes wire = encode_envelope(e, true);
  EXPECT_EQ(wire.size(), encode_envelope(e).size() - 2 * 39);
  EXPECT_EQ(wire.size(), encoded_envelope_size(e, true));
  EXPECT_EQ(wire[1], envelope_flags::ack_requested | envelope_flags::addresses_implied);
  std::size_t consumed = 0;
  auto d = decode_envelope(wire, &consumed);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(consumed, wire.size());
  EXPECT_TRUE(d->from.empty());
  EXPECT_TRUE(d->to.empty());
  EXPECT_TRUE(d->flags & envelope_flags::addresses_implied);
  expect_same(*d, e, false);
  // Re-encoding a decoded envelope with addresses clears the implied flag.
  d->from = e.from;
  d->to = e.to;
  EXPECT_EQ(encode_envelope(*d), encode_envelope(e));
}

TEST(Envelope, SignedEnvelopesAlwaysCarryAddresses) {
  Envelope e = sample();
  sign_envelope(e, identity(1));
  EXPECT_EQ(encode_envelope(e, true), encode_envelope(e, false));
  // A hand-made signed envelope with implied addresses is refused.
  Bytes wire = encode_envelope(sample(), true);
  wire[1] |= envelope_flags::signed_;
  wire.insert(wire.end(), 64, 0);
  EXPECT_EQ(decode_envelope(wire).error(), Errc::malformed);
}

TEST(Envelope, AppendsAndDecodesBackToBack) {
  Bytes batch = {0xee};  // pre-existing bytes are kept
  std::vector<Envelope> sent;
  for (int i = 0; i < 5; ++i) {
    Envelope e = sample(static_cast<std::size_t>(i * 100));
    if (i % 2) sign_envelope(e, identity(3));
    encode_envelope(e, batch, i == 4);
    sent.push_back(e);
  }
  ASSERT_EQ(batch[0], 0xee);
  ByteView rest = ByteView(batch).subspan(1);
  for (int i = 0; i < 5; ++i) {
    std::size_t consumed = 0;
    auto d = decode_envelope(rest, &consumed);
    ASSERT_TRUE(d.has_value()) << i;
    expect_same(*d, sent[static_cast<std::size_t>(i)], i != 4);
    if (i % 2) {
      EXPECT_FALSE(verify_envelope_signature(*d));
    }
    rest = rest.subspan(consumed);
  }
  EXPECT_TRUE(rest.empty());
}

TEST(Envelope, SignVerifyRoundTrip) {
  const auto alice = identity(1);
  Envelope e = sample();
  e.from = PeerId{};
  sign_envelope(e, alice);
  EXPECT_EQ(e.from, alice.peer_id());
  EXPECT_TRUE(e.is_signed());
  EXPECT_FALSE(verify_envelope_signature(e));

  const Bytes wire = encode_envelope(e);
  EXPECT_EQ(wire.size(), encode_envelope(sample()).size() + 64);
  auto d = decode_envelope(wire);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->is_signed());
  EXPECT_EQ(verify_envelope_signature(*d), std::error_code{});
}

TEST(Envelope, SigningBytesAreCanonical) {
  Envelope e = sample();
  Bytes sb = signing_bytes(e);
  const std::string prefix = "hyphae-envelope-v1:";
  ASSERT_GT(sb.size(), prefix.size());
  EXPECT_EQ(std::string(sb.begin(), sb.begin() + static_cast<std::ptrdiff_t>(prefix.size())), prefix);
  Envelope s = e;
  s.flags |= envelope_flags::signed_;
  Bytes full = encode_envelope(s);
  full.resize(full.size() - 64);  // without signature
  EXPECT_EQ(Bytes(sb.begin() + static_cast<std::ptrdiff_t>(prefix.size()), sb.end()), full);
  // The signed and addresses_implied flags and the signature do not change the signing bytes...
  Envelope t = e;
  t.flags |= envelope_flags::signed_ | envelope_flags::addresses_implied;
  t.signature.fill(0x55);
  EXPECT_EQ(signing_bytes(t), sb);
  // ...but the sealed flag and every field do.
  Envelope sealed = e;
  sealed.flags |= envelope_flags::sealed;
  EXPECT_NE(signing_bytes(sealed), sb);
  Envelope other_to = e;
  other_to.to = identity(9).peer_id();
  EXPECT_NE(signing_bytes(other_to), sb);
}

TEST(Envelope, TamperingWithAnyByteIsDetected) {
  Envelope e = sample(40);
  e.flags |= envelope_flags::sealed;
  sign_envelope(e, identity(1));
  const Bytes wire = encode_envelope(e);
  ASSERT_FALSE(verify_envelope_signature(*decode_envelope(wire)));
  for (std::size_t i = 0; i < wire.size(); ++i) {
    for (std::uint8_t mask : {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80}) {
      Bytes bad = wire;
      bad[i] ^= mask;
      std::size_t consumed = 0;
      auto d = decode_envelope(bad, &consumed);
      if (!d) continue;  // rejected by the decoder
      const auto ec = verify_envelope_signature(*d);
      EXPECT_TRUE(ec == Errc::bad_signature || ec == Errc::peer_id_mismatch)
          << "byte " << i << " mask " << int(mask) << ": " << ec.message();
    }
  }
}

TEST(Envelope, WrongSignerOrUnusableKeyIsRejected) {
  Envelope e = sample();
  sign_envelope(e, identity(1));
  Envelope forged = e;
  forged.from = identity(2).peer_id();
  EXPECT_EQ(verify_envelope_signature(forged), Errc::bad_signature);
  Bytes sha = {0x12, 0x20};
  sha.insert(sha.end(), 32, 3);
  forged.from = *PeerId::from_bytes(sha);
  EXPECT_EQ(verify_envelope_signature(forged), Errc::peer_id_mismatch);
  forged.from = PeerId{};
  EXPECT_EQ(verify_envelope_signature(forged), Errc::peer_id_mismatch);
  EXPECT_EQ(verify_envelope_signature(sample()), Errc::bad_signature);  // unsigned
}

TEST(Envelope, TimestampWindowAndTtl) {
  Envelope e = sample();
  const std::uint64_t now = e.timestamp_ms;
  const std::uint64_t window = 60'000;
  EXPECT_FALSE(check_timestamp(e, now, window));
  EXPECT_FALSE(check_timestamp(e, now + window, window));
  EXPECT_FALSE(check_timestamp(e, now - window, window));
  EXPECT_EQ(check_timestamp(e, now + window + 1, window), Errc::stale);
  EXPECT_EQ(check_timestamp(e, now - window - 1, window), Errc::stale);  // from the future
  EXPECT_EQ(check_timestamp(e, 0, window), Errc::stale);
  // TTL: a wide window (store-and-forward) still honours expiry.
  const std::uint64_t day = 86'400'000;
  EXPECT_FALSE(check_timestamp(e, now + 3'600'000, day));
  EXPECT_EQ(check_timestamp(e, now + 3'600'001, day), Errc::stale);
  e.ttl_s = 0;
  EXPECT_FALSE(check_timestamp(e, now + 3'600'001, day));
  // No overflow at the top of the range.
  e.timestamp_ms = UINT64_MAX - 10;
  e.ttl_s = UINT32_MAX;
  EXPECT_FALSE(check_timestamp(e, UINT64_MAX, 100));
  EXPECT_EQ(check_timestamp(e, 0, 100), Errc::stale);
}

TEST(Envelope, OversizePayloadIsTooLarge) {
  Envelope e = sample(2000);
  Bytes wire = encode_envelope(e);
  EXPECT_EQ(decode_envelope(wire, nullptr, EnvelopeLimits{1999}).error(), Errc::too_large);
  EXPECT_TRUE(decode_envelope(wire, nullptr, EnvelopeLimits{2000}).has_value());
  // Checked before the bytes arrive: a truncated buffer announcing a huge payload is too_large.
  Bytes head(wire.begin(), wire.begin() + kEnvelopeFixedSize + 2 * 39);
  put_uvarint(head, (1u << 20) + 1);
  EXPECT_EQ(decode_envelope(head).error(), Errc::too_large);

  Envelope big = sample((1u << 20) + 1);
  EXPECT_EQ(decode_envelope(encode_envelope(big)).error(), Errc::too_large);
  big.payload.pop_back();
  EXPECT_TRUE(decode_envelope(encode_envelope(big)).has_value());
}

TEST(Envelope, TruncatedAtEveryOffsetIsAnError) {
  Envelope signed_env = sample(30);
  sign_envelope(signed_env, identity(4));
  for (bool omit : {false, true}) {
    for (const Envelope& e : {sample(30), signed_env}) {
      const Bytes wire = encode_envelope(e, omit);
      for (std::size_t n = 0; n < wire.size(); ++n) {
        auto d = decode_envelope(ByteView(wire).first(n));
        ASSERT_FALSE(d.has_value()) << n;
        EXPECT_EQ(d.error(), Errc::truncated) << n;
      }
    }
  }
}

TEST(Envelope, MalformedHeadersAreRejected) {
  const Bytes wire = encode_envelope(sample());
  auto with = [&](std::size_t at, std::uint8_t v) {
    Bytes b = wire;
    b[at] = v;
    return decode_envelope(b);
  };
  EXPECT_EQ(with(0, 2).error(), Errc::unsupported);
  EXPECT_EQ(with(0, 0).error(), Errc::unsupported);
  EXPECT_EQ(with(1, 0x10).error(), Errc::malformed);   // unknown flag
  EXPECT_EQ(with(38, 4).error(), Errc::malformed);     // priority
  EXPECT_EQ(with(40, 65).error(), Errc::malformed);    // from longer than 64
  EXPECT_EQ(with(41, 0x12).error(), Errc::malformed);  // from is not a valid multihash
  // Non-minimal payload length varint (0x8b 0x00 == 11).
  Bytes nm(wire.begin(), wire.end() - 12);
  nm.push_back(0x8b);
  nm.push_back(0x00);
  nm.insert(nm.end(), wire.end() - 11, wire.end());
  EXPECT_EQ(decode_envelope(nm).error(), Errc::malformed);
  // An 11-byte varint.
  Bytes long_varint(wire.begin(), wire.end() - 12);
  long_varint.insert(long_varint.end(), 10, 0xff);
  long_varint.push_back(0x01);
  EXPECT_EQ(decode_envelope(long_varint).error(), Errc::malformed);
  // Trailing bytes are left to the caller.
  Bytes trailing = wire;
  trailing.push_back(0x42);
  std::size_t consumed = 0;
  ASSERT_TRUE(decode_envelope(trailing, &consumed).has_value());
  EXPECT_EQ(consumed, wire.size());
}
