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

TEST(Error, CategoryNamesAndMessages) {
  std::error_code ec = Errc::replay;
  EXPECT_STREQ(ec.category().name(), "hyphae");
  EXPECT_EQ(ec.message(), "replayed message id");
}
