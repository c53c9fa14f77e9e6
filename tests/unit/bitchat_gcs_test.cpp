// BitChat gossip-sync Golomb-coded sets and sync packet IDs (src/bitchat/gcs.hpp). Rules from
// ../shared/notes/bitchat.md §4-§5. Three kinds of expectations: tiny examples worked by hand in the
// comments; hashed values (sync_packet_id, a 10-ID filter) computed with an independent Python model
// of the rules; and tests/vectors/bitchat/gcs.json, the cases of the apps' GCS tests (those tests
// assert properties only: the vector bytes were derived from the documented algorithm, not
// asserted upstream).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>

#include "bitchat/gcs.hpp"
#include "core/error.hpp"

namespace hyphae::bitchat {
namespace {

Bytes hex(std::string_view h) {
  bool ok = false;
  auto b = from_hex(h, &ok);
  EXPECT_TRUE(ok) << h;
  return b;
}

SyncPacketId filled(std::uint8_t byte) {
  SyncPacketId id;
  id.fill(byte);
  return id;
}

std::vector<SyncPacketId> random_ids(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<SyncPacketId> ids(n);
  for (auto& id : ids)
    for (auto& b : id) b = static_cast<std::uint8_t>(rng());
  return ids;
}

std::vector<std::uint64_t> decoded(const GcsFilter& f) {
  auto v = decode_gcs(f);
  EXPECT_TRUE(v) << v.error().message();
  return v ? *v : std::vector<std::uint64_t>{};
}

TEST(BitchatGcs, PForFalsePositiveRate) {
  EXPECT_EQ(gcs_p_for(0.01), 7);  // log2(100) = 6.64
  EXPECT_EQ(gcs_p_for(0.125), 3);
  EXPECT_EQ(gcs_p_for(0.001), 10);  // log2(1000) = 9.97
  EXPECT_EQ(gcs_p_for(0.25), 2);
  EXPECT_EQ(gcs_p_for(0.5), 1);
  EXPECT_EQ(gcs_p_for(0.9), 1);
  EXPECT_EQ(gcs_p_for(1e-6), 20);
  EXPECT_EQ(gcs_p_for(1e-30), 32);
  EXPECT_EQ(gcs_p_for(0.0), 32);
  EXPECT_EQ(gcs_p_for(-1.0), 32);
}

// P = 2, M = 12 (N = 3), values {1, 3, 9}. Deltas 1, 2, 6, so x - 1 = 0, 1, 5:
//   0 -> q 0, r 00 -> "0 00";  1 -> q 0, r 01 -> "0 01";  5 -> q 1, r 01 -> "10 01".
// Bits 000 001 1001 + six zero pad bits = 00000110 01000000 = 06 40.
TEST(BitchatGcs, HandWorkedEncodingP2) {
  const std::vector<std::uint64_t> values{1, 3, 9};
  auto f = encode_gcs(2, 12, values);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->p, 2);
  EXPECT_EQ(f->m, 12u);
  EXPECT_EQ(f->data, hex("0640"));
  EXPECT_EQ(decoded(*f), values);
}

// P = 3, values {8, 9, 26}: x - 1 = 7, 0, 16 -> "0 111", "0 000", "110 000" (q 2, r 0).
// Bits 0111 0000 1100 00 + 2 pad bits = 01110000 11000000 = 70 c0.
TEST(BitchatGcs, HandWorkedEncodingP3WithLongerUnary) {
  const std::vector<std::uint64_t> values{8, 9, 26};
  auto f = encode_gcs(3, 32, values);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->data, hex("70c0"));
  EXPECT_EQ(decoded(*f), values);
}

// Zero padding of 5 bits after "000" (P = 2, value 1) would itself read as the codeword "000":
// the apps then see a spurious value 2. Trailing zero bits (< 8) are padding here.
TEST(BitchatGcs, ZeroPaddingIsNotReadAsCodewords) {
  EXPECT_EQ(decoded(GcsFilter{2, 8, hex("00")}), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(decoded(GcsFilter{2, 8, {}}), (std::vector<std::uint64_t>{}));
  // A whole zero byte is not padding: with P = 7 it is one codeword, delta 1.
  EXPECT_EQ(decoded(GcsFilter{7, 1000, hex("00")}), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(decoded(GcsFilter{7, 1000, hex("0000")}), (std::vector<std::uint64_t>{1, 2}));
}

// Values {1, 2} with P = 2 are "000 000": zero padding would hide the second one, so the encoder
// pads with one-bits (00000011 = 03); the unterminated unary run at the end is the end.
TEST(BitchatGcs, OnePaddingWhenZeroPaddingWouldHideCodewords) {
  auto f = encode_gcs(2, 8, std::vector<std::uint64_t>{1, 2});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->data, hex("03"));
  EXPECT_EQ(decoded(*f), (std::vector<std::uint64_t>{1, 2}));
  // P = 1, {1, 2, 3, 4}: "00" x 4 fills one byte exactly; a 0xFF byte follows.
  auto g = encode_gcs(1, 8, std::vector<std::uint64_t>{1, 2, 3, 4});
  ASSERT_TRUE(g);
  EXPECT_EQ(g->data, hex("00ff"));
  EXPECT_EQ(decoded(*g), (std::vector<std::uint64_t>{1, 2, 3, 4}));
}

TEST(BitchatGcs, EndOfDataIsTheEndOfTheSet) {
  // An unterminated unary run.
  EXPECT_EQ(decoded(GcsFilter{7, 1000, hex("ff")}), (std::vector<std::uint64_t>{}));
  // "0 0110101" = 54, then a unary run of ones off the end.
  EXPECT_EQ(decoded(GcsFilter{7, 1000, hex("35ff")}), (std::vector<std::uint64_t>{54}));
  // An incomplete remainder: P = 8 needs 9 bits.
  EXPECT_EQ(decoded(GcsFilter{8, 1000, hex("00")}), (std::vector<std::uint64_t>{}));
  // 1024 bytes of ones: the largest accepted filter, no values.
  EXPECT_EQ(decoded(GcsFilter{7, 1000, Bytes(1024, 0xff)}), (std::vector<std::uint64_t>{}));
}

// Ten IDs 00..00, 01..01, ..., 09..09 with P = 7: M = 1280; values (independent Python model)
// 54 158 410 469 582 591 845 858 958 1108. First codeword: 53 = "0 0110101" = 35.
TEST(BitchatGcs, BuildMatchesIndependentModel) {
  std::vector<SyncPacketId> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(filled(static_cast<std::uint8_t>(i)));
  EXPECT_EQ(gcs_value(ids[0], 1280), 469u);
  EXPECT_EQ(gcs_value(ids[2], 1280), 54u);
  auto f = build_gcs(ids, 7, kGcsMaxBytesIos);
  EXPECT_EQ(f.p, 7);
  EXPECT_EQ(f.m, 1280u);
  EXPECT_EQ(f.data, hex("3567bd9d38045f4318e2a0"));
  EXPECT_EQ(decoded(f), (std::vector<std::uint64_t>{54, 158, 410, 469, 582, 591, 845, 858, 958, 1108}));
  for (const auto& id : ids) EXPECT_TRUE(gcs_contains(f, id));
}

TEST(BitchatGcs, EmptyFilter) {
  auto f = build_gcs({}, 7, kGcsMaxBytesAndroid);
  EXPECT_EQ(f.p, 7);
  EXPECT_EQ(f.m, 1u);
  EXPECT_TRUE(f.data.empty());
  EXPECT_TRUE(decoded(f).empty());
  EXPECT_FALSE(gcs_contains(f, filled(1)));
}

TEST(BitchatGcs, RoundTripThousandRandomIds) {
  // 1000 IDs at P = 6 take about 1000 * 7.6 bits = 950 bytes: under the 1024-byte cap.
  const auto ids = random_ids(1000, 1);
  auto f = build_gcs(ids, 6, kMaxSyncFilterBytes);
  ASSERT_EQ(f.m, 1000u << 6) << "all 1000 kept, " << f.data.size() << " bytes";
  EXPECT_LE(f.data.size(), kMaxSyncFilterBytes);
  auto reader = GcsReader::open(f);
  ASSERT_TRUE(reader);
  for (const auto& id : ids) EXPECT_TRUE(reader->contains(id));
  auto values = reader->values();
  EXPECT_TRUE(std::is_sorted(values.begin(), values.end()));
  EXPECT_EQ(std::adjacent_find(values.begin(), values.end()), values.end());
  // Re-encoding the decoded values reproduces the bytes.
  auto again = encode_gcs(f.p, f.m, values);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->data, f.data);
}

TEST(BitchatGcs, FalsePositiveRateNearTwoToMinusP) {
  const auto ids = random_ids(900, 2);  // 900 * 8.6 bits = 965 bytes: fits at P = 7
  auto f = build_gcs(ids, 7, kMaxSyncFilterBytes);
  ASSERT_EQ(f.m, 900u << 7);
  auto reader = GcsReader::open(f);
  ASSERT_TRUE(reader);
  const std::set<SyncPacketId> members(ids.begin(), ids.end());
  const auto probes = random_ids(20000, 3);
  int hits = 0, tried = 0;
  for (const auto& id : probes) {
    if (members.count(id)) continue;
    ++tried;
    hits += reader->contains(id) ? 1 : 0;
  }
  const double rate = static_cast<double>(hits) / tried;
  EXPECT_LT(rate, 0.025) << hits << "/" << tried;  // 2^-7 = 0.78 %
  EXPECT_GT(rate, 0.002) << hits << "/" << tried;
}

TEST(BitchatGcs, MaxBytesKeepsTheNewestIds) {
  // Newest first, as the apps list them: the kept IDs are a prefix.
  const auto ids = random_ids(1000, 4);
  for (std::size_t cap :
       {std::size_t{20}, std::size_t{256}, std::size_t{400}, std::size_t{1024}, std::size_t{5000}}) {
    auto f = build_gcs(ids, 7, cap);
    EXPECT_LE(f.data.size(), std::min(cap, kMaxSyncFilterBytes)) << cap;
    const std::size_t kept = f.m >> 7;
    EXPECT_LT(kept, ids.size()) << cap;
    // At least the apps' estimate, 8 * cap / (P + 2) IDs.
    EXPECT_GE(kept, std::min(cap, kMaxSyncFilterBytes) * 8 / 9) << cap;
    auto reader = GcsReader::open(f);
    ASSERT_TRUE(reader);
    for (std::size_t i = 0; i < kept; ++i) EXPECT_TRUE(reader->contains(ids[i]));
    // The same filter as building from the kept prefix alone.
    auto direct = build_gcs(std::span(ids).first(kept), 7, cap);
    EXPECT_EQ(direct.data, f.data);
    EXPECT_EQ(direct.m, f.m);
  }
  // A cap too small for even one ID gives the empty filter.
  auto tiny = build_gcs(ids, 7, 0);
  EXPECT_EQ(tiny.m, 1u);
  EXPECT_TRUE(tiny.data.empty());
}

TEST(BitchatGcs, ParametersAreClampedWhenBuilding) {
  const auto ids = random_ids(3, 5);
  EXPECT_EQ(build_gcs(ids, 0, 256).p, 1);
  EXPECT_EQ(build_gcs(ids, 40, 256).p, 32);
  // P = 32: not even one ID keeps M within u32, so the filter is empty.
  EXPECT_EQ(build_gcs(ids, 32, 256).m, 1u);
  // P = 31: one ID at most (M = 2^31).
  auto f = build_gcs(ids, 31, 256);
  EXPECT_EQ(f.m, 1u << 31);
  EXPECT_TRUE(gcs_contains(f, ids.front()));
}

TEST(BitchatGcs, SmallPRoundTripsExactly) {
  // Dense sets at P = 1..3 exercise the padding rule: every set must decode to itself.
  std::mt19937_64 rng(6);
  for (int round = 0; round < 2000; ++round) {
    const std::uint8_t p = static_cast<std::uint8_t>(1 + round % 3);
    const std::uint32_t m = static_cast<std::uint32_t>(2 + rng() % 60);
    std::set<std::uint64_t> s;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) s.insert(1 + rng() % (m - 1));
    const std::vector<std::uint64_t> values(s.begin(), s.end());
    auto f = encode_gcs(p, m, values);
    ASSERT_TRUE(f);
    ASSERT_EQ(decoded(*f), values) << "p=" << int{p} << " m=" << m << " data=" << to_hex(f->data);
  }
}

TEST(BitchatGcs, MalformedFiltersAreRefused) {
  auto is = [](const GcsFilter& f, Errc e) {
    auto r = decode_gcs(f);
    return !r && r.error() == make_error_code(e);
  };
  EXPECT_TRUE(is(GcsFilter{0, 100, hex("35")}, Errc::malformed));   // P == 0
  EXPECT_TRUE(is(GcsFilter{33, 100, hex("35")}, Errc::malformed));  // P > 32
  EXPECT_TRUE(is(GcsFilter{7, 0, hex("35")}, Errc::malformed));     // M == 0
  EXPECT_TRUE(is(GcsFilter{7, 0, {}}, Errc::malformed));
  // P = 2, M = 4: "10 01" = x - 1 = 5, value 6 >= M.
  EXPECT_TRUE(is(GcsFilter{2, 4, hex("90")}, Errc::malformed));
  // Value exactly M: P = 7, "0 0110101" = 54 with M = 54.
  EXPECT_TRUE(is(GcsFilter{7, 54, hex("35")}, Errc::malformed));
  EXPECT_TRUE(decode_gcs(GcsFilter{7, 55, hex("35")}));
  // Over 1024 bytes.
  EXPECT_TRUE(is(GcsFilter{7, 1000, Bytes(1025, 0xff)}, Errc::too_large));
  EXPECT_FALSE(gcs_contains(GcsFilter{0, 100, hex("35")}, filled(0)));
  EXPECT_FALSE(GcsReader::open(GcsFilter{7, 1000, Bytes(1025, 0xff)}));

  auto enc_is = [](std::uint8_t p, std::uint32_t m, std::vector<std::uint64_t> v, Errc e) {
    auto r = encode_gcs(p, m, v);
    return !r && r.error() == make_error_code(e);
  };
  EXPECT_TRUE(enc_is(0, 10, {1}, Errc::invalid_argument));
  EXPECT_TRUE(enc_is(33, 10, {1}, Errc::invalid_argument));
  EXPECT_TRUE(enc_is(2, 0, {}, Errc::invalid_argument));
  EXPECT_TRUE(enc_is(2, 10, {0, 3}, Errc::invalid_argument));   // 0 is never a value
  EXPECT_TRUE(enc_is(2, 10, {3, 3}, Errc::invalid_argument));   // duplicates
  EXPECT_TRUE(enc_is(2, 10, {5, 3}, Errc::invalid_argument));   // unsorted
  EXPECT_TRUE(enc_is(2, 10, {3, 10}, Errc::invalid_argument));  // >= M
  // P = 1 over M = 2^32 - 1 with one value near M: unary of ~2^31 bits.
  EXPECT_TRUE(enc_is(1, 0xFFFFFFFFu, {0xFFFFFFF0u}, Errc::too_large));
}

// Android's golden sender/timestamp/payload (notes §1.1): type 0x02, sender 1011121314151617,
// ts 0x0102030405060708, payload aabbcc. Expected digest prefix from an independent Python model.
TEST(BitchatGcs, SyncPacketIdIsDeterministicAndCoversEveryField) {
  const ShortId sender{0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17};
  const Bytes payload = hex("aabbcc");
  const auto id = sync_packet_id(0x02, sender, 0x0102030405060708ull, payload);
  EXPECT_EQ(to_hex(id), "7b76e25cec1e467dc618dc3c916996e9");
  EXPECT_EQ(sync_packet_id(0x02, sender, 0x0102030405060708ull, payload), id);

  ShortId other_sender = sender;
  other_sender[7] ^= 1;
  EXPECT_NE(sync_packet_id(0x01, sender, 0x0102030405060708ull, payload), id);
  EXPECT_NE(sync_packet_id(0x02, other_sender, 0x0102030405060708ull, payload), id);
  EXPECT_NE(sync_packet_id(0x02, sender, 0x0102030405060709ull, payload), id);
  EXPECT_NE(sync_packet_id(0x02, sender, 0x0802030405060701ull, payload), id);  // big-endian order
  EXPECT_NE(sync_packet_id(0x02, sender, 0x0102030405060708ull, hex("aabbcd")), id);
  EXPECT_NE(sync_packet_id(0x02, sender, 0x0102030405060708ull, hex("aabb")), id);
  EXPECT_NE(sync_packet_id(0x02, sender, 0x0102030405060708ull, {}), id);
}

// ---- tests/vectors/bitchat/gcs.json ----

nlohmann::json load_gcs_vectors() {
  const std::string path = std::string(HYPHAE_VECTORS_DIR) + "/bitchat/gcs.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  if (!in.good()) return {};
  return nlohmann::json::parse(in);
}

SyncPacketId id_from_hex(const std::string& h) {
  const Bytes b = hex(h);
  SyncPacketId id{};
  EXPECT_EQ(b.size(), id.size()) << h;
  std::copy_n(b.begin(), std::min(b.size(), id.size()), id.begin());
  return id;
}

// The input IDs of a build vector, from ids_hex or, where the file describes them, rebuilt.
std::vector<SyncPacketId> vector_ids(const nlohmann::json& doc, const nlohmann::json& v) {
  const auto& in = v.at("input");
  const std::string name = v.at("name");
  const std::size_t count = in.at("id_count");
  std::vector<SyncPacketId> ids;
  if (name == "ios_duplicate_ids") {
    ids.assign(count, filled(0xab));
  } else if (name == "ios_trim_tail_200_ids") {  // byte j of id i = (i*31 + j) & 0xff
    for (std::size_t i = 0; i < count; ++i) {
      SyncPacketId id{};
      for (std::size_t j = 0; j < id.size(); ++j) id[j] = static_cast<std::uint8_t>((i * 31 + j) & 0xff);
      ids.push_back(id);
    }
  } else if (in.contains("ids_hex")) {
    for (const auto& h : in.at("ids_hex")) ids.push_back(id_from_hex(h));
  } else {  // "first N of random42_ids" / "all 200 random42_ids"
    const auto& all = doc.at("random42_ids");
    EXPECT_LE(count, all.size()) << name;
    for (std::size_t i = 0; i < count && i < all.size(); ++i) ids.push_back(id_from_hex(all[i]));
  }
  EXPECT_EQ(ids.size(), count) << name;
  return ids;
}

TEST(BitchatGcsVectors, BuildVectors) {
  const auto doc = load_gcs_vectors();
  ASSERT_TRUE(doc.contains("vectors"));
  int run = 0;
  for (const auto& v : doc.at("vectors")) {
    if (!v.contains("derived") || !v.at("derived").contains("data_hex")) continue;
    const std::string name = v.at("name");
    SCOPED_TRACE(name);
    ++run;
    const auto& in = v.at("input");
    const auto& d = v.at("derived");
    const std::uint8_t p = d.at("p");
    const std::uint32_t m = d.at("m");
    const std::size_t included = d.at("included_count");
    const std::size_t max_bytes = in.at("maxBytes");
    const GcsFilter wire{p, m, hex(d.at("data_hex").get<std::string>())};
    const auto ids = vector_ids(doc, v);
    ASSERT_LE(included, ids.size());
    const auto kept = std::span(ids).first(included);

    EXPECT_EQ(gcs_p_for(in.at("targetFpr").get<double>()), p);
    EXPECT_EQ(m, included << p);
    // Decoding the derived bytes.
    auto values = decode_gcs(wire);
    ASSERT_TRUE(values) << values.error().message();
    if (d.at("decoded_sorted_values").is_array()) {
      EXPECT_EQ(*values, d.at("decoded_sorted_values").get<std::vector<std::uint64_t>>());
    } else {  // "114 values"
      EXPECT_EQ(std::to_string(values->size()) + " values", d.at("decoded_sorted_values").get<std::string>());
    }
    std::cout << name << ": apps keep " << included << " IDs, build_gcs keeps "
              << (build_gcs(ids, p, max_bytes).m >> p) << " of " << ids.size() << "\n";
    auto reader = GcsReader::open(wire);
    ASSERT_TRUE(reader);
    for (const auto& id : kept) EXPECT_TRUE(reader->contains(id));
    if (d.contains("per_id")) {
      for (const auto& e : d.at("per_id"))
        EXPECT_EQ(gcs_value(id_from_hex(e.at("id")), m), e.at("bucket").get<std::uint64_t>());
    }
    // Our encoder gives the same bytes for the same values...
    auto again = encode_gcs(p, m, *values);
    ASSERT_TRUE(again);
    EXPECT_EQ(to_hex(again->data), d.at("data_hex").get<std::string>());
    // ...and our builder for the IDs the apps keep.
    auto built = build_gcs(kept, p, max_bytes);
    EXPECT_EQ(built.m, m);
    EXPECT_EQ(to_hex(built.data), d.at("data_hex").get<std::string>());
    // From the whole list we keep a prefix at least as long as the apps' (more when it fits).
    auto ours = build_gcs(ids, p, max_bytes);
    EXPECT_LE(ours.data.size(), max_bytes);
    EXPECT_GE(ours.m >> p, included);
    if (included == ids.size()) {
      EXPECT_EQ(ours.data, wire.data);
    }
    auto our_reader = GcsReader::open(ours);
    ASSERT_TRUE(our_reader);
    for (std::size_t i = 0; i < (ours.m >> p); ++i) EXPECT_TRUE(our_reader->contains(ids[i]));
    // Truncated data (iOS's decodeOfTruncatedDataReturnsOnlyCompleteValues): a prefix of the values.
    GcsFilter half = wire;
    half.data.resize(wire.data.size() / 2);
    auto part = decode_gcs(half);
    ASSERT_TRUE(part);
    EXPECT_LT(part->size(), values->size());
    EXPECT_TRUE(std::equal(part->begin(), part->end(), values->begin()));
  }
  EXPECT_GE(run, 7);
}

TEST(BitchatGcsVectors, BucketAvoidsZero) {
  const auto doc = load_gcs_vectors();
  bool seen = false;
  for (const auto& v : doc.at("vectors")) {
    if (v.at("name") != "ios_bucket_avoids_zero") continue;
    seen = true;
    const auto id = id_from_hex(v.at("input").at("id_hex"));
    const std::uint32_t modulus = v.at("input").at("modulus");
    EXPECT_EQ(gcs_value(id, modulus), v.at("derived").at("bucket").get<std::uint64_t>());
  }
  EXPECT_TRUE(seen);
}

// iOS returns an empty set for P outside 1..32 and for M < 2; we refuse P and M == 0 as malformed,
// and M == 1 decodes (the data, all one-bits, holds no value) to the empty set.
TEST(BitchatGcsVectors, BadParameters) {
  const auto doc = load_gcs_vectors();
  bool seen = false;
  for (const auto& v : doc.at("vectors")) {
    if (v.at("name") != "ios_decode_rejects_bad_parameters") continue;
    seen = true;
    const Bytes data = hex(v.at("input").at("data_hex").get<std::string>());
    for (const auto& prm : v.at("input").at("params")) {
      const int p = prm.at("p");
      const std::uint64_t m = prm.at("m");
      SCOPED_TRACE("p=" + std::to_string(p) + " m=" + std::to_string(m));
      const GcsFilter f{static_cast<std::uint8_t>(p), static_cast<std::uint32_t>(m), data};
      auto r = decode_gcs(f);
      if (p < 1 || p > 32 || m == 0) {
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), make_error_code(Errc::malformed));
      } else {
        ASSERT_TRUE(r);
        EXPECT_TRUE(r->empty());
      }
      EXPECT_FALSE(gcs_contains(f, filled(0x01)));
    }
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace hyphae::bitchat
