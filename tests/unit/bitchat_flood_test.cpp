// The relay core and the packet decoder under floods (review findings): a flood of fresh sender IDs
// keeps the rate-limit table bounded without resetting a real abuser's bucket; compressed payloads
// are inflated only after the rate limit took the packet, and never beyond what DEFLATE can reach.
#include <gtest/gtest.h>

#include "bitchat/mesh_core.hpp"
#include "core/error.hpp"

namespace hyphae::bitchat {
namespace {

ShortId sid(std::uint64_t v) {
  ShortId s{};
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * (7 - i)));
  return s;
}

Bytes public_message(const ShortId& from, std::uint64_t ts) {
  Packet p;
  p.type = static_cast<std::uint8_t>(MessageType::message);
  p.sender = from;
  p.timestamp_ms = ts;
  p.payload = {'h', 'i'};
  return *encode(p, {.pad = false, .compress = false});
}

// A public message whose compressed bytes are `deflate` and whose stated original size is `size`.
Bytes compressed_message(const ShortId& from, std::uint64_t ts, Bytes deflate, std::size_t size) {
  Packet p;
  p.version = 2;
  p.type = static_cast<std::uint8_t>(MessageType::message);
  p.sender = from;
  p.timestamp_ms = ts;
  p.payload.assign(size, 'a');  // only its size is encoded, in front of the DEFLATE bytes
  p.received_compressed = std::move(deflate);
  return *encode(p, {.pad = false});
}

MeshOptions options() {
  MeshOptions o;
  o.self = sid(1);
  o.jitter = false;
  o.per_sender_rate = 50;
  o.per_sender_burst = 100;
  o.total_rate = o.total_burst = 1e9;  // per-sender behaviour on its own
  return o;
}

TEST(BitchatFlood, FreshSenderIdsKeepTheRateLimitTableBoundedAndDoNotResetAnAbuser) {
  MeshOptions o = options();
  o.max_sender_buckets = 4096;
  MeshCore core(o);
  core.link_up(10, sid(10));
  const std::uint64_t now = 1'000'000;
  // A real abuser empties its bucket.
  const ShortId abuser = sid(0xABAB);
  std::size_t abuser_delivered = 0;
  for (std::uint64_t ts = 0; ts < 150; ++ts)
    abuser_delivered += core.on_frame(10, public_message(abuser, ts), now).deliveries.size();
  ASSERT_EQ(abuser_delivered, 100u);
  // 100 000 sender IDs nobody will use twice, at the same moment.
  for (std::uint64_t i = 0; i < 100'000; ++i) {
    core.on_frame(10, public_message(sid(0x1000'0000 + i), 7), now);
    ASSERT_LE(core.sender_bucket_count(), o.max_sender_buckets);
  }
  EXPECT_LE(core.sender_bucket_count(), o.max_sender_buckets);
  // The flood did not hand the abuser a fresh bucket ...
  EXPECT_TRUE(core.on_frame(10, public_message(abuser, 1000), now).deliveries.empty());
  EXPECT_TRUE(core.on_frame(10, public_message(abuser, 1001), now + 10).deliveries.empty());
  // ... and a legitimate sender still gets through, then and later.
  EXPECT_EQ(core.on_frame(10, public_message(sid(0x5EED), 1), now).deliveries.size(), 1u);
  EXPECT_EQ(core.on_frame(10, public_message(sid(0x5EED), 2), now + 5000).deliveries.size(), 1u);
  // Once idle, full buckets are worth nothing and are forgotten.
  core.on_frame(10, public_message(sid(0x5EEE), 1), now + 60'000);
  EXPECT_LE(core.sender_bucket_count(), 3u);
}

TEST(BitchatFlood, CompressedPayloadsAreInflatedOnlyAfterTheRateLimitTookThem) {
  MeshOptions o = options();
  o.per_sender_rate = 1;
  o.per_sender_burst = 3;
  MeshCore core(o);
  core.link_up(10, sid(10));
  const std::uint64_t now = 1'000'000;
  const Bytes garbage = {0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8};
  // A sender with tokens: a bad DEFLATE stream costs it one and is malformed.
  core.on_frame(10, compressed_message(sid(7), 1, garbage, 4000), now);
  EXPECT_EQ(core.counters().dropped_malformed, 1u);
  EXPECT_EQ(core.counters().inflated, 1u);
  // A real compressed message is inflated and delivered.
  const Bytes text(3000, 'z');
  const Bytes real = compressed_message(sid(7), 2, *compress(text), text.size());
  auto first = core.on_frame(10, real, now);
  ASSERT_EQ(first.deliveries.size(), 1u);
  EXPECT_EQ(first.deliveries[0].packet.payload, text);
  // Its copies are paid for too: replaying one frame must not buy free inflating.
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(core.on_frame(10, real, now).deliveries.empty());
  EXPECT_EQ(core.counters().duplicates, 1u);
  EXPECT_EQ(core.counters().dropped_rate, 9u);
  EXPECT_EQ(core.counters().inflated, 3u);
  // The bucket is empty: compressed frames are dropped by the rate limit before any inflating.
  for (std::uint64_t ts = 10; ts < 1010; ++ts)
    core.on_frame(10, compressed_message(sid(7), ts, garbage, 60'000), now);
  EXPECT_EQ(core.counters().dropped_malformed, 1u);
  EXPECT_EQ(core.counters().dropped_rate, 1009u);
  EXPECT_EQ(core.counters().inflated, 3u);
  // Uncompressed copies are still found before the rate limit, and cost nothing.
  EXPECT_EQ(core.on_frame(10, public_message(sid(8), 1), now).deliveries.size(), 1u);
  for (int i = 0; i < 10; ++i)
    EXPECT_TRUE(core.on_frame(10, public_message(sid(8), 1), now).deliveries.empty());
  EXPECT_EQ(core.counters().duplicates, 11u);
  EXPECT_EQ(core.counters().dropped_rate, 1009u);
}

TEST(BitchatFlood, DecodeRefusesARatioNoDeflateStreamCanReach) {
  // DEFLATE codes at best 258 bytes in 2 bits: 1032 to 1. A frame claiming more is refused
  // before anything is allocated for it.
  const Bytes small(16, 0x00);
  auto refused = decode(compressed_message(sid(7), 1, small, 16 * 2000));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), Errc::too_large);
  // The best real compression (zeros) stays within the cap and decodes.
  const Bytes zeros(65'535, 0);
  auto packed = compress(zeros);
  ASSERT_TRUE(packed);
  EXPECT_GT(zeros.size() / packed->size(), 500u);
  auto ok = decode(compressed_message(sid(7), 1, *packed, zeros.size()));
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->payload, zeros);
  EXPECT_LE(DecodeLimits{}.max_expansion, 1032u);
}

}  // namespace
}  // namespace hyphae::bitchat
