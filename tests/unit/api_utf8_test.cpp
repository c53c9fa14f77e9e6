// The UTF-8 checks that decide how network-supplied text reaches JSON: RFC 3629 validation, the
// replacement used for display-only text, and serialization that cannot throw.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "util/json_util.hpp"

namespace hyphae {
namespace {

bool valid(std::initializer_list<std::uint8_t> bytes) {
  Bytes b(bytes);
  return is_valid_utf8(ByteView(b));
}

TEST(ApiUtf8, RejectsSurrogatesOverlongFormsAndCodePointsAboveTheUnicodeRange) {
  EXPECT_FALSE(valid({0xed, 0xa0, 0x80}));  // U+D800, a surrogate
  EXPECT_FALSE(valid({0xed, 0xbf, 0xbf}));  // U+DFFF
  EXPECT_FALSE(valid({0xe0, 0x80, 0x80}));  // overlong U+0000
  EXPECT_FALSE(valid({0xe0, 0x9f, 0xbf}));  // overlong U+07FF
  EXPECT_FALSE(valid({0xc0, 0x80}));        // overlong NUL
  EXPECT_FALSE(valid({0xc1, 0xbf}));
  EXPECT_FALSE(valid({0xf0, 0x8f, 0xbf, 0xbf}));  // overlong U+FFFF
  EXPECT_FALSE(valid({0xf4, 0x90, 0x80, 0x80}));  // U+110000
  EXPECT_FALSE(valid({0xf5, 0x80, 0x80, 0x80}));
  EXPECT_FALSE(valid({0xff}));
  EXPECT_FALSE(valid({0x80}));              // a lone continuation byte
  EXPECT_FALSE(valid({0xe2, 0x82}));        // truncated
  EXPECT_FALSE(valid({0xf0, 0x9f, 0x98}));  // truncated 4-byte form
  EXPECT_FALSE(valid({0xe2, 0x28, 0xa1}));  // bad continuation
}

TEST(ApiUtf8, AcceptsEveryWellFormedLength) {
  EXPECT_TRUE(valid({}));
  EXPECT_TRUE(valid({'h', 'i'}));
  EXPECT_TRUE(valid({0xc2, 0x80}));              // U+0080
  EXPECT_TRUE(valid({0xe2, 0x82, 0xac}));        // €
  EXPECT_TRUE(valid({0xed, 0x9f, 0xbf}));        // U+D7FF, just below the surrogates
  EXPECT_TRUE(valid({0xee, 0x80, 0x80}));        // U+E000, just above
  EXPECT_TRUE(valid({0xef, 0xbf, 0xbd}));        // U+FFFD
  EXPECT_TRUE(valid({0xf0, 0x90, 0x80, 0x80}));  // U+10000
  EXPECT_TRUE(valid({0xf0, 0x9f, 0x98, 0x80}));  // 😀
  EXPECT_TRUE(valid({0xf4, 0x8f, 0xbf, 0xbf}));  // U+10FFFF
}

TEST(ApiUtf8, WhatTheValidatorAcceptsNlohmannSerializes) {
  // The contract put_payload relies on: text it passes never makes dump() throw.
  for (std::string text : {std::string("\xed\xa0\x80"), std::string("\xe0\x80\x80"), std::string("\xc0\x80"),
                           std::string("\xf4\x90\x80\x80"), std::string("ok \xf0\x9f\x98\x80")}) {
    nlohmann::json j;
    put_payload(j, ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    EXPECT_NO_THROW((void)j.dump()) << j.begin().key();
    if (is_valid_utf8(text)) {
      EXPECT_EQ(j["payload"], text);
    } else {
      ASSERT_TRUE(j.contains("payload_base64"));
      EXPECT_EQ(base64_decode(j["payload_base64"].get<std::string>()), Bytes(text.begin(), text.end()));
    }
  }
}

TEST(ApiUtf8, DisplayTextIsReplacedNotThrown) {
  EXPECT_EQ(sanitize_utf8("a\xff"
                          "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(sanitize_utf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(sanitize_utf8("caf\xc3\xa9"), "caf\xc3\xa9");
  nlohmann::json j{{"nickname", "\xff"}, {"list", {"ok", "\xc0\x80"}}};
  EXPECT_THROW((void)j.dump(), nlohmann::json::type_error);
  const auto text = dump_json(j);
  auto back = nlohmann::json::parse(text);
  EXPECT_EQ(back["nickname"], "\xef\xbf\xbd");
  EXPECT_EQ(back["list"][0], "ok");
  sanitize_strings(j);
  EXPECT_EQ(j["nickname"], "\xef\xbf\xbd");
  EXPECT_NO_THROW((void)j.dump());
}

}  // namespace
}  // namespace hyphae
