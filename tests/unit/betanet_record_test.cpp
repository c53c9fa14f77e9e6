// The BetaNet transport's record (what one private message carries between two nodes) and the
// transport type's configuration checks.
#include "transport/betanet/betanet_record.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "transport/betanet/betanet_transport.hpp"
#include "transport/betanet/betanet_type.hpp"

namespace hyphae::transport {
namespace {

TEST(BetanetRecord, ASignedRecordNamesItsSenderAndOpensOnlyForItsRecipientAndId) {
  const auto alice = Identity::generate();
  const auto bob = Identity::generate();
  const auto carol = Identity::generate();
  betanet_record::PrivateId id{};
  id.fill(7);
  const auto text = as_bytes("an envelope");
  const Bytes body(text.begin(), text.end());
  const Bytes record = betanet_record::encode(alice, bob.peer_id(), id, 1, body);
  EXPECT_EQ(record.size(), betanet_record::overhead(alice.peer_id()) + body.size());
  auto opened = betanet_record::decode(record, bob.peer_id(), id);
  ASSERT_TRUE(opened) << opened.error();
  EXPECT_EQ(opened->sender, alice.peer_id());
  EXPECT_EQ(opened->kind, 1);
  EXPECT_EQ(opened->body, body);
  // Carol cannot pass it on to someone else as hers or as alice's to her.
  EXPECT_EQ(betanet_record::decode(record, carol.peer_id(), id).error(), "record: bad signature");
  auto other_id = id;
  other_id[15] = 8;
  EXPECT_EQ(betanet_record::decode(record, bob.peer_id(), other_id).error(), "record: bad signature");
  for (std::size_t at : {std::size_t{1}, std::size_t{10}, record.size() - 1}) {
    Bytes changed = record;
    changed[at] ^= 0x01;
    EXPECT_FALSE(betanet_record::decode(changed, bob.peer_id(), id)) << at;
  }
  EXPECT_EQ(betanet_record::decode(ByteView(record).first(20), bob.peer_id(), id).error(),
            "record: truncated");
  Bytes version = record;
  version[0] = 2;
  EXPECT_EQ(betanet_record::decode(version, bob.peer_id(), id).error(), "record: unknown version 2");
}

TEST(BetanetRecord, BroadcastBodiesRoundTripAndBoundTheirChannel) {
  const Bytes body = betanet_record::encode_broadcast_body("ops", 1234567, as_bytes("hello"));
  auto b = betanet_record::decode_broadcast_body(body);
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(b->channel, "ops");
  EXPECT_EQ(b->timestamp_ms, 1234567u);
  EXPECT_EQ(hyphae::to_string(b->payload), "hello");
  Bytes long_channel{65};
  long_channel.resize(1 + 65 + 8, 'a');
  EXPECT_EQ(betanet_record::decode_broadcast_body(long_channel).error(), "broadcast: channel too long");
  EXPECT_EQ(betanet_record::decode_broadcast_body(ByteView(body).first(5)).error(), "broadcast: truncated");
}

TEST(BetanetType, TheFactoryNamesWhatIsMissingOrInconsistent) {
  const auto type = betanet_transport_type();
  ASSERT_TRUE(type.factory);
  auto schema_ok = type.options.check_all({{"privacy_mode", "strict"}, {"epoch_s", "60"}});
  EXPECT_TRUE(schema_ok);
  EXPECT_FALSE(type.options.check_all({{"privacy_mode", "paranoid"}}));
  EXPECT_FALSE(type.options.check_all({{"min_mixes", "5"}}));
  boost::asio::io_context io;
  const auto id = Identity::generate();
  const auto make = [&](Options options) {
    return type.factory(TransportContext{.name = "betanet",
                                         .options = std::move(options),
                                         .strand = boost::asio::make_strand(io.get_executor()),
                                         .identity = &id,
                                         .sink = nullptr,
                                         .session_ids = nullptr,
                                         .log = nullptr});
  };
  EXPECT_EQ(make({}).error(), "transport 'betanet' (betanet) needs registry and registry_peer");
  const Options reachable{{"registry", "http://127.0.0.1:1"}, {"registry_peer", id.peer_id().to_string()}};
  auto strict = reachable;
  strict["privacy_mode"] = "strict";
  strict["max_hops"] = "2";
  EXPECT_EQ(make(strict).error(), "transport 'betanet': privacy_mode needs 3 mixes but max_hops is 2");
  auto retry = reachable;
  retry["retry_min_ms"] = "5000";
  retry["retry_max_ms"] = "1000";
  EXPECT_EQ(make(retry).error(), "retry_max_ms must not be below retry_min_ms");
  auto made = make(reachable);
  ASSERT_TRUE(made) << made.error();
  EXPECT_EQ((*made)->capabilities().anonymity_level, 3);
  EXPECT_FALSE((*made)->capabilities().authenticated_sessions);
  EXPECT_TRUE((*made)->capabilities().broadcast);
  EXPECT_FALSE((*made)->available());  // no topology before start
}

TEST(BetanetType, PeersTheTransportKeepsAreBounded) {
  boost::asio::io_context io;
  const auto id = Identity::generate();
  auto made = betanet_transport_type().factory(TransportContext{
      .name = "betanet",
      .options = {{"registry", "http://127.0.0.1:1"}, {"registry_peer", id.peer_id().to_string()}},
      .strand = boost::asio::make_strand(io.get_executor()),
      .identity = &id,
      .sink = nullptr,
      .session_ids = nullptr,
      .log = nullptr});
  ASSERT_TRUE(made) << made.error();
  auto& t = **made;
  // A flood of peers (hints, addresses, or senders writing in): the oldest without a session go.
  std::array<std::uint8_t, 32> key{};
  for (std::uint32_t i = 0; i < 5000; ++i) {
    std::memcpy(key.data(), &i, sizeof i);
    t.connect_soon(PeerId::from_ed25519(key));
  }
  EXPECT_EQ(t.status_json()["peers"], BetanetTransport::kMaxPeers);
  EXPECT_EQ(t.add_addresses(id.peer_id(), {""}), make_error_code(Errc::invalid_argument));
  EXPECT_EQ(t.send(PeerId::from_ed25519(key), RecordKind::data, as_bytes("x")),
            make_error_code(Errc::closed));
}

}  // namespace
}  // namespace hyphae::transport
