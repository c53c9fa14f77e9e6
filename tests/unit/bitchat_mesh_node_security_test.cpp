// MeshNode against hostile input (review findings): forged transport messages, announces that try
// to bind someone else's mesh ID, unsigned leaves, replayed broadcasts, handshakes from strangers
// and a flood of fresh identities change no session and hold no unbounded state.
#include <gtest/gtest.h>
#include <sodium.h>

#include <nlohmann/json.hpp>

#include "bitchat/mesh_sim.hpp"
#include "bitchat_mesh_test_support.hpp"

using namespace hyphae;
using namespace hyphae::bitchat;
using namespace hyphae::bitchat::testing;

namespace {

// Two nodes with a session, node 1 hearing node 0 on link `link` (MeshSim numbers links from 1).
struct Pair {
  MeshSim sim;
  LinkId link_at_1 = 0;
  Pair() {
    sim.add_nodes(2, fast_options());
    sim.connect(0, 1);
    const bool up = sim.run_until(
        [&] {
          return sim.node(0).session(sim.identity(1).peer_id()) &&
                 sim.node(1).session(sim.identity(0).peer_id());
        },
        10'000);
    if (!up) throw std::runtime_error("no session");
    link_at_1 = 2;  // connect(0, 1) made link 1 at node 0 and link 2 at node 1
  }
  void inject(const Packet& p) {
    auto frame = encode(p);
    ASSERT_TRUE(frame.has_value());
    sim.apply(1, sim.node(1).on_frame(link_at_1, *frame, sim.now()));
  }
};

}  // namespace

TEST(BitchatMeshNodeSecurity, AForgedTransportMessageDoesNotEndASession) {
  Pair pair;
  auto& sim = pair.sim;
  const auto session = sim.node(1).session(sim.identity(0).peer_id());
  Packet forged;
  forged.type = static_cast<std::uint8_t>(MessageType::noise_encrypted);
  forged.timestamp_ms = sim.now();
  forged.sender = sim.node(0).self();
  forged.recipient = sim.node(1).self();
  forged.payload.resize(40);
  randombytes_buf(forged.payload.data(), forged.payload.size());
  for (int i = 0; i < 5; ++i) {
    forged.timestamp_ms += 1;
    pair.inject(forged);
  }
  sim.run_for(5000);
  EXPECT_EQ(sim.node(1).session(sim.identity(0).peer_id()), session);
  EXPECT_EQ(count(sim, 1, MeshEvent::Kind::peer_down), 0u);
  EXPECT_GE(sim.node(1).counters().decrypt_errors, 5u);
}

TEST(BitchatMeshNodeSecurity, AnAnnounceCannotBindAnotherNodesMeshIdToItsIdentity) {
  Pair pair;
  auto& sim = pair.sim;
  const auto session = sim.node(1).session(sim.identity(0).peer_id());
  Identity attacker = Identity::generate();
  // The victim's Noise key (so the sender ID is the victim's), signed by the attacker.
  auto forged = make_announce(attacker, sim.node(0).noise_public(), {"mallory", {}, 0}, sim.now() + 60'000);
  ASSERT_TRUE(forged.has_value());
  pair.inject(*forged);
  sim.run_for(3000);
  EXPECT_EQ(sim.node(1).session(sim.identity(0).peer_id()), session);
  EXPECT_EQ(sim.node(1).session(attacker.peer_id()), 0u);
  EXPECT_EQ(count(sim, 1, MeshEvent::Kind::peer_down), 0u);
  const auto status = sim.node(1).status_json(sim.now());
  for (const auto& p : status["peers"])
    if (p["mesh_id"] == to_hex(sim.node(0).self())) EXPECT_EQ(p["nickname"], "n0");
}

TEST(BitchatMeshNodeSecurity, OnlyASignedLeaveEndsASession) {
  Pair pair;
  auto& sim = pair.sim;
  Packet leave;
  leave.type = static_cast<std::uint8_t>(MessageType::leave);
  leave.timestamp_ms = sim.now() - 5;  // not the real leave's dedupe key
  leave.sender = sim.node(0).self();
  pair.inject(leave);  // unsigned: anyone could have sent it
  EXPECT_NE(sim.node(1).session(sim.identity(0).peer_id()), 0u);
  sim.apply(0, sim.node(0).stop(sim.now()));  // node 0's own, signed
  ASSERT_TRUE(sim.run_until([&] { return sim.node(1).session(sim.identity(0).peer_id()) == 0; }, 1000));
  bool left = false;
  for (const auto& e : sim.events(1))
    if (e.kind == MeshEvent::Kind::peer_down)
      left = e.reason == transport::CloseCode::remote && e.reason.detail == "left the mesh";
  EXPECT_TRUE(left);
}

TEST(BitchatMeshNodeSecurity, AnOldBroadcastReplayedAfterTheDedupeWindowIsNotDeliveredAgain) {
  Pair pair;
  auto& sim = pair.sim;
  auto out = sim.node(0).broadcast("", "only once", sim.now());
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->sends.empty());
  const Bytes frame = out->sends.front().frame;
  sim.apply(0, std::move(*out));
  sim.run_for(1000);
  ASSERT_EQ(count(sim, 1, MeshEvent::Kind::broadcast), 1u);
  sim.run_for(6 * 60 * 1000);  // past the relay dedupe's 5 minutes, within the sync history
  sim.apply(1, sim.node(1).on_frame(pair.link_at_1, frame, sim.now()));
  sim.run_for(40 * 60 * 1000);  // past history and clock skew
  sim.apply(1, sim.node(1).on_frame(pair.link_at_1, frame, sim.now()));
  sim.run_for(100);
  EXPECT_EQ(count(sim, 1, MeshEvent::Kind::broadcast), 1u);
}

TEST(BitchatMeshNodeSecurity, HandshakesFromStrangersGetNoReplyAndNoKeyWork) {
  MeshSim sim;
  sim.add_nodes(1, fast_options());
  sim.run_for(100);
  sim.apply(0, sim.node(0).link_up(77, std::nullopt, sim.now()));
  sim.run_for(100);
  for (int i = 0; i < 200; ++i) {
    Packet m1;
    m1.type = static_cast<std::uint8_t>(MessageType::noise_handshake);
    m1.timestamp_ms = sim.now() + static_cast<std::uint64_t>(i);
    randombytes_buf(m1.sender.data(), m1.sender.size());
    m1.recipient = sim.node(0).self();
    m1.payload.resize(NoiseSession::kMessage1Len, 7);
    auto frame = encode(m1);
    ASSERT_TRUE(frame.has_value());
    auto reply = sim.node(0).on_frame(77, *frame, sim.now());
    for (const auto& s : reply.sends)  // nothing directed back at the stranger
      EXPECT_NE(decode(s.frame)->type, static_cast<std::uint8_t>(MessageType::noise_handshake));
  }
  EXPECT_EQ(sim.node(0).counters().handshake_errors, 0u);
  EXPECT_EQ(sim.node(0).status_json(sim.now())["peers"].size(), 0u);  // no peer entries either
}

TEST(BitchatMeshNodeSecurity, AFloodOfFreshIdentitiesIsBounded) {
  MeshSim sim;
  sim.add_nodes(1, fast_options());
  sim.apply(0, sim.node(0).link_up(77, std::nullopt, sim.now()));
  for (int i = 0; i < 4200; ++i) {
    Identity id = Identity::generate();
    const auto noise = noise::KeyPair::from_private(id.x25519_private()).pub;
    auto a = make_announce(id, noise, {"sybil", {}, 0}, sim.now());
    ASSERT_TRUE(a.has_value());
    a->ttl = 3;  // relayed from afar
    auto frame = encode(*a);
    sim.node(0).on_frame(77, *frame, sim.now());  // sends are not needed here
  }
  EXPECT_LE(sim.node(0).status_json(sim.now())["peers"].size(), 4096u);
  sim.run_for(11 * 60 * 1000);  // unreachable and sessionless for 10 minutes: forgotten
  EXPECT_EQ(sim.node(0).status_json(sim.now())["peers"].size(), 0u);
}

TEST(BitchatMeshNodeSecurity, ASessionTheOwnerClosedIsNotReopenedEagerlyButConnectReopensIt) {
  Pair pair;
  auto& sim = pair.sim;
  const auto peer0 = sim.identity(0).peer_id();
  const auto peer1 = sim.identity(1).peer_id();
  // Both ends close (as a node's full connection pool would), then nothing comes back by itself.
  sim.apply(1, sim.node(1).close(peer0, transport::CloseCode::evicted, sim.now()));
  sim.apply(0, sim.node(0).close(peer1, transport::CloseCode::evicted, sim.now()));
  sim.run_for(20'000);
  EXPECT_EQ(sim.node(1).session(peer0), 0u);
  EXPECT_EQ(sim.node(0).session(peer1), 0u);
  // The owner has something to send: connect() handshakes at once.
  sim.apply(1, sim.node(1).connect(peer0, sim.now()));
  ASSERT_TRUE(sim.run_until([&] { return sim.node(1).session(peer0) != 0; }, 3000));
}
