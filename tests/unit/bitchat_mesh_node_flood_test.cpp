// MeshNode under floods (review findings): spoofed handshake message 1s, REQUEST_SYNC used as a
// reflector, and self-signed announces from fresh identities. Each test floods one resource,
// checks that its bound holds, and that a legitimate peer still gets through.
#include <gtest/gtest.h>
#include <sodium.h>

#include <nlohmann/json.hpp>

#include "bitchat/mesh_sim.hpp"
#include "bitchat_mesh_test_support.hpp"

using namespace hyphae;
using namespace hyphae::bitchat;
using namespace hyphae::bitchat::testing;

namespace {

// Limits the size of a LAN (a flood must not be cut short by the relay's own rate limits).
MeshNodeOptions roomy_options() {
  MeshNodeOptions o = fast_options();
  o.mesh.per_sender_rate = o.mesh.per_sender_burst = 1e6;
  o.mesh.total_rate = o.mesh.total_burst = 1e6;
  return o;
}

bool both_up(MeshSim& sim, std::size_t a, std::size_t b) {
  return sim.node(a).session(sim.identity(b).peer_id()) && sim.node(b).session(sim.identity(a).peer_id());
}

Packet spoofed_message1(const ShortId& as, const ShortId& to, std::uint64_t ts) {
  Packet m1;
  m1.type = static_cast<std::uint8_t>(MessageType::noise_handshake);
  m1.timestamp_ms = ts;
  m1.sender = as;
  m1.recipient = to;
  m1.payload.resize(NoiseSession::kMessage1Len);
  randombytes_buf(m1.payload.data(), m1.payload.size());
  return m1;
}

}  // namespace

TEST(BitchatMeshNodeFlood, SpoofedHandshakeMessage1sStayWithinTheOwnQueueCap) {
  MeshNodeOptions o = roomy_options();
  o.own_queue_bytes = 16 * 1024;
  MeshSim sim;
  sim.add_nodes(2, o);
  sim.connect(0, 1);
  ASSERT_TRUE(sim.run_until([&] { return both_up(sim, 0, 1); }, 10'000));
  const auto session = sim.node(1).session(sim.identity(0).peer_id());
  const LinkId link_at_1 = 2;  // connect(0, 1) made link 1 at node 0 and link 2 at node 1
  // 3000 message 1s under node 0's mesh ID, far faster than node 1's pacer sends its replies.
  std::size_t most = 0;
  for (std::uint64_t i = 0; i < 3000; ++i) {
    auto frame = encode(spoofed_message1(sim.node(0).self(), sim.node(1).self(), sim.now() + i));
    ASSERT_TRUE(frame);
    sim.apply(1, sim.node(1).on_frame(link_at_1, *frame, sim.now()));
    most = std::max(most, sim.node(1).backlog());
    if (i % 10 == 0) sim.run_for(1);
  }
  EXPECT_LE(most, o.own_queue_bytes);
  // Key work stays within the node's budget for answering message 1s (3000 in about 0.3 s).
  const auto& c = sim.node(1).counters();
  EXPECT_LE(static_cast<double>(c.handshakes_answered),
            2 * o.handshake_reply_rate + o.handshake_reply_rate * 1.0);
  EXPECT_GE(c.handshakes_refused, 2500u);
  // The session is untouched and records still go both ways.
  EXPECT_EQ(sim.node(1).session(sim.identity(0).peer_id()), session);
  auto sent = sim.node(1).send_record(sim.identity(0).peer_id(), 1, Bytes{1, 2, 3}, sim.now());
  ASSERT_TRUE(sent) << sent.error().message();
  sim.apply(1, std::move(*sent));
  auto got = [&] {
    for (const auto& e : sim.events(0))
      if (e.kind == MeshEvent::Kind::record && e.body == Bytes{1, 2, 3}) return true;
    return false;
  };
  ASSERT_TRUE(sim.run_until(got, 5000));
  // The real peer can still re-key: it closes and handshakes again.
  sim.apply(0, sim.node(0).close(sim.identity(1).peer_id(), transport::CloseCode::other, sim.now()));
  sim.apply(0, sim.node(0).connect(sim.identity(1).peer_id(), sim.now()));
  ASSERT_TRUE(sim.run_until(
      [&] { return both_up(sim, 0, 1) && sim.node(1).session(sim.identity(0).peer_id()) != session; },
      10'000));
}

TEST(BitchatMeshNodeFlood, ASyncRequestFloodYieldsBoundedBytesAndALateJoinerStillSyncs) {
  MeshNodeOptions o = roomy_options();
  MeshSim sim;
  sim.add_nodes(1, o);
  constexpr int kBroadcasts = 60;
  for (int i = 0; i < kBroadcasts; ++i) {
    // Random letters and digits: compressed, a little over one MTU.
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string text(900, ' ');
    for (auto& c : text) c = kAlphabet[randombytes_uniform(sizeof kAlphabet - 1)];
    auto out = sim.node(0).broadcast("", text, sim.now());
    ASSERT_TRUE(out) << out.error().message();
    sim.apply(0, std::move(*out));
    sim.run_for(30);
  }
  sim.run_for(5000);  // the pacer has sent them all (nowhere: no links yet)
  // A spoofed neighbour asks for everything (an empty filter) 100 times a second for 20 s.
  const LinkId attacker = 77;
  sim.apply(0, sim.node(0).link_up(attacker, std::nullopt, sim.now()));
  std::size_t reflected = 0, requests = 0;
  auto flood = [&](std::uint64_t ms) {
    const auto until = sim.now() + ms;
    while (sim.now() < until) {
      Packet req;
      req.type = static_cast<std::uint8_t>(MessageType::request_sync);
      req.ttl = 0;
      req.timestamp_ms = sim.now() + requests;
      randombytes_buf(req.sender.data(), req.sender.size());
      req.payload = encode_request_sync(RequestSync{7, 1, {}, {}});
      auto out = sim.node(0).on_frame(attacker, *encode(req, {.pad = false}), sim.now());
      ++requests;
      for (const auto& s : out.sends) {
        if (s.link != attacker) continue;
        auto p = decode(s.frame);
        if (p && (p->rsr || p->type == static_cast<std::uint8_t>(MessageType::fragment)))
          reflected += s.frame.size();
      }
      sim.apply(0, std::move(out));
      sim.run_for(10);
    }
  };
  flood(20'000);
  EXPECT_EQ(requests, 2000u);
  // One answer's worth at once, then the per-requester rate.
  const double budget = static_cast<double>(o.max_sync_reply_bytes) + o.sync_reply_rate * 20.0;
  EXPECT_LE(static_cast<double>(reflected), budget);
  EXPECT_GT(reflected, 0u);
  // A late joiner arrives while the flood goes on, and still gets every broadcast it missed.
  const auto late = sim.add_node(o);
  sim.connect(0, late);
  flood(15'000);
  EXPECT_EQ(count(sim, late, MeshEvent::Kind::broadcast), static_cast<std::size_t>(kBroadcasts));
}

TEST(BitchatMeshNodeFlood, AFloodOfFreshIdentitiesDoesNotLockANewPeerOut) {
  MeshNodeOptions o = roomy_options();
  MeshSim sim;
  sim.add_nodes(1, o);
  sim.apply(0, sim.node(0).link_up(77, std::nullopt, sim.now()));
  for (int i = 0; i < 4200; ++i) {
    Identity id = Identity::generate();
    const auto noise = noise::KeyPair::from_private(id.x25519_private()).pub;
    auto a = make_announce(id, noise, {"sybil", {}, 0}, sim.now());
    ASSERT_TRUE(a.has_value());
    a->ttl = 3;                                        // relayed from afar
    sim.node(0).on_frame(77, *encode(*a), sim.now());  // the eager handshakes go nowhere
  }
  const auto peers = [&] { return sim.node(0).status_json(sim.now())["peers"].size(); };
  EXPECT_EQ(peers(), 4096u);
  // A real node joins: its announce gets a place in the table and the two get a session.
  const auto fresh = sim.add_node(o);
  sim.connect(0, fresh);
  ASSERT_TRUE(sim.run_until([&] { return both_up(sim, 0, fresh); }, 20'000));
  EXPECT_LE(peers(), 4096u);
  // The flood goes on: a peer with a session is never the one evicted.
  for (int i = 0; i < 200; ++i) {
    Identity id = Identity::generate();
    const auto noise = noise::KeyPair::from_private(id.x25519_private()).pub;
    auto a = make_announce(id, noise, {"sybil", {}, 0}, sim.now());
    a->ttl = 3;
    sim.apply(0, sim.node(0).on_frame(77, *encode(*a), sim.now()));
  }
  EXPECT_LE(peers(), 4096u);
  EXPECT_TRUE(both_up(sim, 0, fresh));
}
