// Signed peer records over the API, between two real nodes on loopback: a node serves its own
// record; a record given to another node lets it message that PeerId with no address typed; a
// repeat changes nothing; a tampered, foreign-signed or older record is refused with a 4xx.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/client.hpp"
#include "api_test_support.hpp"
#include "core/identity.hpp"
#include "discovery/peer_record.hpp"
#include "discovery/signed_envelope.hpp"
#include "util/json_util.hpp"

namespace hyphae {
namespace {

using api_test::ApiHost;

TEST(ApiRecords, ANodeServesItsSignedRecordWithItsTcpAddress) {
  ApiHost h;
  ApiClient client(h.endpoint());
  auto r = client.request("GET", "/v1/p2p/record");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  const auto a_id = h.a().peer_id();
  EXPECT_EQ(r.body["peer_id"], a_id.to_string());
  const auto port = h.on_strand([&] { return h.a().listen_port(); });
  EXPECT_EQ(r.body["addresses"], nlohmann::json::array({"/ip4/127.0.0.1/tcp/" + std::to_string(port)}));
  EXPECT_EQ(r.body["role"], "BASIC");
  // The envelope verifies on its own, and a later record has a higher sequence number.
  auto envelope = base64_decode(r.body["envelope_base64"].get<std::string>());
  ASSERT_TRUE(envelope);
  auto record = discovery::open_peer_record(*envelope);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->peer, a_id);
  auto again = client.request("GET", "/v1/p2p/record");
  EXPECT_GT(again.body["seq"].get<std::uint64_t>(), r.body["seq"].get<std::uint64_t>());
}

TEST(ApiRecords, AGivenRecordIsEnoughToMessageThatPeerId) {
  ApiHost h;
  ApiClient client(h.endpoint());
  const auto b_id = h.b().peer_id();
  auto b_record = h.on_b([&] { return *h.b().signed_record(); });
  std::vector<std::string> received;
  h.on_b([&] {
    return h.b().subscribe(
        [&](const InboundMessage& m) { received.emplace_back(m.payload.begin(), m.payload.end()); });
  });
  // Nothing known about b: a durable message waits.
  auto learned =
      client.request("POST", "/v1/p2p/records", nlohmann::json{{"envelope_base64", base64_encode(b_record)}});
  ASSERT_EQ(learned.status, 201) << learned.body.dump();
  EXPECT_EQ(learned.body["peer_id"], b_id.to_string());
  EXPECT_EQ(learned.body["stored"], true);
  ASSERT_EQ(learned.body["usable_addresses"].size(), 1u);
  // The same record again: nothing new.
  auto repeat =
      client.request("POST", "/v1/p2p/records", nlohmann::json{{"envelope_base64", base64_encode(b_record)}});
  EXPECT_EQ(repeat.status, 200);
  EXPECT_EQ(repeat.body["stored"], false);
  // a sends to b knowing only its PeerId and its record.
  auto sent = client.request("POST", "/v1/messages",
                             nlohmann::json{{"to", b_id.to_string()}, {"payload", "hello b"}});
  ASSERT_EQ(sent.status / 100, 2) << sent.body.dump();
  ASSERT_TRUE(ApiHost::wait_for([&] { return h.on_b([&] { return received.size(); }) == 1; }));
  EXPECT_EQ(h.on_b([&] { return received.front(); }), "hello b");
}

// A message to a PeerId nobody can reach waits in the outbox; the peer's record appearing later
// (from a registry, a query answer, the app) makes the node dial it and deliver.
TEST(ApiRecords, AMessageThatWaitedGoesOutWhenThePeersRecordAppears) {
  ApiHost h;
  ApiClient client(h.endpoint());
  const auto b_id = h.b().peer_id();
  std::vector<std::string> received;
  h.on_b([&] {
    return h.b().subscribe(
        [&](const InboundMessage& m) { received.emplace_back(m.payload.begin(), m.payload.end()); });
  });
  auto sent =
      client.request("POST", "/v1/messages", nlohmann::json{{"to", b_id.to_string()}, {"payload", "waited"}});
  ASSERT_EQ(sent.status / 100, 2) << sent.body.dump();
  const auto id = sent.body["id"].get<std::string>();
  // No address is known for b: the message is stored and waits (nothing to dial).
  EXPECT_EQ(client.request("GET", "/v1/messages/" + id).body["status"], "queued");
  auto b_record = h.on_b([&] { return *h.b().signed_record(); });
  ASSERT_EQ(
      client.request("POST", "/v1/p2p/records", nlohmann::json{{"envelope_base64", base64_encode(b_record)}})
          .status,
      201);
  ASSERT_TRUE(ApiHost::wait_for([&] { return h.on_b([&] { return received.size(); }) == 1; }));
  EXPECT_EQ(h.on_b([&] { return received.front(); }), "waited");
  ASSERT_TRUE(ApiHost::wait_for(
      [&] { return client.request("GET", "/v1/messages/" + id).body["status"] == "delivered"; }));
}

TEST(ApiRecords, TamperedForeignSignedOlderAndBrokenRecordsAreRefused) {
  ApiHost h;
  ApiClient client(h.endpoint());
  auto post = [&](const Bytes& envelope) {
    return client.request("POST", "/v1/p2p/records",
                          nlohmann::json{{"envelope_base64", base64_encode(envelope)}});
  };
  const auto older = h.on_b([&] { return *h.b().signed_record(); });
  const auto newer = h.on_b([&] { return *h.b().signed_record(); });
  ASSERT_EQ(post(newer).status, 201);
  auto replay = post(older);
  EXPECT_EQ(replay.status, 409) << replay.body.dump();
  // One byte of the record changed.
  auto tampered = newer;
  tampered[tampered.size() - 70] ^= 0x01;
  EXPECT_EQ(post(tampered).status, 400);
  // Signed by someone else for b's PeerId.
  auto b_record = discovery::open_peer_record(newer);
  ASSERT_TRUE(b_record);
  b_record->seq += 10;
  const auto mallory = Identity::generate();
  auto forged = discovery::seal_envelope(mallory, discovery::kPeerRecordDomain, discovery::kPeerRecordCodec,
                                         discovery::encode_peer_record(*b_record));
  auto refused = post(forged);
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body["error"].get<std::string>().find("signature"), std::string::npos);
  // Not a record at all, not base64, no field.
  EXPECT_EQ(post(Bytes{1, 2, 3}).status, 400);
  EXPECT_EQ(client.request("POST", "/v1/p2p/records", nlohmann::json{{"envelope_base64", "***"}}).status,
            400);
  EXPECT_EQ(client.request("POST", "/v1/p2p/records", nlohmann::json::object()).status, 400);
  // Its own record is not something to learn.
  auto own = client.request("GET", "/v1/p2p/record");
  EXPECT_EQ(client
                .request("POST", "/v1/p2p/records",
                         nlohmann::json{{"envelope_base64", own.body["envelope_base64"]}})
                .status,
            400);
  // b's record is still the newer one.
  EXPECT_EQ(post(newer).status, 200);
}

}  // namespace
}  // namespace hyphae
