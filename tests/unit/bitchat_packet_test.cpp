// BitChat packet framing, padding, compression, signatures and payload codecs. Golden bytes from
// bitchat-android's ClientRewriteWireContractTest.kt (via ../shared/notes/bitchat.md §1, §3, §5).
#include <gtest/gtest.h>
#include <sodium.h>

#include "bitchat/packet.hpp"
#include "bitchat/payloads.hpp"
#include "core/error.hpp"

namespace hyphae::bitchat {
namespace {

Bytes hex(std::string_view h) {
  std::string clean;
  for (char c : h)
    if (c != ' ' && c != '|') clean.push_back(c);
  bool ok = false;
  auto b = from_hex(clean, &ok);
  EXPECT_TRUE(ok) << h;
  return b;
}

ShortId id(std::string_view h) {
  auto b = hex(h);
  ShortId out{};
  std::copy_n(b.begin(), 8, out.begin());
  return out;
}

TEST(BitchatPacket, GoldenV1FrameEncodesAndDecodes) {
  Packet p;
  p.version = 1;
  p.type = static_cast<std::uint8_t>(MessageType::message);
  p.ttl = 7;
  p.timestamp_ms = 0x0102030405060708ull;
  p.sender = id("1011121314151617");
  p.payload = hex("aabbcc");
  auto frame = encode(p, {.pad = false, .compress = false});
  ASSERT_TRUE(frame);
  EXPECT_EQ(*frame, hex("01 02 07 0102030405060708 00 0003 1011121314151617 aabbcc"));
  auto back = decode(*frame);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->type, 0x02);
  EXPECT_EQ(back->timestamp_ms, 0x0102030405060708ull);
  EXPECT_EQ(back->sender, p.sender);
  EXPECT_FALSE(back->recipient);
  EXPECT_TRUE(back->is_broadcast());
  EXPECT_EQ(back->payload, p.payload);
}

TEST(BitchatPacket, V2RouteSignatureAndPaddingRoundTrip) {
  Packet p;
  p.version = 2;
  p.type = static_cast<std::uint8_t>(MessageType::noise_encrypted);
  p.ttl = 5;
  p.timestamp_ms = 42;
  p.sender = id("0101010101010101");
  p.recipient = id("0202020202020202");
  p.route = {id("0303030303030303"), id("0404040404040404")};
  p.payload = hex("dead");
  Signature sig;
  sig.fill(0x55);
  p.signature = sig;
  auto unpadded = encode(p, {.pad = false, .compress = false});
  ASSERT_TRUE(unpadded);
  // 02 11 05 000000000000002a 0b 00000002 <sndr8> <rcpt8> 02 <hop8> <hop8> dead <sig64>
  EXPECT_EQ(to_hex(ByteView(*unpadded).first(16)), "021105000000000000002a0b00000002");
  EXPECT_EQ(unpadded->size(), 16u + 8 + 8 + 1 + 16 + 2 + 64);
  EXPECT_EQ((*unpadded)[32], 2);  // hop count
  auto padded = encode(p);
  ASSERT_TRUE(padded);
  EXPECT_EQ(padded->size(), 256u);  // 115 bytes + 16 fit the 256-byte block
  EXPECT_EQ(padded->back(), 256 - unpadded->size());
  for (const auto& frame : {*unpadded, *padded}) {
    auto back = decode(frame);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->route, p.route);
    EXPECT_EQ(back->recipient, p.recipient);
    EXPECT_EQ(back->signature, p.signature);
    EXPECT_EQ(back->payload, p.payload);
    EXPECT_EQ(back->ttl, 5);
  }
  // Version 1 has no route: a route set on a v1 packet is left out, and has_route is not set.
  p.version = 1;
  auto v1 = encode(p, {.pad = false, .compress = false});
  ASSERT_TRUE(v1);
  EXPECT_EQ((*v1)[11] & flags::has_route, 0);
  EXPECT_TRUE(decode(*v1)->route.empty());
}

TEST(BitchatPacket, PaddingFollowsTheAppsBlocks) {
  EXPECT_EQ(pad(Bytes(22, 1)).size(), 256u);
  EXPECT_EQ(pad(Bytes(240, 1)).size(), 256u);  // 240 + 16 = 256
  EXPECT_EQ(pad(Bytes(241, 1)).size(), 241u);  // 512 would need 271 pad bytes (> 255): unpadded
  EXPECT_EQ(pad(Bytes(300, 1)).size(), 512u);
  EXPECT_EQ(pad(Bytes(600, 1)).size(), 600u);    // 424 pad bytes would be needed: unpadded
  EXPECT_EQ(pad(Bytes(3000, 1)).size(), 3000u);  // beyond 2048
  auto padded = pad(Bytes(22, 1));
  auto stripped = unpad(padded);
  ASSERT_TRUE(stripped);
  EXPECT_EQ(stripped->size(), 22u);
  Bytes bad = padded;
  bad[bad.size() - 5] = 0;
  EXPECT_FALSE(unpad(bad));
}

TEST(BitchatPacket, CompressionIsRawDeflateOnlyWhenItHelps) {
  Packet p;
  p.type = static_cast<std::uint8_t>(MessageType::message);
  p.sender = id("1011121314151617");
  p.payload = Bytes(400, 'a');
  for (std::size_t i = 0; i < p.payload.size(); i += 7) p.payload[i] = 'b';
  auto frame = encode(p, {.pad = false, .compress = true});
  ASSERT_TRUE(frame);
  EXPECT_EQ((*frame)[11] & flags::is_compressed, flags::is_compressed);
  EXPECT_LT(frame->size(), 14u + 8 + 400);
  auto back = decode(*frame);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->payload, p.payload);
  ASSERT_TRUE(back->received_compressed);
  // High-entropy and short payloads stay as they are.
  Bytes random(400);
  randombytes_buf(random.data(), random.size());
  EXPECT_FALSE(compress(random));
  EXPECT_FALSE(compress(Bytes(99, 'a')));
  // zlib-wrapped data is accepted too (Android); garbage is malformed.
  auto raw = compress(p.payload);
  ASSERT_TRUE(raw);
  EXPECT_EQ(*decompress(*raw, p.payload.size()), p.payload);
  EXPECT_EQ(decompress(hex("0102030405"), 10).error(), make_error_code(Errc::malformed));
}

TEST(BitchatPacket, SignatureCoversTheTtlZeroPaddedEncodingAndSurvivesRelaying) {
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk;
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> sk;
  crypto_sign_keypair(pk.data(), sk.data());
  Packet p;
  p.type = static_cast<std::uint8_t>(MessageType::message);
  p.sender = id("a1a2a3a4a5a6a7a8");
  p.timestamp_ms = 1'700'000'000'000ull;
  p.payload = Bytes(300, 'z');  // compressible: the signature covers the compressed bytes
  ASSERT_FALSE(sign(p, sk));
  auto frame = encode(p);
  ASSERT_TRUE(frame);
  auto received = decode(*frame);
  ASSERT_TRUE(received);
  EXPECT_FALSE(verify(*received, pk));
  // A relay decrements the TTL: still valid. A changed payload or timestamp is not.
  received->ttl = 3;
  EXPECT_FALSE(verify(*received, pk));
  auto relayed = decode(*encode(*received));
  ASSERT_TRUE(relayed);
  EXPECT_FALSE(verify(*relayed, pk));
  auto tampered = *received;
  tampered.timestamp_ms += 1;
  EXPECT_EQ(verify(tampered, pk), make_error_code(Errc::bad_signature));
}

TEST(BitchatPacket, MalformedFramesAreRefusedWithAReason) {
  EXPECT_EQ(decode(Bytes{}).error(), make_error_code(Errc::truncated));
  EXPECT_EQ(decode(hex("03020700")).error(), make_error_code(Errc::malformed));  // version 3
  auto good = hex("01 02 07 0102030405060708 00 0003 1011121314151617 aabbcc");
  EXPECT_EQ(decode(ByteView(good).first(good.size() - 1)).error(), make_error_code(Errc::truncated));
  auto trailing = good;
  trailing.push_back(0x00);
  EXPECT_FALSE(decode(trailing));
  auto huge = good;
  huge[12] = 0xff;  // payload length 0xff03 > what is there
  EXPECT_EQ(decode(huge).error(), make_error_code(Errc::truncated));
  // Compressed flag with an original size far beyond the expansion limit.
  auto bomb = hex("01 02 07 0102030405060708 04 0004 1011121314151617 ffff 0300");
  EXPECT_FALSE(decode(bomb));
}

TEST(BitchatPacket, LengthFieldsCannotReachPastTheFrame) {
  // v2: a 4-byte payload length of 0xffffffff.
  auto v2 = hex("02 02 07 0102030405060708 00 ffffffff 1011121314151617 aabbcc");
  EXPECT_EQ(decode(v2).error(), make_error_code(Errc::truncated));
  // v2 route: 255 hops stated, 2 there.
  auto route =
      hex("02 11 07 0102030405060708 09 00000001 1011121314151617 2021222324252627 ff"
          "3031323334353637 4041424344454647 aa");
  EXPECT_EQ(decode(route).error(), make_error_code(Errc::truncated));
  // Compressed, with a body shorter than its own size prefix (v2: 4 bytes).
  auto short_prefix = hex("02 02 07 0102030405060708 04 00000003 1011121314151617 000010");
  EXPECT_EQ(decode(short_prefix).error(), make_error_code(Errc::malformed));
  // Compressed, stating 4 GiB - 1 from two bytes: refused before anything is allocated.
  auto huge = hex("02 02 07 0102030405060708 04 00000006 1011121314151617 ffffffff 0300");
  EXPECT_EQ(decode(huge).error(), make_error_code(Errc::too_large));
  DecodeLimits roomy;
  roomy.max_payload = SIZE_MAX;
  EXPECT_EQ(decode(huge, roomy).error(), make_error_code(Errc::too_large));
  // A signature flag with fewer than 64 bytes left.
  auto sig = hex("01 02 07 0102030405060708 02 0001 1011121314151617 aa bbbbbbbb");
  EXPECT_EQ(decode(sig).error(), make_error_code(Errc::truncated));
  // A header alone is too short to peek at; a v1/v2 head gives the sender without decoding.
  EXPECT_FALSE(peek_head(hex("01 02 07 0102030405060708 04 0004 10111213141516")));
  auto head = peek_head(short_prefix);
  ASSERT_TRUE(head);
  EXPECT_TRUE(head->compressed());
  EXPECT_EQ(head->sender, id("1011121314151617"));
}

TEST(BitchatPacket, DecompressGrowsWithTheStreamAndChecksTheExactSize) {
  const Bytes text(200'000, 'q');
  auto packed = compress(text);
  ASSERT_TRUE(packed);
  EXPECT_EQ(*decompress(*packed, text.size()), text);
  EXPECT_EQ(decompress(*packed, text.size() - 1).error(), make_error_code(Errc::malformed));  // more
  EXPECT_EQ(decompress(*packed, text.size() + 1).error(), make_error_code(Errc::malformed));  // less
  EXPECT_EQ(decompress(ByteView(*packed).first(packed->size() / 2), text.size()).error(),
            make_error_code(Errc::malformed));  // truncated stream
  EXPECT_EQ(*decompress(*compress(Bytes(150, 'x')), 150), Bytes(150, 'x'));
}

TEST(BitchatPayloads, GoldenAnnounceTlvs) {
  Bytes noise(32), signing(32);
  for (int i = 0; i < 32; ++i)
    noise[i] = static_cast<std::uint8_t>(i), signing[i] = static_cast<std::uint8_t>(0x80 + i);
  Bytes golden = hex("01 03 626f62");
  golden.push_back(0x02), golden.push_back(0x20), golden.insert(golden.end(), noise.begin(), noise.end());
  golden.push_back(0x03), golden.push_back(0x20), golden.insert(golden.end(), signing.begin(), signing.end());
  auto tail = hex("05 02 0001 | 7f 02 cafe");
  golden.insert(golden.end(), tail.begin(), tail.end());
  auto a = decode_announce(golden);
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->nickname, "bob");
  EXPECT_EQ(Bytes(a->noise_key.begin(), a->noise_key.end()), noise);
  EXPECT_EQ(a->capabilities, 0x0100u);  // little-endian bit field: bit 8
  ASSERT_EQ(a->unknown.size(), 1u);     // 0x7f is skipped, and kept
  EXPECT_EQ(a->unknown[0].first, 0x7f);
  auto again = encode_announce(*a);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, golden);
  // The required TLVs must be there, with the right sizes.
  EXPECT_EQ(decode_announce(hex("01 03 626f62")).error(), make_error_code(Errc::malformed));
  EXPECT_EQ(decode_announce(hex("02 01 00")).error(), make_error_code(Errc::malformed));
  EXPECT_EQ(decode_announce(hex("01 09 626f62")).error(), make_error_code(Errc::truncated));
}

TEST(BitchatPayloads, RepeatedNeighbourListsStayWithinTenIds) {
  // Twelve IDs spread over three 0x04 TLVs once decoded into a list that could not be re-encoded;
  // a repeated list now replaces the earlier one, as every other repeated field does.
  Bytes in = hex("01 03 626f62");
  Bytes key(32, 0x11);
  in.push_back(0x02), in.push_back(0x20), in.insert(in.end(), key.begin(), key.end());
  in.push_back(0x03), in.push_back(0x20), in.insert(in.end(), key.begin(), key.end());
  for (int list = 0; list < 3; ++list) {
    in.push_back(0x04), in.push_back(32);
    for (int id = 0; id < 4; ++id) in.insert(in.end(), 8, static_cast<std::uint8_t>(list * 4 + id));
  }
  auto a = decode_announce(in);
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_EQ(a->neighbours.size(), 4u);
  EXPECT_EQ(a->neighbours[0][0], 8);  // the last list wins
  auto again = encode_announce(*a);
  ASSERT_TRUE(again);
  EXPECT_TRUE(decode_announce(*again));
}

TEST(BitchatPayloads, GoldenPrivateMessageFragmentAndRequestSync) {
  auto noise = decode_noise_payload(hex("01 | 00 02 6d31 | 01 02 6869"));
  ASSERT_TRUE(noise);
  EXPECT_EQ(noise->type, static_cast<std::uint8_t>(NoisePayloadType::private_message));
  auto pm = decode_private_message(noise->data);
  ASSERT_TRUE(pm);
  EXPECT_EQ(pm->message_id, "m1");
  EXPECT_EQ(pm->content, "hi");
  EXPECT_EQ(encode_noise_payload({1, *encode_private_message(*pm)}), hex("01 00 02 6d31 01 02 6869"));

  auto frag_bytes = hex("0001020304050607 0001 0003 02 aabb");
  auto frag = decode_fragment(frag_bytes);
  ASSERT_TRUE(frag);
  EXPECT_EQ(frag->index, 1);
  EXPECT_EQ(frag->total, 3);
  EXPECT_EQ(frag->original_type, 0x02);
  EXPECT_EQ(frag->data, hex("aabb"));
  EXPECT_EQ(encode_fragment(*frag), frag_bytes);
  EXPECT_EQ(decode_fragment(hex("0001020304050607 0003 0003 02")).error(), make_error_code(Errc::malformed));

  auto sync_bytes = hex("01 0001 13 | 02 0004 01020304 | 03 0002 aabb");
  auto sync = decode_request_sync(sync_bytes);
  ASSERT_TRUE(sync) << sync.error().message();
  EXPECT_EQ(sync->p, 0x13);
  EXPECT_EQ(sync->m, 0x01020304u);
  EXPECT_EQ(sync->filter, hex("aabb"));
  EXPECT_EQ(encode_request_sync(*sync), sync_bytes);
  Bytes oversized = hex("01 0001 07 02 0004 00000001 03 0401");
  oversized.resize(oversized.size() + 0x401, 0);
  EXPECT_EQ(decode_request_sync(oversized).error(), make_error_code(Errc::malformed));  // filter > 1024 B
}

}  // namespace
}  // namespace hyphae::bitchat
