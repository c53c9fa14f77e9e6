#include "core/bytes.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

using namespace hyphae;

TEST(Bytes, HexRoundTrip) {
  Bytes b{0x00, 0x12, 0xab, 0xff};
  EXPECT_EQ(to_hex(b), "0012abff");
  bool ok = false;
  EXPECT_EQ(from_hex("0012ABff", &ok), b);
  EXPECT_TRUE(ok);
  from_hex("0g", &ok);
  EXPECT_FALSE(ok);
}

TEST(Bytes, VarintRoundTripAndTruncation) {
  for (std::uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 0xffffffffffffffffull}) {
    Bytes out;
    put_uvarint(out, v);
    std::size_t pos = 0;
    std::uint64_t got = 0;
    ASSERT_TRUE(get_uvarint(out, pos, got));
    EXPECT_EQ(got, v);
    EXPECT_EQ(pos, out.size());
    out.pop_back();
    pos = 0;
    EXPECT_FALSE(get_uvarint(out, pos, got));
  }
}

// A 64-bit value needs at most 10 groups and its 10th group holds only bit 63: anything more would be
// silently truncated (the old decoder read 0xff..ff 0x7f as UINT64_MAX).
TEST(Bytes, UvarintRejectsOverflowAndOverlongInput) {
  std::size_t pos = 0;
  std::uint64_t got = 0;
  const Bytes max{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  ASSERT_TRUE(get_uvarint(max, pos, got));
  EXPECT_EQ(got, UINT64_MAX);
  EXPECT_EQ(pos, 10u);
  for (std::uint8_t last : {0x02, 0x7f}) {
    Bytes overflow = max;
    overflow.back() = last;
    pos = 0;
    EXPECT_FALSE(get_uvarint(overflow, pos, got)) << int{last};
  }
  const Bytes eleven{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  pos = 0;
  EXPECT_FALSE(get_uvarint(eleven, pos, got));
  // Protobuf accepts non-minimal encodings (padding groups); this decoder does too, callers that
  // need the canonical form (multihash, CID) check it themselves.
  const Bytes padded{0x81, 0x80, 0x00};
  pos = 0;
  ASSERT_TRUE(get_uvarint(padded, pos, got));
  EXPECT_EQ(got, 1u);
}

TEST(Error, CategoryNamesAndMessages) {
  std::error_code ec = Errc::replay;
  EXPECT_STREQ(ec.category().name(), "hyphae");
  EXPECT_EQ(ec.message(), "replayed message id");
}
