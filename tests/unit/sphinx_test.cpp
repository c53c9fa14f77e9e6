// Sphinx packets: the primitives against their RFC vectors (ChaCha20: RFC 8439, HMAC-SHA256:
// RFC 4231, HKDF: RFC 5869), the packet format against this project's committed vectors
// (tests/vectors/sphinx/sphinx_vectors.json, in the structure of Katzenpost's: nodes, path, every
// hop's packet; regenerate with HYPHAE_WRITE_SPHINX_VECTORS=1 only when the format changes on
// purpose), and the properties the mixnet rests on: fixed size at every hop, any changed header
// bit refused by the next hop, any changed payload bit refused by the last, replay tags, reply blocks.
#include "betanet/sphinx/sphinx.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "crypto/hkdf/hkdf.hpp"

namespace hyphae::sphinx {
namespace {

const std::string kDir = std::string(HYPHAE_VECTORS_DIR) + "/sphinx/";

nlohmann::json load(const std::string& name) {
  std::ifstream in(kDir + name);
  EXPECT_TRUE(in.good()) << name;
  return nlohmann::json::parse(in);
}

Bytes hex(const nlohmann::json& j) {
  bool ok = false;
  auto b = from_hex(j.get<std::string>(), &ok);
  EXPECT_TRUE(ok);
  return b;
}

template <std::size_t N>
std::array<std::uint8_t, N> fixed(const Bytes& b) {
  std::array<std::uint8_t, N> out{};
  EXPECT_EQ(b.size(), N);
  std::copy_n(b.begin(), std::min(N, b.size()), out.begin());
  return out;
}

std::optional<SphinxError> failure(const std::expected<Unwrapped, SphinxError>& r) {
  if (r) return std::nullopt;
  return r.error();
}

template <std::size_t N>
std::array<std::uint8_t, N> labelled(const std::string& label) {
  // SHA-512 of "label/0", "label/1", ... concatenated: any length.
  std::array<std::uint8_t, N> out{};
  for (std::size_t at = 0, block = 0; at < N; at += 64, ++block) {
    const std::string text = label + "/" + std::to_string(block);
    std::array<std::uint8_t, 64> h{};
    crypto_hash_sha512(h.data(), reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
    std::copy_n(h.begin(), std::min<std::size_t>(64, N - at), out.begin() + static_cast<std::ptrdiff_t>(at));
  }
  return out;
}

TEST(SphinxPrimitives, ChaCha20MatchesRfc8439) {
  const auto v = load("chacha20_rfc8439.json")["vectors"];
  ASSERT_GE(v.size(), 5u);
  for (const auto& t : v) {
    const auto key = hex(t["key"]), nonce = hex(t["nonce"]), plain = hex(t["plaintext"]);
    Bytes out(plain.size());
    crypto_stream_chacha20_ietf_xor_ic(out.data(), plain.data(), plain.size(), nonce.data(),
                                       t["counter"].get<std::uint32_t>(), key.data());
    EXPECT_EQ(to_hex(out), t["ciphertext"]) << t["name"];
  }
}

TEST(SphinxPrimitives, HmacSha256MatchesRfc4231) {
  const auto v = load("hmac_sha256_rfc4231.json")["vectors"];
  ASSERT_EQ(v.size(), 7u);
  for (const auto& t : v) {
    const auto key = hex(t["key"]), data = hex(t["data"]);
    std::array<std::uint8_t, 32> mac{};
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key.data(), key.size());
    crypto_auth_hmacsha256_update(&st, data.data(), data.size());
    crypto_auth_hmacsha256_final(&st, mac.data());
    const std::size_t n = t.value("truncate", 32);
    EXPECT_EQ(to_hex(ByteView(mac.data(), n)), t["hmac_sha256"]) << t["name"];
  }
}

TEST(SphinxPrimitives, HkdfSha256MatchesRfc5869) {
  const auto v = load("hkdf_sha256_rfc5869.json")["vectors"];
  ASSERT_EQ(v.size(), 2u);
  for (const auto& t : v) {
    const auto ikm = hex(t["ikm"]), salt = hex(t["salt"]), info = hex(t["info"]);
    EXPECT_EQ(to_hex(hkdf::extract(salt, ikm)), t["prk"]) << t["name"];
    Bytes okm(t["length"].get<std::size_t>());
    hkdf::derive(salt, ikm, info, okm);
    EXPECT_EQ(to_hex(okm), t["okm"]) << t["name"];
  }
}

TEST(SphinxPrimitives, LionessIsAPermutationThatScramblesEverythingOnAnyChange) {
  LionessKey key = labelled<kLionessKeyBytes>("lioness");
  Bytes block(kPayloadBytes);
  randombytes_buf(block.data(), block.size());
  const Bytes plain = block;
  lioness_encrypt(key, block);
  EXPECT_NE(block, plain);
  Bytes changed = block;
  lioness_decrypt(key, block);
  EXPECT_EQ(block, plain);
  // One flipped ciphertext bit, in R or in L: about half of all plaintext bits differ.
  for (std::size_t at : {std::size_t{3}, std::size_t{40}, kPayloadBytes - 1}) {
    Bytes c = changed;
    c[at] ^= 0x10;
    lioness_decrypt(key, c);
    std::size_t differing = 0;
    for (std::size_t i = 0; i < c.size(); ++i)
      differing += static_cast<std::size_t>(__builtin_popcount(c[i] ^ plain[i]));
    EXPECT_GT(differing, c.size() * 8 * 4 / 10) << at;
    EXPECT_LT(differing, c.size() * 8 * 6 / 10) << at;
  }
}

struct Net {
  std::vector<SecretKey> secrets;
  std::vector<Hop> hops;
  explicit Net(std::size_t n, const std::string& seed = "node") {
    for (std::size_t i = 0; i < n; ++i) {
      secrets.push_back(labelled<32>(seed + " key " + std::to_string(i)));
      hops.push_back({labelled<32>(seed + " id " + std::to_string(i)), routing_public_key(secrets.back())});
    }
  }
};

TEST(Sphinx, APacketCrossesOneToFiveHopsAtAFixedSizeAndOnlyTheLastHopReadsIt) {
  const Bytes body(as_bytes("meet at the usual place").begin(), as_bytes("meet at the usual place").end());
  for (std::size_t n = 1; n <= kMaxHops; ++n) {
    SCOPED_TRACE(n);
    Net net(n);
    Destination dest{labelled<32>("bob"), std::nullopt};
    auto packet = create_packet(net.hops, dest, body);
    ASSERT_TRUE(packet);
    Bytes current = *packet;
    std::set<ReplayTag> tags;
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(current.size(), kPacketBytes);
      // Another hop's key cannot open it.
      if (n > 1) {
        EXPECT_EQ(failure(unwrap(net.secrets[(i + 1) % n], current)), SphinxError::bad_mac);
      }
      auto u = unwrap(net.secrets[i], current);
      ASSERT_TRUE(u) << to_string(u.error());
      EXPECT_TRUE(tags.insert(u->replay_tag).second);
      // Unwrapping the same packet again gives the same replay tag: how a hop sees a replay.
      EXPECT_EQ(unwrap(net.secrets[i], current)->replay_tag, u->replay_tag);
      if (i + 1 < n) {
        ASSERT_TRUE(u->forward);
        EXPECT_EQ(u->next_hop, net.hops[i + 1].id);
        EXPECT_NE(u->packet, current);
        current = u->packet;
      } else {
        ASSERT_FALSE(u->forward);
        EXPECT_EQ(u->recipient, dest.recipient);
        EXPECT_FALSE(u->surb);
        ASSERT_EQ(u->body.size(), kBodyBytes);
        EXPECT_TRUE(std::equal(body.begin(), body.end(), u->body.begin()));
        EXPECT_TRUE(sodium_is_zero(u->body.data() + body.size(), kBodyBytes - body.size()));
      }
    }
  }
}

TEST(Sphinx, AChangedHeaderBitFailsTheNextHopAndAChangedPayloadBitFailsTheLast) {
  Net net(3);
  Destination dest{labelled<32>("bob"), std::nullopt};
  const auto packet = *create_packet(net.hops, dest, as_bytes("hello"));
  for (std::size_t bit = 0; bit < kHeaderBytes * 8; ++bit) {
    Bytes p = packet;
    p[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    const auto u = unwrap(net.secrets[0], p);
    ASSERT_FALSE(u) << "bit " << bit;
    EXPECT_TRUE(u.error() == SphinxError::bad_mac || u.error() == SphinxError::bad_command ||
                u.error() == SphinxError::bad_group_element)
        << bit;
  }
  // Payload bits: the mixes cannot see the change (they forward it), the last hop refuses it.
  for (std::size_t bit = kHeaderBytes * 8; bit < kPacketBytes * 8; bit += 61) {
    Bytes p = packet;
    p[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    auto a = unwrap(net.secrets[0], p);
    ASSERT_TRUE(a);
    auto b = unwrap(net.secrets[1], a->packet);
    ASSERT_TRUE(b);
    EXPECT_EQ(failure(unwrap(net.secrets[2], b->packet)), SphinxError::tagged_payload) << "bit " << bit;
  }
}

TEST(Sphinx, BadInputIsRefusedWithItsReason) {
  Net net(2);
  Destination dest{labelled<32>("bob"), std::nullopt};
  const auto packet = *create_packet(net.hops, dest, as_bytes("x"));
  EXPECT_EQ(unwrap(net.secrets[0], ByteView(packet).first(kPacketBytes - 1)).error(),
            SphinxError::wrong_size);
  Bytes low = packet;
  std::fill(low.begin() + 2, low.begin() + 34, 0);  // alpha = 0, a low-order point
  EXPECT_EQ(unwrap(net.secrets[0], low).error(), SphinxError::bad_group_element);
  EXPECT_EQ(create_packet({}, dest, as_bytes("x")).error(), SphinxError::bad_path);
  Net six(6);
  EXPECT_EQ(create_packet(six.hops, dest, as_bytes("x")).error(), SphinxError::bad_path);
  EXPECT_EQ(create_packet(net.hops, dest, Bytes(kBodyBytes + 1)).error(), SphinxError::bad_body);
  EXPECT_TRUE(create_packet(net.hops, dest, Bytes(kBodyBytes, 7)));
  auto bad_key = net.hops;
  bad_key[1].key = {};  // zero: a low-order routing key
  EXPECT_EQ(create_packet(bad_key, dest, as_bytes("x")).error(), SphinxError::bad_path);
  std::array<std::uint8_t, 8> junk{};
  EXPECT_EQ(Surb::parse(junk).error(), SphinxError::wrong_size);
}

TEST(Sphinx, AReplyBlockCarriesOneReplyBackToItsMakerWhoAloneCanReadIt) {
  Net net(3, "reply");  // two mixes and the maker
  const SurbId id = labelled<16>("surb");
  Destination back{net.hops[2].id, id};
  auto made = create_surb(net.hops, back);
  ASSERT_TRUE(made);
  auto& [surb, secrets] = *made;
  // The SURB travels inside a forward message, serialised.
  const auto wire = surb.serialize();
  ASSERT_EQ(wire.size(), kSurbBytes);
  const auto parsed = Surb::parse(wire);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first_hop, net.hops[0].id);

  auto reply = surb_packet(*parsed, as_bytes("ack 42"));
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->size(), kPacketBytes);
  auto a = unwrap(net.secrets[0], *reply);
  ASSERT_TRUE(a && a->forward);
  auto b = unwrap(net.secrets[1], a->packet);
  ASSERT_TRUE(b && b->forward);
  auto c = unwrap(net.secrets[2], b->packet);
  ASSERT_TRUE(c);
  ASSERT_FALSE(c->forward);
  ASSERT_TRUE(c->surb);
  EXPECT_EQ(*c->surb, id);
  EXPECT_TRUE(c->body.empty());  // a reply is only readable with the SURB's secrets
  const auto body = open_reply(secrets, c->payload);
  ASSERT_TRUE(body);
  EXPECT_EQ(hyphae::to_string(ByteView(*body).first(6)), "ack 42");

  // A changed reply, or someone else's secrets: refused.
  Bytes changed = c->payload;
  changed[100] ^= 1;
  EXPECT_EQ(open_reply(secrets, changed).error(), SphinxError::tagged_payload);
  auto other = create_surb(net.hops, back);
  EXPECT_EQ(open_reply(other->second, c->payload).error(), SphinxError::tagged_payload);
  EXPECT_EQ(create_surb(net.hops, Destination{net.hops[2].id, std::nullopt}).error(),
            SphinxError::bad_command);
}

// Deterministic packets: fixed node keys, sender ephemeral and SURB key.
nlohmann::json generate_vectors() {
  nlohmann::json all = nlohmann::json::array();
  const Bytes body = [] {
    const std::string text = "This is a Sphinx packet carried by the hyphae mixnet.";
    return Bytes(text.begin(), text.end());
  }();
  for (std::size_t n = 1; n <= kMaxHops; ++n) {
    for (bool with_surb : {false, true}) {
      Net net(n, "vector");
      nlohmann::json v;
      v["hops"] = n;
      for (std::size_t i = 0; i < n; ++i) {
        v["nodes"].push_back({{"id", to_hex(net.hops[i].id)}, {"private_key", to_hex(net.secrets[i])}});
        v["path"].push_back({{"id", to_hex(net.hops[i].id)}, {"public_key", to_hex(net.hops[i].key)}});
      }
      const SecretKey ephemeral = labelled<32>("ephemeral " + std::to_string(n));
      v["ephemeral"] = to_hex(ephemeral);
      Bytes first;
      if (!with_surb) {
        Destination dest{labelled<32>("recipient"), std::nullopt};
        v["recipient"] = to_hex(dest.recipient);
        v["payload"] = to_hex(body);
        first = *create_packet(net.hops, dest, body, &ephemeral);
      } else {
        Destination dest{net.hops[n - 1].id, labelled<16>("surb id")};
        const LionessKey key = labelled<kLionessKeyBytes>("surb key");
        auto made = *create_surb(net.hops, dest, &ephemeral, &key);
        v["recipient"] = to_hex(dest.recipient);
        v["surb_id"] = to_hex(*dest.surb);
        v["surb"] = to_hex(made.first.serialize());
        v["payload"] = to_hex(body);
        first = *surb_packet(made.first, body);
      }
      Bytes current = first;
      for (std::size_t i = 0; i < n; ++i) {
        v["packets"].push_back(to_hex(current));
        auto u = *unwrap(net.secrets[i], current);
        if (u.forward) current = u.packet;
      }
      all.push_back(v);
    }
  }
  return all;
}

TEST(Sphinx, CommittedVectorsStillHold) {
  const auto generated = generate_vectors();
  if (std::getenv("HYPHAE_WRITE_SPHINX_VECTORS")) {
    std::ofstream out(kDir + "sphinx_vectors.json");
    out << "[\n";
    for (std::size_t i = 0; i < generated.size(); ++i)
      out << generated[i].dump() << (i + 1 < generated.size() ? ",\n" : "\n");
    out << "]\n";
  }
  const auto committed = load("sphinx_vectors.json");
  ASSERT_EQ(committed.size(), 10u);
  for (std::size_t t = 0; t < committed.size(); ++t) {
    const auto& v = committed[t];
    SCOPED_TRACE(t);
    // Every hop's packet, replayed from the committed keys alone.
    const std::size_t n = v["hops"];
    ASSERT_EQ(v["packets"].size(), n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto packet = hex(v["packets"][i]);
      ASSERT_EQ(packet.size(), kPacketBytes);
      const auto u = unwrap(fixed<32>(hex(v["nodes"][i]["private_key"])), packet);
      ASSERT_TRUE(u) << to_string(u.error());
      if (i + 1 < n) {
        EXPECT_EQ(to_hex(u->packet), v["packets"][i + 1]);
        EXPECT_EQ(to_hex(u->next_hop), v["path"][i + 1]["id"]);
      } else if (v.contains("surb_id")) {
        ASSERT_TRUE(u->surb);
        EXPECT_EQ(to_hex(*u->surb), v["surb_id"]);
      } else {
        const auto payload = hex(v["payload"]);
        EXPECT_TRUE(std::equal(payload.begin(), payload.end(), u->body.begin()));
      }
    }
    // And this code makes the same bytes.
    EXPECT_EQ(generated[t]["packets"], v["packets"]);
    if (v.contains("surb")) {
      EXPECT_EQ(generated[t]["surb"], v["surb"]);
    }
  }
}

}  // namespace
}  // namespace hyphae::sphinx
