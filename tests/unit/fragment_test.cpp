// Fragmentation and reassembly (src/fragment): round trips at several MTUs, LZ4, loss of order,
// duplicates, corruption, inconsistent headers, timeouts and memory caps.
#include "fragment/fragment.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <random>

#include "core/error.hpp"

using namespace hyphae;
using namespace hyphae::fragment;

namespace {

Bytes random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return b;
}

// Feeds fragments in the given order; returns the completed message (expects exactly one).
Bytes reassemble(Reassembler& r, const std::vector<Bytes>& frags, const std::string& peer = "p") {
  std::optional<Bytes> whole;
  for (const auto& f : frags) {
    auto got = r.accept(peer, f, 1000);
    EXPECT_TRUE(got.has_value()) << got.error().message();
    if (got && *got) {
      EXPECT_FALSE(whole.has_value()) << "completed twice";
      whole = std::move(**got);
    }
  }
  EXPECT_TRUE(whole.has_value());
  return whole.value_or(Bytes{});
}

// Builds one fragment by hand (valid version and CRC), for geometries split() never makes.
Bytes craft(std::uint16_t index, std::uint16_t count, std::uint32_t total, Bytes data, std::uint8_t flags = 0,
            std::uint32_t plain = 0) {
  Bytes f(kHeaderSize + data.size());
  f[0] = kVersion;
  f[1] = flags;
  f[2] = 0x77;  // set id
  auto put16 = [&](std::size_t at, std::uint16_t v) {
    f[at] = static_cast<std::uint8_t>(v >> 8);
    f[at + 1] = static_cast<std::uint8_t>(v);
  };
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) f[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
  };
  put16(18, index);
  put16(20, count);
  put32(22, total);
  put32(26, flags ? plain : total);
  put32(30, static_cast<std::uint32_t>(
                ::crc32(::crc32(0L, Z_NULL, 0), data.data(), static_cast<uInt>(data.size()))));
  std::copy(data.begin(), data.end(), f.begin() + kHeaderSize);
  return f;
}

}  // namespace

TEST(Fragment, RoundTripsAtEverySizeAroundTheChunkBoundary) {
  const std::size_t mtu = 244, chunk = mtu - kHeaderSize;
  for (std::size_t n :
       {std::size_t{0}, std::size_t{1}, chunk - 1, chunk, chunk + 1, 3 * chunk, 3 * chunk + 7}) {
    Bytes msg = random_bytes(n, static_cast<std::uint32_t>(n));
    auto frags = split(msg, FragmentOptions{mtu, 1024, std::nullopt});
    ASSERT_TRUE(frags) << n;
    EXPECT_EQ(frags->size(), n == 0 ? 1 : (n + chunk - 1) / chunk) << n;
    for (const auto& f : *frags) EXPECT_LE(f.size(), mtu);
    Reassembler r;
    EXPECT_EQ(reassemble(r, *frags), msg) << n;
    EXPECT_EQ(r.held_bytes(), 0u);
  }
}

TEST(Fragment, OneMebibyteOutOfOrderWithDuplicates) {
  Bytes msg = random_bytes(1 << 20, 7);
  auto frags = split(msg, FragmentOptions{244, 1024, std::nullopt});
  ASSERT_TRUE(frags);
  EXPECT_EQ(frags->size(), (msg.size() + 209) / 210);
  auto shuffled = *frags;
  shuffled.push_back((*frags)[5]);  // a duplicate before completion
  std::mt19937 rng(3);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  // Ensure the duplicate is not the very last one fed (it would come after completion).
  Reassembler r;
  std::optional<Bytes> whole;
  for (const auto& f : shuffled) {
    auto got = r.accept("p", f, 1000);
    ASSERT_TRUE(got);
    if (*got) whole = std::move(**got);
  }
  ASSERT_TRUE(whole);
  EXPECT_EQ(*whole, msg);
  EXPECT_EQ(r.stats().completed, 1u);
  EXPECT_EQ(r.held_bytes(), 0u);
}

TEST(Fragment, CompressesOnlyWhenItShrinksAndFromTheThreshold) {
  Bytes text(8000, 'a');
  for (std::size_t i = 0; i < text.size(); i += 17) text[i] = 'b';
  auto packed = split(text, FragmentOptions{244, 1024, std::nullopt});
  ASSERT_TRUE(packed);
  auto first = decode(packed->front());
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->flags & flags::lz4);
  EXPECT_EQ(first->plain_size, text.size());
  EXPECT_LT(first->total_size, text.size() / 4);
  Reassembler r;
  EXPECT_EQ(reassemble(r, *packed), text);

  Bytes noise = random_bytes(8000, 1);  // incompressible: sent as is
  auto plain = split(noise, FragmentOptions{244, 1024, std::nullopt});
  ASSERT_TRUE(plain);
  EXPECT_FALSE(decode(plain->front())->flags & flags::lz4);
  Bytes small(900, 'a');  // below the threshold: sent as is
  EXPECT_FALSE(decode(split(small, FragmentOptions{244, 1024, std::nullopt})->front())->flags & flags::lz4);
}

TEST(Fragment, CorruptedDataFailsItsCrcAndTheSetStillCompletesFromAGoodCopy) {
  Bytes msg = random_bytes(1000, 2);
  auto frags = split(msg, FragmentOptions{244, 1 << 30, std::nullopt});
  ASSERT_TRUE(frags);
  Reassembler r;
  Bytes bad = (*frags)[1];
  bad.back() ^= 0x01;
  EXPECT_EQ(decode(bad).error(), Errc::malformed);
  EXPECT_EQ(r.accept("p", bad, 0).error(), Errc::malformed);
  EXPECT_EQ(reassemble(r, *frags), msg);
  EXPECT_EQ(r.stats().rejected, 1u);
}

TEST(Fragment, HeadersThatDisagreeWithTheSetAreRejected) {
  Bytes msg = random_bytes(1000, 4);
  SetId id{};
  id[0] = 9;
  auto frags = split(msg, FragmentOptions{244, 1 << 30, id});
  ASSERT_TRUE(frags);
  auto other = split(random_bytes(2000, 5), FragmentOptions{244, 1 << 30, id});  // same id, other size
  ASSERT_TRUE(other);
  Reassembler r;
  ASSERT_TRUE(r.accept("p", (*frags)[0], 0));
  EXPECT_EQ(r.accept("p", (*other)[1], 0).error(), Errc::malformed);
  // Same id from another peer is another set.
  ASSERT_TRUE(r.accept("q", (*other)[1], 0));
  EXPECT_EQ(r.partial_messages(), 2u);
  // Truncated, wrong version, index out of range.
  EXPECT_EQ(decode(ByteView((*frags)[0]).first(kHeaderSize - 1)).error(), Errc::truncated);
  Bytes v2 = (*frags)[0];
  v2[0] = 2;
  EXPECT_EQ(decode(v2).error(), Errc::malformed);
  Bytes idx = (*frags)[0];
  idx[18] = 0xff;
  EXPECT_EQ(decode(idx).error(), Errc::malformed);
}

TEST(Fragment, PartialMessagesExpireAndFreeTheirMemory) {
  ReassemblyLimits limits;
  limits.timeout_ms = 30'000;
  Reassembler r(limits);
  auto frags = split(random_bytes(5000, 6), FragmentOptions{244, 1 << 30, std::nullopt});
  ASSERT_TRUE(frags);
  ASSERT_TRUE(r.accept("p", (*frags)[0], 1000));
  EXPECT_EQ(r.held_bytes("p"), 5000u);
  EXPECT_EQ(r.expire(30'999), 0u);
  EXPECT_EQ(r.expire(31'000), 1u);
  EXPECT_EQ(r.held_bytes(), 0u);
  EXPECT_EQ(r.stats().expired, 1u);
}

TEST(Fragment, MemoryCapsPerPeerAndInTotalRefuseNewSetsButKeepOthers) {
  ReassemblyLimits limits;
  limits.per_peer_bytes = 10'000;
  limits.total_bytes = 15'000;
  Reassembler r(limits);
  auto start = [&](const std::string& peer, std::size_t n, std::uint64_t now) {
    auto frags = split(random_bytes(n, static_cast<std::uint32_t>(n + now)),
                       FragmentOptions{244, 1 << 30, std::nullopt});
    return r.accept(peer, frags->front(), now);
  };
  ASSERT_TRUE(start("a", 6000, 0));
  EXPECT_EQ(start("a", 6000, 0).error(), Errc::backpressure);  // a: 12000 > 10000
  ASSERT_TRUE(start("b", 6000, 0));
  EXPECT_EQ(start("c", 6000, 0).error(), Errc::backpressure);  // total: 18000 > 15000
  EXPECT_EQ(r.held_bytes(), 12'000u);
  // Once the old sets time out they make room.
  ASSERT_TRUE(start("c", 6000, 40'000));
  EXPECT_EQ(r.held_bytes(), 6'000u);
  r.drop_peer("c");
  EXPECT_EQ(r.held_bytes(), 0u);
}

TEST(Fragment, OversizeAndDecompressionBombsAreRefused) {
  ReassemblyLimits limits;
  limits.max_message_bytes = 4096;
  Reassembler r(limits);
  auto big = split(random_bytes(5000, 8), FragmentOptions{244, 1 << 30, std::nullopt});
  EXPECT_EQ(r.accept("p", big->front(), 0).error(), Errc::too_large);
  Bytes zeros(100'000, 0);  // compresses to a few hundred bytes but claims 100 000 plain bytes
  auto bomb = split(zeros, FragmentOptions{244, 1024, std::nullopt});
  ASSERT_TRUE(bomb);
  EXPECT_EQ(r.accept("p", bomb->front(), 0).error(), Errc::too_large);
  EXPECT_EQ(r.held_bytes(), 0u);
}

TEST(Fragment, InvalidOptions) {
  EXPECT_EQ(split(Bytes(10), FragmentOptions{kHeaderSize, 1024, std::nullopt}).error(),
            Errc::invalid_argument);
  EXPECT_EQ(split(Bytes(70'000), FragmentOptions{kHeaderSize + 1, 1 << 30, std::nullopt}).error(),
            Errc::too_large);
}

// Regression: the first fragment to arrive set the chunk size without checking it against the
// total, so (0, 3, total 10, 8 bytes) then (1, 3, total 10, 8 bytes) wrote past a 10-byte buffer.
TEST(Fragment, ChunkGeometryThatOverrunsTheTotalIsMalformed) {
  Reassembler r;
  EXPECT_EQ(r.accept("p", craft(0, 3, 10, Bytes(8, 1)), 0).error(), Errc::malformed);
  EXPECT_EQ(r.accept("p", craft(1, 3, 10, Bytes(8, 2)), 0).error(), Errc::malformed);
  EXPECT_EQ(r.held_bytes(), 0u);
  // A last fragment longer than the chunk it implies, an empty chunk, an empty last fragment.
  Reassembler r2;
  EXPECT_EQ(r2.accept("p", craft(2, 3, 30, Bytes(20, 1)), 0).error(), Errc::malformed);
  EXPECT_EQ(r2.accept("p", craft(0, 2, 8, Bytes(0)), 0).error(), Errc::malformed);
  EXPECT_EQ(r2.accept("p", craft(0, 3, 16, Bytes(8, 1)), 0).error(), Errc::malformed);
  EXPECT_EQ(r2.held_bytes(), 0u);
  // A set with a valid geometry still completes afterwards.
  Reassembler r3;
  ASSERT_TRUE(r3.accept("p", craft(1, 3, 20, Bytes(8, 2)), 0));
  ASSERT_TRUE(r3.accept("p", craft(2, 3, 20, Bytes(4, 3)), 0));
  auto whole = r3.accept("p", craft(0, 3, 20, Bytes(8, 1)), 0);
  ASSERT_TRUE(whole && *whole);
  EXPECT_EQ((**whole)[0], 1);
  EXPECT_EQ((**whole)[8], 2);
  EXPECT_EQ((**whole)[19], 3);
}

TEST(Fragment, Lz4ClaimsBeyondLz4sRatioAreMalformed) {
  // 300 compressed bytes can never expand to 16 MiB: refused before any allocation.
  EXPECT_EQ(decode(craft(0, 1, 300, Bytes(300, 0), flags::lz4, 16u << 20)).error(), Errc::malformed);
  EXPECT_TRUE(decode(craft(0, 1, 300, Bytes(300, 0), flags::lz4, 60'000)));
}
