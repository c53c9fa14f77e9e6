// Signed peer records against js-libp2p's own output (tests/vectors/libp2p/peer_record.json):
// multiaddrs, the record payload and the whole signed envelope byte for byte (Ed25519 signatures
// are deterministic), Hyphae's extra fields in a record js-libp2p sealed and read back, and what
// must be refused: tampering, another domain, a record naming someone else, replays and expiry.
#include "discovery/peer_record.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "discovery/multiaddr.hpp"
#include "discovery/signed_envelope.hpp"

namespace hyphae::discovery {
namespace {

nlohmann::json vectors() {
  std::ifstream in(std::string(HYPHAE_VECTORS_DIR) + "/libp2p/peer_record.json");
  EXPECT_TRUE(in.good());
  return nlohmann::json::parse(in);
}

Identity identity_from_seed_hex(const std::string& hex) {
  const auto bytes = from_hex(hex);
  std::array<std::uint8_t, 32> seed{};
  std::copy(bytes.begin(), bytes.end(), seed.begin());
  return Identity::from_seed(seed);
}

Bytes hex_bytes(const nlohmann::json& j) {
  bool ok = false;
  auto b = from_hex(j.get<std::string>(), &ok);
  EXPECT_TRUE(ok);
  return b;
}

TEST(PeerRecordVectors, MultiaddrsRecordsAndEnvelopesMatchJsLibp2pByteForByte) {
  const auto v = vectors();
  ASSERT_EQ(v.at("domain"), std::string(kPeerRecordDomain));
  ASSERT_EQ(hex_bytes(v.at("codec")), Bytes(kPeerRecordCodec.begin(), kPeerRecordCodec.end()));
  for (const auto& c : v.at("cases")) {
    SCOPED_TRACE(c.at("peer_id").get<std::string>());
    const auto id = identity_from_seed_hex(c.at("seed"));
    EXPECT_EQ(id.peer_id().to_string(), c.at("peer_id"));
    PeerRecord record;
    record.peer = id.peer_id();
    record.seq = std::stoull(c.at("seq").get<std::string>());
    for (std::size_t i = 0; i < c.at("multiaddrs").size(); ++i) {
      const auto text = c.at("multiaddrs")[i].get<std::string>();
      auto bytes = multiaddr_from_text(text);
      ASSERT_TRUE(bytes) << text << ": " << bytes.error();
      EXPECT_EQ(*bytes, hex_bytes(c.at("multiaddrs_bytes")[i])) << text;
      auto back = multiaddr_to_text(*bytes);
      ASSERT_TRUE(back);
      EXPECT_EQ(*back, text);
      record.addresses.push_back(*bytes);
    }
    EXPECT_EQ(encode_peer_record(record), hex_bytes(c.at("record")));
    auto sealed = seal_peer_record(id, record);
    ASSERT_TRUE(sealed);
    EXPECT_EQ(*sealed, hex_bytes(c.at("envelope")));
    auto opened = open_peer_record(hex_bytes(c.at("envelope")));
    ASSERT_TRUE(opened) << opened.error().message();
    EXPECT_EQ(*opened, record);
  }
}

TEST(PeerRecordVectors, HyphaeFieldsTravelInARecordJsLibp2pSealedAndReads) {
  const auto e = vectors().at("hyphae_extended");
  // js-libp2p's decoder read the libp2p fields of this record and skipped Hyphae's.
  EXPECT_EQ(e.at("js_reads").at("peer_id"), e.at("peer_id"));
  EXPECT_EQ(e.at("js_reads").at("seq"), "42");
  auto opened = open_peer_record(hex_bytes(e.at("envelope")));
  ASSERT_TRUE(opened) << opened.error().message();
  const auto& r = *opened;
  EXPECT_EQ(r.peer.to_string(), e.at("peer_id"));
  EXPECT_EQ(r.seq, 42u);
  ASSERT_EQ(r.addresses.size(), 1u);
  EXPECT_EQ(*multiaddr_to_text(r.addresses[0]), "/ip4/192.0.2.7/tcp/4001");
  EXPECT_EQ(r.role, PeerRole::super_peer);
  EXPECT_EQ(r.services, (std::vector<std::string>{"messaging", "relay"}));
  EXPECT_EQ(r.expires_ms, 1000u);
  ASSERT_EQ(r.coordinators.size(), 1u);
  EXPECT_EQ(r.coordinators[0].to_string(), e.at("coordinator"));
  EXPECT_EQ(r.region, "eu-west");
  EXPECT_EQ(r.max_connections, 128u);
  // Our encoder writes the same payload, and seals it to the same envelope.
  EXPECT_EQ(encode_peer_record(r), hex_bytes(e.at("record")));
  auto sealed = seal_peer_record(identity_from_seed_hex(e.at("seed")), r);
  ASSERT_TRUE(sealed);
  EXPECT_EQ(*sealed, hex_bytes(e.at("envelope")));
}

PeerRecord sample(const Identity& id, std::uint64_t seq) {
  PeerRecord r;
  r.peer = id.peer_id();
  r.seq = seq;
  r.addresses.push_back(*multiaddr_from_text("/ip4/127.0.0.1/tcp/4001"));
  r.services = {"messaging"};
  return r;
}

TEST(PeerRecord, TamperingAnotherDomainOrAnotherTypeIsRefused) {
  const auto id = Identity::generate();
  const auto envelope = *seal_peer_record(id, sample(id, 5));
  ASSERT_TRUE(open_peer_record(envelope));
  // Any byte of the payload changed: the signature fails (or the bytes no longer parse).
  for (std::size_t i = 40; i < envelope.size() - 66; ++i) {
    auto bad = envelope;
    bad[i] ^= 0x01;
    auto opened = open_peer_record(bad);
    ASSERT_FALSE(opened) << "byte " << i;
  }
  // The same payload signed for another purpose is not a peer record.
  const auto payload = encode_peer_record(sample(id, 5));
  EXPECT_EQ(open_peer_record(seal_envelope(id, "libp2p-relay-rsvp", kPeerRecordCodec, payload)).error(),
            make_error_code(Errc::bad_signature));
  // Signed for the right domain with another payload type.
  const std::array<std::uint8_t, 2> other_type{0x03, 0x02};
  EXPECT_EQ(open_peer_record(seal_envelope(id, kPeerRecordDomain, other_type, payload)).error(),
            make_error_code(Errc::malformed));
}

TEST(PeerRecord, NobodyCanSignARecordForSomeoneElse) {
  const auto alice = Identity::generate(), mallory = Identity::generate();
  // seal refuses it; a hand-made envelope is refused when opened.
  EXPECT_EQ(seal_peer_record(mallory, sample(alice, 9)).error(), make_error_code(Errc::invalid_argument));
  const auto forged =
      seal_envelope(mallory, kPeerRecordDomain, kPeerRecordCodec, encode_peer_record(sample(alice, 9)));
  EXPECT_EQ(open_peer_record(forged).error(), make_error_code(Errc::peer_id_mismatch));
}

TEST(PeerRecord, AnOlderOrExpiredRecordNeverReplacesANewerOne) {
  const auto id = Identity::generate();
  const auto v5 = sample(id, 5);
  auto v6 = sample(id, 6);
  EXPECT_EQ(judge_record(nullptr, v5, 1000), RecordVerdict::accept);
  EXPECT_EQ(judge_record(&v5, v6, 1000), RecordVerdict::accept);
  EXPECT_EQ(judge_record(&v6, v5, 1000), RecordVerdict::replay);
  EXPECT_EQ(judge_record(&v5, v5, 1000), RecordVerdict::repeat);
  v6.expires_ms = 1000;
  EXPECT_EQ(judge_record(&v5, v6, 999), RecordVerdict::accept);
  EXPECT_EQ(judge_record(&v5, v6, 1000), RecordVerdict::expired);
}

TEST(PeerRecord, DecodingBoundsRefuseOversizedRecords) {
  const auto id = Identity::generate();
  auto r = sample(id, 1);
  r.addresses.assign(kMaxRecordAddresses + 1, r.addresses[0]);
  EXPECT_EQ(decode_peer_record(encode_peer_record(r)).error(), make_error_code(Errc::malformed));
  r = sample(id, 1);
  r.services.assign(kMaxRecordServices + 1, "x");
  EXPECT_EQ(decode_peer_record(encode_peer_record(r)).error(), make_error_code(Errc::malformed));
  r = sample(id, 1);
  r.region = std::string(kMaxRecordText + 1, 'r');
  EXPECT_EQ(decode_peer_record(encode_peer_record(r)).error(), make_error_code(Errc::malformed));
  // An envelope over the size bound is not even parsed.
  EXPECT_EQ(open_envelope(Bytes(kMaxEnvelopeBytes + 1, 0), kPeerRecordDomain).error(),
            make_error_code(Errc::malformed));
}

TEST(Multiaddr, TextErrorsNameTheProblemAndBinaryErrorsAreMalformed) {
  EXPECT_EQ(multiaddr_from_text("ip4/1.2.3.4").error(), "a multiaddr starts with '/'");
  EXPECT_EQ(multiaddr_from_text("/ip4/1.2.3").error(), "'1.2.3' is not an IPv4 address");
  EXPECT_EQ(multiaddr_from_text("/tcp/65536").error(), "'65536' is not a port (0 to 65535)");
  EXPECT_EQ(multiaddr_from_text("/carrier-pigeon/1").error(), "unknown protocol 'carrier-pigeon'");
  EXPECT_EQ(multiaddr_from_text("/tcp").error(), "'tcp' needs a value");
  const auto id = Identity::generate();
  auto with_peer = multiaddr_from_text("/ip4/1.2.3.4/tcp/1/p2p/" + id.peer_id().to_string());
  ASSERT_TRUE(with_peer);
  EXPECT_EQ(*multiaddr_to_text(*with_peer), "/ip4/1.2.3.4/tcp/1/p2p/" + id.peer_id().to_string());
  EXPECT_FALSE(multiaddr_to_text(Bytes{0x04, 0x7f}));        // truncated ip4
  EXPECT_FALSE(multiaddr_to_text(Bytes{0x99, 0x99, 0x01}));  // unknown code
  EXPECT_FALSE(multiaddr_to_text(Bytes{0x35, 0x05, 'a'}));   // length past the end
  // A code or a length in a longer varint than it needs (found by fuzzing): one binary form only.
  EXPECT_TRUE(multiaddr_to_text(Bytes{0x06, 0x00, 0x50}));
  EXPECT_FALSE(multiaddr_to_text(Bytes{0x86, 0x00, 0x00, 0x50}));
  EXPECT_FALSE(multiaddr_to_text(Bytes{0x35, 0x81, 0x00, 'a'}));
  // A signaling server to reach a peer by WebRTC: /p2p-webrtc-star is code 0x0113 (varint 93 02).
  auto star = multiaddr_from_text("/ip4/10.0.0.1/tcp/8471/ws/p2p-webrtc-star");
  ASSERT_TRUE(star);
  EXPECT_EQ(to_hex(ByteView(star->data() + star->size() - 2, 2)), "9302");
  EXPECT_EQ(*multiaddr_to_text(*star), "/ip4/10.0.0.1/tcp/8471/ws/p2p-webrtc-star");
}

}  // namespace
}  // namespace hyphae::discovery
