// PeerId, base58btc and MessageId: libp2p spec vectors (tests/vectors/peer_id/) and edge cases.
#include "core/peer_id.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_set>

#include "core/base58.hpp"
#include "core/error.hpp"
#include "core/identity.hpp"
#include "core/message_id.hpp"

using namespace hyphae;

namespace {

// Reads "name: value" lines; '#' starts a comment.
std::map<std::string, std::string> load_vectors(const std::string& file) {
  std::map<std::string, std::string> out;
  std::ifstream in(std::string(HYPHAE_VECTORS_DIR) + "/peer_id/" + file);
  EXPECT_TRUE(in.good()) << "missing vector file " << file;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    out[line.substr(0, colon)] = value;
  }
  return out;
}

Bytes hex(std::string_view s) {
  bool ok = false;
  Bytes b = from_hex(s, &ok);
  EXPECT_TRUE(ok) << s;
  return b;
}

}  // namespace

TEST(PeerIdVectors, SpecEd25519KeyGivesPublicKeyPeerIdBytesAndString) {
  auto v = load_vectors("ed25519_key.txt");
  ASSERT_EQ(v.size(), 4u);
  const Bytes priv_pb = hex(v["private_key_protobuf"]);
  const Bytes pub_pb = hex(v["public_key_protobuf"]);
  const Bytes id_bytes = hex(v["peer_id_bytes"]);

  // The private key yields the spec's public key (the spec asks implementations to check this).
  auto identity = Identity::from_private_key_protobuf(priv_pb);
  ASSERT_TRUE(identity.has_value()) << identity.error().message();
  EXPECT_EQ(encode_ed25519_public_key_protobuf(identity->public_key()), pub_pb);
  EXPECT_EQ(identity->private_key_protobuf(), priv_pb);

  auto pub = decode_ed25519_public_key_protobuf(pub_pb);
  ASSERT_TRUE(pub.has_value());
  EXPECT_EQ(*pub, identity->public_key());

  const PeerId id = PeerId::from_ed25519(*pub);
  EXPECT_EQ(Bytes(id.bytes().begin(), id.bytes().end()), id_bytes);
  EXPECT_EQ(id.to_string(), v["peer_id_string"]);
  EXPECT_EQ(id.to_string().substr(0, 8), "12D3KooW");
  EXPECT_EQ(identity->peer_id(), id);

  auto parsed = PeerId::from_string(v["peer_id_string"]);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, id);
  auto parsed_bytes = PeerId::from_bytes(id_bytes);
  ASSERT_TRUE(parsed_bytes.has_value());
  EXPECT_EQ(*parsed_bytes, id);
  auto back = parsed->ed25519_public_key();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, *pub);
}

TEST(PeerIdVectors, SpecExampleStrings) {
  auto v = load_vectors("example_peer_ids.txt");
  auto ed = PeerId::from_string(v["ed25519_string"]);
  ASSERT_TRUE(ed.has_value()) << ed.error().message();
  EXPECT_EQ(Bytes(ed->bytes().begin(), ed->bytes().end()), hex(v["ed25519_bytes"]));
  EXPECT_EQ(ed->to_string(), v["ed25519_string"]);
  EXPECT_TRUE(ed->is_ed25519());
  auto key = ed->ed25519_public_key();
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(PeerId::from_ed25519(*key), *ed);

  auto sha = PeerId::from_string(v["sha256_string"]);
  ASSERT_TRUE(sha.has_value()) << sha.error().message();
  EXPECT_EQ(Bytes(sha->bytes().begin(), sha->bytes().end()), hex(v["sha256_bytes"]));
  EXPECT_EQ(sha->to_string(), v["sha256_string"]);
  EXPECT_FALSE(sha->is_ed25519());
  EXPECT_EQ(sha->ed25519_public_key().error(), Errc::unsupported);

  auto cid = PeerId::from_string(v["sha256_cid"]);
  ASSERT_TRUE(cid.has_value()) << cid.error().message();
  EXPECT_EQ(*cid, *sha);
}

TEST(Base58, KnownEncodings) {
  EXPECT_EQ(base58btc_encode(as_bytes("Hello World!")), "2NEpo7TZRRrLZSi2U");
  EXPECT_EQ(base58btc_encode(as_bytes("The quick brown fox jumps over the lazy dog.")),
            "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z");
  EXPECT_EQ(base58btc_encode(Bytes{0x00, 0x00, 0x28, 0x7f, 0xb4, 0xcd}), "11233QC4");
  EXPECT_EQ(base58btc_encode(Bytes(10, 0xff)), "FPBt6CHo3fovdL");
  EXPECT_EQ(base58btc_encode(Bytes{0}), "1");
  EXPECT_EQ(base58btc_encode(Bytes{}), "");
  EXPECT_EQ(*base58btc_decode("2NEpo7TZRRrLZSi2U"),
            Bytes(as_bytes("Hello World!").begin(), as_bytes("Hello World!").end()));
  EXPECT_EQ(*base58btc_decode("11233QC4"), (Bytes{0x00, 0x00, 0x28, 0x7f, 0xb4, 0xcd}));
  EXPECT_EQ(*base58btc_decode(""), Bytes{});
  EXPECT_EQ(*base58btc_decode("111"), (Bytes{0, 0, 0}));
}

TEST(Base58, RandomRoundTripsIncludingLeadingZeros) {
  std::mt19937 rng(42);
  for (int i = 0; i < 500; ++i) {
    Bytes b(rng() % 80);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    for (std::size_t z = 0, n = rng() % 4; z < n && z < b.size(); ++z) b[z] = 0;
    auto text = base58btc_encode(b);
    auto back = base58btc_decode(text);
    ASSERT_TRUE(back.has_value());
    ASSERT_EQ(*back, b) << text;
  }
}

TEST(Base58, RejectsCharactersOutsideTheAlphabetAndOverlongInput) {
  using namespace std::string_literals;
  for (std::string bad :
       {"0"s, "O"s, "I"s, "l"s, "abc0"s, "2NEpo7 TZ"s, "+"s, "\xff"s, "1\0002"s, "12D3KooW-"s}) {
    auto r = base58btc_decode(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error(), Errc::malformed);
  }
  EXPECT_EQ(base58btc_decode(std::string(kBase58MaxInput + 1, '2')).error(), Errc::too_large);
  EXPECT_TRUE(base58btc_decode(std::string(kBase58MaxInput, 'z')).has_value());
}

TEST(PeerId, EmptyByDefault) {
  PeerId id;
  EXPECT_TRUE(id.empty());
  EXPECT_EQ(id.bytes().size(), 0u);
  EXPECT_EQ(id.to_string(), "");
  EXPECT_EQ(id.ed25519_public_key().error(), Errc::invalid_argument);
  EXPECT_EQ(id, PeerId{});
}

TEST(PeerId, FromBytesRejectsBadMultihashes) {
  const auto good = Identity::from_seed({}).peer_id();
  Bytes b(good.bytes().begin(), good.bytes().end());
  auto expect_err = [](Bytes bytes, Errc e) {
    auto r = PeerId::from_bytes(bytes);
    ASSERT_FALSE(r.has_value()) << to_hex(bytes);
    EXPECT_EQ(r.error(), e) << to_hex(bytes);
  };
  expect_err({}, Errc::malformed);
  for (std::size_t n = 0; n < b.size(); ++n) expect_err(Bytes(b.begin(), b.begin() + n), Errc::malformed);
  Bytes longer = b;
  longer.push_back(0);
  expect_err(longer, Errc::malformed);
  Bytes wrong_code = b;
  wrong_code[0] = 0x13;
  expect_err(wrong_code, Errc::malformed);
  Bytes wrong_key_len = b;
  wrong_key_len[5] = 0x1f;
  expect_err(wrong_key_len, Errc::malformed);
  // Non-canonical PublicKey: Data before Type.
  Bytes swapped = {0x00, 0x24, 0x12, 0x20};
  swapped.insert(swapped.end(), b.begin() + 6, b.end());
  swapped.insert(swapped.end(), {0x08, 0x01});
  expect_err(swapped, Errc::malformed);
  // A secp256k1 key (type 2, 33 bytes) fits in an identity multihash but is not supported.
  Bytes secp = {0x00, 0x25, 0x08, 0x02, 0x12, 0x21};
  secp.insert(secp.end(), 33, 0x02);
  expect_err(secp, Errc::unsupported);
  // Non-minimal multihash length varint.
  Bytes nonminimal = {0x00, 0xa4, 0x00};
  nonminimal.insert(nonminimal.end(), b.begin() + 2, b.end());
  expect_err(nonminimal, Errc::malformed);
  // sha2-256 with the wrong digest length; oversize input.
  Bytes sha = {0x12, 0x1f};
  sha.insert(sha.end(), 31, 1);
  expect_err(sha, Errc::malformed);
  expect_err(Bytes(65, 0), Errc::malformed);
}

TEST(PeerId, FromStringRejectsGarbage) {
  for (std::string_view bad :
       {"", "1", "12D3KooW", "Qm", "hello", "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p0",
        "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pqq", "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgq",
        "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqx1"}) {
    EXPECT_FALSE(PeerId::from_string(bad).has_value()) << bad;
  }
  EXPECT_FALSE(PeerId::from_string(std::string(2000, '1')).has_value());
}

TEST(PeerId, RoundTripsHashesAndOrders) {
  std::unordered_set<PeerId> set;
  std::set<PeerId> ordered;
  for (std::uint8_t i = 0; i < 50; ++i) {
    std::array<std::uint8_t, 32> seed{};
    seed[0] = i;
    const auto id = Identity::from_seed(seed).peer_id();
    auto s = id.to_string();
    EXPECT_EQ(s.substr(0, 8), "12D3KooW");
    EXPECT_EQ(*PeerId::from_string(s), id);
    EXPECT_EQ(*PeerId::from_bytes(id.bytes()), id);
    EXPECT_EQ(std::hash<PeerId>{}(id), std::hash<PeerId>{}(*PeerId::from_string(s)));
    set.insert(id);
    ordered.insert(id);
  }
  EXPECT_EQ(set.size(), 50u);
  EXPECT_EQ(ordered.size(), 50u);
  EXPECT_NE(std::hash<PeerId>{}(*set.begin()), std::hash<PeerId>{}(PeerId{}));
}

TEST(PublicKeyProtobuf, CanonicalOnly) {
  std::array<std::uint8_t, 32> pub{};
  pub[31] = 7;
  Bytes pb = encode_ed25519_public_key_protobuf(pub);
  ASSERT_EQ(pb.size(), 36u);
  EXPECT_EQ(Bytes(pb.begin(), pb.begin() + 4), (Bytes{0x08, 0x01, 0x12, 0x20}));
  EXPECT_EQ(*decode_ed25519_public_key_protobuf(pb), pub);
  Bytes trailing = pb;
  trailing.push_back(0);
  EXPECT_EQ(decode_ed25519_public_key_protobuf(trailing).error(), Errc::malformed);
  Bytes rsa = {0x08, 0x00, 0x12, 0x02, 0x01, 0x02};
  EXPECT_EQ(decode_ed25519_public_key_protobuf(rsa).error(), Errc::unsupported);
  EXPECT_EQ(decode_ed25519_public_key_protobuf(Bytes{}).error(), Errc::malformed);
}

TEST(MessageId, RandomHexAndHash) {
  std::unordered_set<MessageId> seen;
  for (int i = 0; i < 2000; ++i) {
    auto id = MessageId::generate();
    EXPECT_FALSE(id.is_zero());
    EXPECT_TRUE(seen.insert(id).second);
    auto hex = id.to_hex();
    ASSERT_EQ(hex.size(), 32u);
    EXPECT_EQ(*MessageId::from_hex(hex), id);
  }
  EXPECT_TRUE(MessageId{}.is_zero());
  MessageId m;
  m.bytes[0] = 0xab;
  m.bytes[15] = 0x01;
  EXPECT_EQ(m.to_hex(), "ab000000000000000000000000000001");
  EXPECT_EQ(*MessageId::from_hex("AB000000000000000000000000000001"), m);
  EXPECT_EQ(MessageId::from_hex("ab00").error(), Errc::malformed);
  EXPECT_EQ(MessageId::from_hex("zz000000000000000000000000000001").error(), Errc::malformed);
  EXPECT_EQ(MessageId::from_hex("ab0000000000000000000000000000011").error(), Errc::malformed);
  MessageId a, b;
  b.bytes[0] = 1;
  EXPECT_LT(a, b);
  EXPECT_EQ(std::hash<MessageId>{}(a), std::hash<MessageId>{}(b));  // only the last 8 bytes count
  b.bytes[15] = 1;
  EXPECT_NE(std::hash<MessageId>{}(a), std::hash<MessageId>{}(b));
}

TEST(MessageId, GeneratedIdsAreTimeOrderedWithARandomTail) {
  using namespace std::chrono;
  auto before =
      static_cast<std::uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
  std::vector<MessageId> ids;
  for (int i = 0; i < 5000; ++i) ids.push_back(MessageId::generate());
  auto after =
      static_cast<std::uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
  std::set<std::size_t> hashes;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_GE(ids[i].timestamp_ms(), before);
    EXPECT_LE(ids[i].timestamp_ms(), after);
    if (i > 0) {
      EXPECT_LE(ids[i - 1].timestamp_ms(), ids[i].timestamp_ms());
    }
    hashes.insert(std::hash<MessageId>{}(ids[i]));
  }
  EXPECT_EQ(hashes.size(), ids.size());  // the hash sees the random tail, not the shared timestamp
}
