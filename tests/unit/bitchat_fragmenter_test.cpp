// BitChat fragmentation (type 0x20) and reassembly: chunk sizes per Android's formula, every
// fragment frame within the MTU, reassembly in any order with duplicates and interleaving, the
// 30 s timeout, inconsistent sets, memory caps and signatures surviving (../shared/notes/bitchat.md §3).
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <string>

#include "bitchat/fragmenter.hpp"
#include "bitchat/packet.hpp"
#include "bitchat/payloads.hpp"
#include "core/error.hpp"

namespace hyphae::bitchat {
namespace {

constexpr auto kFragmentType = static_cast<std::uint8_t>(MessageType::fragment);

ShortId sid(std::uint8_t b) {
  ShortId s;
  s.fill(b);
  return s;
}

FragmentId fid(std::uint8_t b) {
  FragmentId f;
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = static_cast<std::uint8_t>(b + i);
  return f;
}

// Incompressible bytes (a fixed LCG), so frame sizes are predictable.
Bytes noise(std::size_t n, std::uint32_t seed = 1) {
  Bytes out(n);
  for (auto& b : out) {
    seed = seed * 1664525u + 1013904223u;
    b = static_cast<std::uint8_t>(seed >> 24);
  }
  return out;
}

Packet private_message(std::size_t payload_bytes) {
  Packet p;
  p.version = 1;
  p.type = static_cast<std::uint8_t>(MessageType::noise_encrypted);
  p.ttl = 7;
  p.timestamp_ms = 1'760'000'000'123ull;
  p.sender = sid(0x11);
  p.recipient = sid(0x22);
  p.payload = noise(payload_bytes);
  return p;
}

Packet routed_v2(std::size_t payload_bytes, ShortId sender, std::uint32_t seed) {
  Packet p;
  p.version = 2;
  p.type = static_cast<std::uint8_t>(MessageType::noise_encrypted);
  p.ttl = 6;
  p.timestamp_ms = 99;
  p.sender = sender;
  p.recipient = sid(0x44);
  p.route = {sid(0x55), sid(0x66)};
  p.payload = noise(payload_bytes, seed);
  return p;
}

std::vector<Packet> split(const Packet& p, std::size_t mtu, FragmentId id = fid(1)) {
  auto f = fragment_packet(p, mtu, id);
  EXPECT_TRUE(f) << f.error().message();
  return f ? *f : std::vector<Packet>{};
}

void expect_same(const Packet& got, const Packet& want) {
  EXPECT_EQ(got.version, want.version);
  EXPECT_EQ(got.type, want.type);
  EXPECT_EQ(got.ttl, 0) << "reassembled packets are not relayed again";
  EXPECT_EQ(got.timestamp_ms, want.timestamp_ms);
  EXPECT_EQ(got.sender, want.sender);
  EXPECT_EQ(got.recipient, want.recipient);
  EXPECT_EQ(got.route, want.route);
  EXPECT_EQ(got.payload, want.payload);
  EXPECT_EQ(got.signature, want.signature);
}

// Feeds `fragments` in the given order; returns the packet the last one completes.
std::optional<Packet> feed(Reassembler& r, const std::vector<Packet>& fragments, std::uint64_t now = 0) {
  std::optional<Packet> done;
  for (const auto& f : fragments) {
    auto got = r.accept(f, now);
    EXPECT_TRUE(got) << got.error().message();
    if (got && *got) {
      EXPECT_FALSE(done) << "completed twice";
      done = std::move(**got);
    }
  }
  return done;
}

Packet raw_fragment(ShortId sender, FragmentId id, std::uint16_t index, std::uint16_t total,
                    std::uint8_t type, Bytes data) {
  Packet p;
  p.type = kFragmentType;
  p.sender = sender;
  p.payload = encode_fragment({id, index, total, type, std::move(data)});
  return p;
}

// An accepted fragment that did not complete its set.
bool pending(const std::expected<std::optional<Packet>, std::error_code>& got) {
  return got && !*got;
}
std::error_code error_of(const std::expected<std::optional<Packet>, std::error_code>& got) {
  return got ? std::error_code{} : got.error();
}

TEST(BitchatFragmenter, APacketThatFitsIsSentAlone) {
  Packet p = private_message(100);
  auto out = split(p, 512);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, p.type);
  EXPECT_EQ(out[0].payload, p.payload);
  // The boundary: an unpadded frame of exactly link_mtu bytes fits; one byte less of MTU does not.
  const std::size_t frame = encode(p, {.pad = false})->size();
  EXPECT_EQ(split(p, frame).size(), 1u);
  EXPECT_GT(split(p, frame - 1).size(), 1u);
}

TEST(BitchatFragmenter, ChunkSizeFollowsAndroidsFormulaWithTheRealHeaderSizes) {
  Packet broadcast;
  broadcast.type = static_cast<std::uint8_t>(MessageType::message);
  EXPECT_EQ(fragment_chunk_size(broadcast, 512), 469u);  // min(469, 512 - (14 + 8 + 13))
  EXPECT_EQ(fragment_chunk_size(broadcast, 500), 465u);  // below 512 the MTU binds
  EXPECT_EQ(fragment_chunk_size(broadcast, 2048), 469u);
  EXPECT_EQ(fragment_chunk_size(private_message(0), 512), 469u);  // 512 - (14 + 8 + 8 + 13)
  EXPECT_EQ(fragment_chunk_size(routed_v2(0, sid(1), 1), 512), 512u - (16 + 8 + 8 + (1 + 2 * 8) + 13));
  EXPECT_EQ(fragment_chunk_size(broadcast, 35), 0u);  // 14 + 8 + 13: no room for data
  EXPECT_EQ(fragment_chunk_size(broadcast, 36), 1u);
}

TEST(BitchatFragmenter, A2000BytePrivateMessageAtMtu512) {
  const Packet p = private_message(2000);
  const Bytes frame = *encode(p, {.pad = false});
  ASSERT_EQ(frame.size(), 14u + 8 + 8 + 2000);
  auto out = split(p, 512, fid(7));
  const std::size_t chunk = 469;  // v1 with a recipient
  ASSERT_EQ(out.size(), 5u);      // ceil(2030 / 469)
  Bytes joined;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Packet& f = out[i];
    EXPECT_EQ(f.type, kFragmentType);
    EXPECT_EQ(f.version, p.version);
    EXPECT_EQ(f.ttl, p.ttl);
    EXPECT_EQ(f.timestamp_ms, p.timestamp_ms);
    EXPECT_EQ(f.sender, p.sender);
    EXPECT_EQ(f.recipient, p.recipient);
    EXPECT_FALSE(f.signature);
    EXPECT_LE(encode(f, {.pad = false})->size(), 512u - kFragmentPaddingAllowance);
    EXPECT_LE(encode(f)->size(), 512u);  // padded and compressed as encode() would: still fits
    auto fp = decode_fragment(f.payload);
    ASSERT_TRUE(fp);
    EXPECT_EQ(fp->fragment_id, fid(7));
    EXPECT_EQ(fp->index, i);
    EXPECT_EQ(fp->total, out.size());
    EXPECT_EQ(fp->original_type, p.type);
    EXPECT_EQ(fp->data.size(), i + 1 < out.size() ? chunk : frame.size() - 4 * chunk);
    joined.insert(joined.end(), fp->data.begin(), fp->data.end());
  }
  EXPECT_EQ(joined, frame) << "the split data is the whole unpadded frame";
}

TEST(BitchatFragmenter, AV1BroadcastUses469ByteChunksAtMtu512AndLarger) {
  Packet p;
  p.type = static_cast<std::uint8_t>(MessageType::message);
  p.sender = sid(0x33);
  p.payload = noise(2000);
  for (auto [mtu, chunk] : {std::pair<std::size_t, std::size_t>{512, 469}, {1024, 469}}) {
    auto out = split(p, mtu);
    ASSERT_EQ(out.size(), (22u + 2000 + chunk - 1) / chunk);
    for (const auto& f : out) {
      EXPECT_FALSE(f.recipient);
      EXPECT_LE(encode(f, {.pad = false})->size(), mtu);
    }
    EXPECT_EQ(decode_fragment(out[0].payload)->data.size(), chunk);
  }
}

TEST(BitchatFragmenter, RefusesWhatCannotBeFragmented) {
  const Packet big = private_message(2000);
  auto tiny = fragment_packet(big, 43, fid(1));  // 14 + 8 + 8 + 13 = 43: no room for data
  ASSERT_FALSE(tiny);
  EXPECT_EQ(tiny.error(), Errc::too_large);
  auto many = fragment_packet(private_message(0xffff), 44, fid(1));  // 1-byte chunks: 65565 of them
  ASSERT_FALSE(many);
  EXPECT_EQ(many.error(), Errc::too_large);
  auto nested = fragment_packet(split(big, 512)[0], 200, fid(2));
  ASSERT_FALSE(nested);
  EXPECT_EQ(nested.error(), Errc::invalid_argument);
  Packet bad = routed_v2(2000, sid(1), 1);
  bad.route.assign(256, sid(9));  // more hops than the u8 count holds: encode() refuses it
  auto refused = fragment_packet(bad, 512, fid(1));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), Errc::invalid_argument);
}

TEST(BitchatFragReassembly, InOrderReverseAndWithDuplicates) {
  const Packet p = routed_v2(3000, sid(0x33), 5);
  const auto frags = split(p, 512);
  ASSERT_EQ(frags.size(), 7u);  // ceil((16 + 8 + 8 + 17 + 3000) / 450)

  Reassembler in_order;
  auto a = feed(in_order, frags);
  ASSERT_TRUE(a);
  expect_same(*a, p);
  EXPECT_EQ(in_order.set_count(), 0u);
  EXPECT_EQ(in_order.held_bytes(), 0u);
  EXPECT_EQ(in_order.stats().completed, 1u);

  Reassembler reverse;
  auto b = feed(reverse, std::vector<Packet>(frags.rbegin(), frags.rend()));
  ASSERT_TRUE(b);
  expect_same(*b, p);

  std::vector<Packet> dup;
  for (const auto& f : frags) {
    dup.push_back(f);
    dup.push_back(f);
  }
  dup.erase(dup.end() - 1);               // the last fragment once: it completes the set
  dup.insert(dup.begin() + 3, frags[0]);  // and a third copy of the first
  Reassembler with_dups;
  auto c = feed(with_dups, dup);
  ASSERT_TRUE(c);
  expect_same(*c, p);
  EXPECT_EQ(with_dups.stats().duplicates, frags.size());
  EXPECT_EQ(with_dups.stats().rejected, 0u);
}

TEST(BitchatFragReassembly, InterleavedSetsEvenWithTheSameIdFromTwoSenders) {
  const Packet p = routed_v2(2500, sid(0x01), 11);
  const Packet q = routed_v2(1800, sid(0x02), 12);
  Packet r = private_message(1200);
  const auto fp = split(p, 512, fid(9));
  const auto fq = split(q, 512, fid(9));  // same fragment ID, another sender
  const auto fr = split(r, 512, fid(200));
  std::vector<Packet> mixed;
  for (std::size_t i = 0; i < std::max({fp.size(), fq.size(), fr.size()}); ++i) {
    if (i < fq.size()) mixed.push_back(fq[fq.size() - 1 - i]);
    if (i < fp.size()) mixed.push_back(fp[i]);
    if (i < fr.size()) mixed.push_back(fr[i]);
  }
  Reassembler re;
  std::vector<Packet> done;
  for (const auto& f : mixed) {
    auto got = re.accept(f, 1000);
    ASSERT_TRUE(got) << got.error().message();
    if (*got) done.push_back(std::move(**got));
  }
  ASSERT_EQ(done.size(), 3u);
  for (const auto& d : done) {
    if (d.sender == p.sender)
      expect_same(d, p);
    else if (d.sender == q.sender)
      expect_same(d, q);
    else
      expect_same(d, r);
  }
  EXPECT_EQ(re.held_bytes(), 0u);
}

TEST(BitchatFragReassembly, AMissingFragmentTimesOutAfter30Seconds) {
  const auto frags = split(private_message(2000), 512);
  Reassembler re;
  for (std::size_t i = 0; i + 1 < frags.size(); ++i)
    ASSERT_TRUE(pending(re.accept(frags[i], 5'000 + i * 30)));
  EXPECT_EQ(re.set_count(), 1u);
  EXPECT_GT(re.held_bytes(), 0u);
  EXPECT_EQ(re.expire(34'999), 0u);
  EXPECT_EQ(re.expire(35'000), 1u);  // 30 s after the first fragment
  EXPECT_EQ(re.set_count(), 0u);
  EXPECT_EQ(re.held_bytes(), 0u);
  EXPECT_EQ(re.stats().expired, 1u);
  // The straggler starts a new set that cannot complete alone.
  EXPECT_TRUE(pending(re.accept(frags.back(), 35'001)));
  EXPECT_EQ(re.set_count(), 1u);
  // A set past its timeout but not yet swept is restarted, not completed with stale parts.
  EXPECT_TRUE(pending(re.accept(frags[0], 70'000)));
  EXPECT_EQ(re.stats().expired, 2u);
  EXPECT_EQ(re.held_bytes(), decode_fragment(frags[0].payload)->data.size());
}

TEST(BitchatFragReassembly, InconsistentTotalOrTypeIsMalformedAndDropsTheSet) {
  const auto type = static_cast<std::uint8_t>(MessageType::message);
  Reassembler re;
  ASSERT_TRUE(pending(re.accept(raw_fragment(sid(1), fid(1), 0, 3, type, noise(50)), 0)));
  auto total = re.accept(raw_fragment(sid(1), fid(1), 1, 4, type, noise(50)), 0);
  ASSERT_FALSE(total);
  EXPECT_EQ(total.error(), Errc::malformed);
  EXPECT_EQ(re.set_count(), 0u);
  EXPECT_EQ(re.held_bytes(), 0u);

  ASSERT_TRUE(pending(re.accept(raw_fragment(sid(1), fid(2), 0, 3, type, noise(50)), 0)));
  auto kind = re.accept(raw_fragment(sid(1), fid(2), 2, 3, 0x11, noise(50)), 0);
  ASSERT_FALSE(kind);
  EXPECT_EQ(kind.error(), Errc::malformed);
  EXPECT_EQ(re.set_count(), 0u);

  // A complete set whose frame is not a packet.
  auto junk = re.accept(raw_fragment(sid(1), fid(3), 0, 1, type, Bytes{0x07, 0x01}), 0);
  ASSERT_FALSE(junk);
  EXPECT_EQ(re.set_count(), 0u);

  auto over = re.accept(raw_fragment(sid(1), fid(4), 0, 257, type, noise(10)), 0);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), Errc::too_large);
  Packet not_fragment = raw_fragment(sid(1), fid(5), 0, 2, type, noise(10));
  not_fragment.type = type;
  EXPECT_EQ(error_of(re.accept(not_fragment, 0)), Errc::invalid_argument);
  Packet short_header = raw_fragment(sid(1), fid(5), 0, 2, type, {});
  short_header.payload.resize(12);
  EXPECT_EQ(error_of(re.accept(short_header, 0)), Errc::truncated);
  EXPECT_EQ(re.stats().rejected, 6u);
}

TEST(BitchatFragReassembly, ManyPartialSetsHitTheCapsWithBackpressure) {
  const auto type = static_cast<std::uint8_t>(MessageType::message);
  Reassembler re;  // Android's defaults: 64 sets
  std::size_t refused = 0;
  for (std::uint8_t s = 0; s < 100; ++s) {
    auto got = re.accept(raw_fragment(sid(s), fid(1), 0, 2, type, noise(469)), 1'000);
    if (!got) {
      EXPECT_EQ(got.error(), Errc::backpressure);
      ++refused;
    }
    EXPECT_LE(re.set_count(), 64u);
    EXPECT_LE(re.held_bytes(), re.limits().max_total_bytes);
  }
  EXPECT_EQ(refused, 36u);
  // Once the old sets time out, a new one is let in (accept() expires them itself).
  EXPECT_TRUE(re.accept(raw_fragment(sid(200), fid(1), 0, 2, type, noise(469)), 31'000));
  EXPECT_EQ(re.set_count(), 1u);

  ReassemblyLimits tight;
  tight.max_total_bytes = 2'000;
  tight.max_set_bytes = 1'000;
  Reassembler small(tight);
  refused = 0;
  for (std::uint8_t s = 0; s < 20; ++s) {
    auto got = small.accept(raw_fragment(sid(s), fid(1), 0, 3, type, noise(300)), 0);
    if (!got) {
      EXPECT_EQ(got.error(), Errc::backpressure);
      ++refused;
    }
    EXPECT_LE(small.held_bytes(), tight.max_total_bytes);
  }
  EXPECT_EQ(refused, 14u);  // 6 * 300 bytes held
  // A set that would exceed its own cap is dropped: it could never complete.
  Reassembler per_set(tight);
  ASSERT_TRUE(per_set.accept(raw_fragment(sid(1), fid(1), 0, 3, type, noise(450)), 0));
  ASSERT_TRUE(per_set.accept(raw_fragment(sid(1), fid(1), 1, 3, type, noise(450)), 0));
  auto over = per_set.accept(raw_fragment(sid(1), fid(1), 2, 3, type, noise(450)), 0);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), Errc::too_large);
  EXPECT_EQ(per_set.set_count(), 0u);
  EXPECT_EQ(per_set.held_bytes(), 0u);
}

TEST(BitchatFragReassembly, ASignedOriginalStillVerifiesWithTtlZero) {
  ASSERT_GE(sodium_init(), 0);
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk, other_pk;
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> sk, other_sk;
  crypto_sign_keypair(pk.data(), sk.data());
  crypto_sign_keypair(other_pk.data(), other_sk.data());
  Packet p;
  p.type = static_cast<std::uint8_t>(MessageType::message);
  p.ttl = 7;
  p.timestamp_ms = 1'760'000'000'000ull;
  p.sender = sid(0x77);
  p.recipient = kBroadcastId;
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,";
  const Bytes r = noise(4000, 3);
  for (auto b : r) p.payload.push_back(static_cast<std::uint8_t>(alphabet[b % alphabet.size()]));
  ASSERT_FALSE(sign(p, sk));
  ASSERT_TRUE(p.received_compressed) << "text this long is sent compressed";
  auto frags = split(p, 512);
  ASSERT_GT(frags.size(), 1u);
  std::swap(frags.front(), frags.back());
  Reassembler re;
  auto got = feed(re, frags);
  ASSERT_TRUE(got);
  expect_same(*got, p);
  EXPECT_EQ(got->received_compressed, p.received_compressed);
  EXPECT_EQ(got->ttl, 0);  // signatures exclude TTL, so TTL 0 does not break them
  EXPECT_FALSE(verify(*got, pk));
  EXPECT_EQ(verify(*got, other_pk), Errc::bad_signature);
}

// Length arithmetic (a sibling reassembler took the first fragment's length as the chunk size and
// wrote at index * chunk): here nothing is placed by offset; parts are concatenated in index order,
// so unequal, empty or oversized chunks can only make a frame that fails to decode, never a write
// outside a buffer, and every sum is checked against the caps before it is added.
TEST(BitchatFragReassembly, UnequalChunksAreConcatenatedNotPlacedByOffset) {
  const Packet original = private_message(700);
  const Bytes frame = *encode(original, {.pad = false});
  // A short first fragment, then one with the rest, then an empty last one: a reassembler that
  // sized its buffer from the first fragment would overflow on the second.
  const std::vector<Packet> parts = {
      raw_fragment(sid(0x11), fid(3), 0, 3, original.type, Bytes(frame.begin(), frame.begin() + 5)),
      raw_fragment(sid(0x11), fid(3), 1, 3, original.type, Bytes(frame.begin() + 5, frame.end())),
      raw_fragment(sid(0x11), fid(3), 2, 3, original.type, Bytes{}),
  };
  Reassembler r;
  auto done = feed(r, {parts[2], parts[1], parts[0]});
  ASSERT_TRUE(done);
  expect_same(*done, original);
  EXPECT_EQ(r.held_bytes(), 0u);
}

TEST(BitchatFragReassembly, SetBytesAreCheckedBeforeTheyAreAddedAtEveryTotal) {
  ReassemblyLimits limits;
  limits.max_fragments = 65535;
  limits.max_set_bytes = 1000;
  limits.max_total_bytes = 1500;
  Reassembler r(limits);
  // The largest total a header can state, with chunks that sum past the set cap on the third.
  EXPECT_TRUE(pending(r.accept(raw_fragment(sid(1), fid(1), 0, 65535, 2, Bytes(400, 1)), 0)));
  EXPECT_TRUE(pending(r.accept(raw_fragment(sid(1), fid(1), 65534, 65535, 2, Bytes(400, 2)), 0)));
  EXPECT_EQ(r.held_bytes(), 800u);
  EXPECT_EQ(error_of(r.accept(raw_fragment(sid(1), fid(1), 7, 65535, 2, Bytes(201, 3)), 0)),
            make_error_code(Errc::too_large));
  EXPECT_EQ(r.held_bytes(), 0u);  // the set is dropped
  EXPECT_EQ(r.set_count(), 0u);
  // A first fragment larger than a whole set is refused before anything is held.
  EXPECT_EQ(error_of(r.accept(raw_fragment(sid(1), fid(2), 0, 2, 2, Bytes(1001, 4)), 0)),
            make_error_code(Errc::too_large));
  // The total cap across sets: 2 x 700 fit, the third 700 does not.
  EXPECT_TRUE(pending(r.accept(raw_fragment(sid(1), fid(3), 0, 2, 2, Bytes(700, 5)), 0)));
  EXPECT_TRUE(pending(r.accept(raw_fragment(sid(2), fid(3), 0, 2, 2, Bytes(700, 6)), 0)));
  EXPECT_EQ(error_of(r.accept(raw_fragment(sid(3), fid(3), 0, 2, 2, Bytes(700, 7)), 0)),
            make_error_code(Errc::backpressure));
  EXPECT_EQ(r.held_bytes(), 1400u);
  // Index equal to total, and total 0, are malformed headers.
  Packet bad = raw_fragment(sid(4), fid(4), 0, 1, 2, Bytes{1});
  bad.payload[8] = 0x00, bad.payload[9] = 0x01;  // index 1 of 1
  EXPECT_EQ(error_of(r.accept(bad, 0)), make_error_code(Errc::malformed));
  bad.payload[9] = 0x00, bad.payload[11] = 0x00;  // total 0
  EXPECT_EQ(error_of(r.accept(bad, 0)), make_error_code(Errc::malformed));
}

TEST(BitchatFragmenter, ChunkArithmeticCoversTheFrameExactlyAtEveryMtu) {
  for (std::size_t mtu : {60u, 61u, 100u, 128u, 511u, 512u, 513u, 1400u}) {
    for (std::size_t n : {1u, 468u, 469u, 470u, 2000u}) {
      const Packet original = routed_v2(n, sid(0x33), static_cast<std::uint32_t>(n));
      auto parts = fragment_packet(original, mtu, fid(9));
      if (!parts) {
        EXPECT_EQ(parts.error(), make_error_code(Errc::too_large)) << mtu;
        EXPECT_EQ(fragment_chunk_size(original, mtu), 0u);
        continue;
      }
      std::size_t data = 0;
      for (const auto& p : *parts) {
        EXPECT_LE(encode(p, {.pad = false})->size(), mtu);
        if (p.type == kFragmentType) data += decode_fragment(p.payload)->data.size();
      }
      if ((*parts)[0].type == kFragmentType) EXPECT_EQ(data, encode(original, {.pad = false})->size());
      Reassembler r;
      if ((*parts)[0].type == kFragmentType) {
        auto done = feed(r, *parts);
        ASSERT_TRUE(done) << mtu << " " << n;
        expect_same(*done, original);
      }
    }
  }
}

}  // namespace
}  // namespace hyphae::bitchat
