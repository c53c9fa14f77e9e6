#include <gtest/gtest.h>

#include <random>

#include "core/error.hpp"
#include "webrtc/dcep.hpp"

namespace hyphae::webrtc {
namespace {

TEST(Dcep, OpenEncodesTheRfcLayout) {
  DcepOpen open;
  open.reliability = Reliability::partial_rexmit;
  open.ordered = true;
  open.priority = 256;
  open.reliability_parameter = 3;
  open.label = "p2p-messenger";
  open.protocol = "p2p-messenger";
  auto bytes = encode_dcep_open(open);
  ASSERT_TRUE(bytes);
  // The vector written out by hand from RFC 8832 §5.1.
  Bytes expected = {0x03, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x0d, 0x00, 0x0d};
  append(expected, as_bytes("p2p-messenger"));
  append(expected, as_bytes("p2p-messenger"));
  EXPECT_EQ(*bytes, expected);
  auto decoded = decode_dcep(*bytes);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(std::get<DcepOpen>(*decoded), open);
}

TEST(Dcep, UnorderedAndTimedRoundTrip) {
  DcepOpen open;
  open.reliability = Reliability::partial_timed;
  open.ordered = false;
  open.reliability_parameter = 1500;
  open.label = "";
  open.protocol = "x";
  auto bytes = encode_dcep_open(open);
  ASSERT_TRUE(bytes);
  EXPECT_EQ((*bytes)[1], 0x82);
  auto decoded = decode_dcep(*bytes);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(std::get<DcepOpen>(*decoded), open);
}

TEST(Dcep, ReliableWritesZeroParameter) {
  DcepOpen open;
  open.reliability_parameter = 99;  // meaningless for reliable channels
  auto bytes = encode_dcep_open(open);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(get_u32be(bytes->data() + 4), 0u);
  // And a peer's nonzero one is ignored on receipt (RFC 8832 section 5.1), so a decoded message
  // encodes to bytes that decode to the same message.
  (*bytes)[7] = 0x63;
  auto decoded = decode_dcep(*bytes);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(std::get<DcepOpen>(*decoded).reliability_parameter, 0u);
}

TEST(Dcep, Ack) {
  EXPECT_EQ(encode_dcep_ack(), Bytes{0x02});
  auto decoded = decode_dcep(encode_dcep_ack());
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(std::holds_alternative<DcepAck>(*decoded));
}

TEST(Dcep, RejectsMalformed) {
  EXPECT_EQ(decode_dcep(Bytes{}).error(), make_error_code(Errc::truncated));
  EXPECT_EQ(decode_dcep(Bytes{0x02, 0x00}).error(), make_error_code(Errc::malformed));
  EXPECT_EQ(decode_dcep(Bytes{0x04}).error(), make_error_code(Errc::malformed));
  EXPECT_EQ(decode_dcep(Bytes{0x03, 0x00, 0x01}).error(), make_error_code(Errc::truncated));
  // Channel type 0x03 does not exist.
  EXPECT_EQ(decode_dcep(Bytes{0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}).error(),
            make_error_code(Errc::malformed));
  // A label longer than what follows.
  EXPECT_EQ(decode_dcep(Bytes{0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 'a'}).error(),
            make_error_code(Errc::truncated));
  // Bytes after the message.
  EXPECT_EQ(decode_dcep(Bytes{0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 'a', 'b'}).error(),
            make_error_code(Errc::malformed));
  // A label over our bound.
  EXPECT_EQ(decode_dcep(Bytes{0x03, 0x00, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0}).error(),
            make_error_code(Errc::too_large));
}

TEST(Dcep, EveryPrefixOfAValidOpenFailsCleanly) {
  DcepOpen open;
  open.label = "chat";
  open.protocol = "p";
  auto bytes = encode_dcep_open(open);
  ASSERT_TRUE(bytes);
  for (std::size_t n = 0; n < bytes->size(); ++n) {
    EXPECT_FALSE(decode_dcep(ByteView(bytes->data(), n))) << n;
  }
}

TEST(Dcep, EncodeRejectsOversizedStrings) {
  DcepOpen open;
  open.label.assign(70000, 'a');
  EXPECT_EQ(encode_dcep_open(open).error(), make_error_code(Errc::invalid_argument));
}

TEST(Dcep, RandomBytesDecodeOrFailAndRoundTrip) {
  std::mt19937 rng(3);
  for (int round = 0; round < 50000; ++round) {
    Bytes bytes(rng() % 40);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng() % 4 == 0 ? rng() % 4 : rng());
    if (!bytes.empty() && rng() % 2) bytes[0] = kDcepOpen;
    auto decoded = decode_dcep(bytes);
    if (!decoded || !std::holds_alternative<DcepOpen>(*decoded)) continue;
    auto& open = std::get<DcepOpen>(*decoded);
    auto encoded = encode_dcep_open(open);
    ASSERT_TRUE(encoded);
    if (open.reliability != Reliability::reliable) {
      EXPECT_EQ(*encoded, bytes);
    }
  }
}

}  // namespace
}  // namespace hyphae::webrtc
