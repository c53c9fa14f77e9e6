// MeshNode on the simulated mesh (MeshSim): announces map mesh IDs to PeerIds, Noise sessions come
// up across hops, records cross a 7-hop line and back, broadcasts reach everyone, a cut takes the
// far peer down and healing brings it back, gossip sync fills a late joiner's gap, fragments
// carry large records, and forged or replayed input changes nothing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bitchat/mesh_sim.hpp"
#include "bitchat/radio_sim.hpp"
#include "bitchat_mesh_test_support.hpp"
#include "core/error.hpp"

using namespace hyphae;
using namespace hyphae::bitchat;
using namespace hyphae::bitchat::testing;

namespace {

// A line 0 - 1 - ... - (n-1).
MeshSim line(std::size_t n, MeshNodeOptions o = fast_options()) {
  MeshSim sim;
  sim.add_nodes(n, o);
  for (std::size_t i = 0; i + 1 < n; ++i) sim.connect(i, i + 1);
  return sim;
}

std::vector<Bytes> records(MeshSim& sim, std::size_t i) {
  std::vector<Bytes> out;
  for (const auto& e : sim.events(i))
    if (e.kind == MeshEvent::Kind::record) out.push_back(e.body);
  return out;
}

bool up(MeshSim& sim, std::size_t a, std::size_t b) {
  return sim.node(a).session(sim.identity(b).peer_id()) != 0 &&
         sim.node(b).session(sim.identity(a).peer_id()) != 0;
}

}  // namespace

TEST(BitchatMeshNode, EndsOfASevenHopLineGetASessionAndExchangeRecords) {
  auto sim = line(8);
  ASSERT_TRUE(sim.run_until([&] { return up(sim, 0, 7); }, 20'000))
      << sim.node(0).status_json(sim.now()).dump(1);
  // The peer-up event names the Hyphae PeerId behind the mesh ID.
  bool named = false;
  for (const auto& e : sim.events(0))
    if (e.kind == MeshEvent::Kind::peer_up && e.mesh_id == sim.node(7).self())
      named = e.peer == sim.identity(7).peer_id();
  EXPECT_TRUE(named);

  auto out =
      sim.node(0).send_record(sim.identity(7).peer_id(), 1, as_bytes("hello over seven hops"), sim.now());
  ASSERT_TRUE(out.has_value());
  sim.apply(0, std::move(*out));
  ASSERT_TRUE(sim.run_until([&] { return !records(sim, 7).empty(); }, 5000));
  EXPECT_EQ(to_string(records(sim, 7).front()), "hello over seven hops");
  for (const auto& e : sim.events(7))
    if (e.kind == MeshEvent::Kind::record) {
      EXPECT_EQ(e.record_kind, 1);
      EXPECT_EQ(e.peer, sim.identity(0).peer_id());
    }
  auto back = sim.node(7).send_record(sim.identity(0).peer_id(), 2, as_bytes("ack"), sim.now());
  ASSERT_TRUE(back.has_value());
  sim.apply(7, std::move(*back));
  ASSERT_TRUE(sim.run_until([&] { return !records(sim, 0).empty(); }, 5000));
  EXPECT_EQ(to_string(records(sim, 0).front()), "ack");
  // Hops: from the far end's announce TTL.
  auto status = sim.node(0).status_json(sim.now());
  for (const auto& p : status["peers"])
    if (p["mesh_id"] == to_hex(sim.node(7).self())) EXPECT_EQ(p["hops"], 7);
}

TEST(BitchatMeshNode, BeyondSevenHopsThereIsNoSession) {
  auto sim = line(9);  // ends 8 hops apart: announces die before they arrive
  sim.run_for(8000);
  EXPECT_TRUE(up(sim, 0, 7));
  EXPECT_EQ(sim.node(0).session(sim.identity(8).peer_id()), 0u);
  auto out = sim.node(0).send_record(sim.identity(8).peer_id(), 1, as_bytes("x"), sim.now());
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error(), make_error_code(Errc::no_link));
}

TEST(BitchatMeshNode, ABroadcastAndAChannelMessageReachEveryNodeOnce) {
  auto sim = line(8);
  sim.run_for(3000);
  auto out = sim.node(3).broadcast("", "hello mesh", sim.now());
  ASSERT_TRUE(out.has_value());
  sim.apply(3, std::move(*out));
  auto ch = sim.node(0).broadcast("ops", "channel hello", sim.now());
  ASSERT_TRUE(ch.has_value());
  sim.apply(0, std::move(*ch));
  sim.run_for(3000);
  for (std::size_t i = 0; i < 8; ++i) {
    std::size_t publics = 0, channels = 0;
    for (const auto& e : sim.events(i)) {
      if (e.kind != MeshEvent::Kind::broadcast) continue;
      const auto& b = e.broadcast;
      EXPECT_TRUE(b.verified) << i;
      if (b.channel.empty()) {
        ++publics;
        EXPECT_EQ(b.text, "hello mesh");
        EXPECT_EQ(b.nickname, "n3");
        ASSERT_TRUE(b.peer.has_value());
        EXPECT_EQ(*b.peer, sim.identity(3).peer_id());
      } else {
        ++channels;
        EXPECT_EQ(b.channel, "ops");
        EXPECT_EQ(b.text, "channel hello");
      }
    }
    EXPECT_EQ(publics, i == 3 ? 0u : 1u) << "node " << i;
    EXPECT_EQ(channels, i == 0 ? 0u : 1u) << "node " << i;
  }
}

TEST(BitchatMeshNode, ACutTakesTheFarPeerDownAndHealingBringsItBack) {
  auto sim = line(8);
  ASSERT_TRUE(sim.run_until([&] { return up(sim, 0, 7); }, 20'000));
  sim.cut(3, 4);
  ASSERT_TRUE(sim.run_until([&] { return sim.node(0).session(sim.identity(7).peer_id()) == 0; }, 6000));
  bool reason = false;
  for (const auto& e : sim.events(0))
    if (e.kind == MeshEvent::Kind::peer_down && e.mesh_id == sim.node(7).self())
      reason = e.reason == transport::CloseCode::keepalive_timeout;
  EXPECT_TRUE(reason);
  EXPECT_FALSE(sim.node(0).send_record(sim.identity(7).peer_id(), 1, as_bytes("x"), sim.now()).has_value());
  sim.connect(3, 4);
  ASSERT_TRUE(sim.run_until([&] { return up(sim, 0, 7); }, 10'000));
  auto out = sim.node(0).send_record(sim.identity(7).peer_id(), 1, as_bytes("after the heal"), sim.now());
  ASSERT_TRUE(out.has_value());
  sim.apply(0, std::move(*out));
  ASSERT_TRUE(sim.run_until([&] { return !records(sim, 7).empty(); }, 5000));
  EXPECT_EQ(records(sim, 7).size(), 1u);
}

TEST(BitchatMeshNode, GossipSyncGivesALateJoinerTheBroadcastItMissed) {
  auto sim = line(3);
  sim.run_for(2000);
  auto out = sim.node(0).broadcast("", "before you came", sim.now());
  ASSERT_TRUE(out.has_value());
  sim.apply(0, std::move(*out));
  sim.run_for(2000);
  auto late = sim.add_node(fast_options());
  sim.connect(2, late);
  ASSERT_TRUE(sim.run_until([&] { return count(sim, late, MeshEvent::Kind::broadcast) > 0; }, 10'000));
  for (const auto& e : sim.events(late))
    if (e.kind == MeshEvent::Kind::broadcast) EXPECT_EQ(e.broadcast.text, "before you came");
  EXPECT_GT(sim.node(2).counters().sync_replies, 0u);
  sim.run_for(5000);  // later syncs do not deliver it again
  EXPECT_EQ(count(sim, late, MeshEvent::Kind::broadcast), 1u);
}

TEST(BitchatMeshNode, LargeRecordsAreFragmentedPacedAndReassembled) {
  auto sim = line(4);
  ASSERT_TRUE(sim.run_until([&] { return up(sim, 0, 3); }, 20'000));
  Bytes big(60'000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 31 + 7);
  auto out = sim.node(0).send_record(sim.identity(3).peer_id(), 1, big, sim.now());
  ASSERT_TRUE(out.has_value());
  EXPECT_GT(sim.node(0).counters().fragments_sent, 120u);
  EXPECT_GT(sim.node(0).backlog(), 0u);  // more than the pacer's burst waits its turn
  sim.apply(0, std::move(*out));
  ASSERT_TRUE(sim.run_until([&] { return !records(sim, 3).empty(); }, 20'000));
  EXPECT_EQ(records(sim, 3).front(), big);
  EXPECT_EQ(sim.node(3).counters().reassembled, 1u);
  EXPECT_EQ(sim.node(1).core().counters().dropped_rate, 0u);  // paced under the relays' limits
}

TEST(BitchatMeshNode, AReplayedRecordIsNotDeliveredTwice) {
  MeshSim sim;
  sim.add_nodes(2, fast_options());
  sim.connect(0, 1);
  ASSERT_TRUE(sim.run_until([&] { return up(sim, 0, 1); }, 10'000));
  auto out = sim.node(0).send_record(sim.identity(1).peer_id(), 1, as_bytes("once"), sim.now());
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->sends.empty());
  const Bytes frame = out->sends.front().frame;
  sim.apply(0, std::move(*out));
  ASSERT_TRUE(sim.run_until([&] { return records(sim, 1).size() == 1; }, 5000));
  // The same frame again after the dedupe window (as a replaying attacker could): Noise's replay
  // window refuses it.
  sim.run_for(301'000);
  auto again = sim.node(1).on_frame(1, frame, sim.now());
  sim.apply(1, std::move(again));
  sim.run_for(100);
  EXPECT_EQ(records(sim, 1).size(), 1u);
  EXPECT_GT(sim.node(1).counters().decrypt_errors, 0u);
}

TEST(BitchatMeshNode, AForgedBroadcastUnderAKnownSenderIsDropped) {
  MeshSim sim;
  sim.add_nodes(2, fast_options());
  sim.connect(0, 1);
  sim.run_for(3000);
  Packet forged;
  forged.type = static_cast<std::uint8_t>(MessageType::message);
  forged.timestamp_ms = sim.now();
  forged.sender = sim.node(0).self();  // claims to be node 0
  forged.payload = Bytes(as_bytes("forged").begin(), as_bytes("forged").end());
  Identity other = Identity::generate();
  ASSERT_FALSE(sign_with(forged, [&](ByteView m) { return other.sign(m); }));
  auto frame = encode(forged);
  ASSERT_TRUE(frame.has_value());
  const auto before = count(sim, 1, MeshEvent::Kind::broadcast);
  sim.apply(1, sim.node(1).on_frame(1, *frame, sim.now()));
  EXPECT_EQ(count(sim, 1, MeshEvent::Kind::broadcast), before);
  EXPECT_EQ(sim.node(1).counters().bad_signatures, 1u);
}

TEST(BitchatMeshNode, MalformedFramesAreReportedAndChangeNothing) {
  MeshSim sim;
  sim.add_nodes(2, fast_options());
  sim.connect(0, 1);
  sim.run_for(2000);
  bool malformed = false;
  const Bytes junk{0x07, 0x01, 0x02};
  auto out = sim.node(1).on_frame(1, junk, sim.now(), &malformed);
  EXPECT_TRUE(malformed);
  EXPECT_TRUE(out.sends.empty());
  EXPECT_TRUE(out.events.empty());
}

TEST(BitchatMeshNode, ARandomMeshDeliversPrivateRecordsAcrossHops) {
  // 300 whole nodes (announces, Noise, records) on a random geometric graph. (The 1000-node runs
  // are the relay core's, in bitchat_mesh_test and bitchat_sim_bench: here every node verifies
  // every announce's Ed25519 signature, as a phone does, and that is what the time goes on.)
  RadioOptions radio;
  radio.nodes = 300;
  radio.range = 0.13;
  RadioSim topology(radio);
  MeshSim sim;
  auto o = fast_options();
  o.announce_interval_ms = 5000;
  o.peer_timeout_ms = 20'000;
  o.sync_interval_ms = 0;
  o.eager_sessions = 0;  // sessions on demand only: a thousand nodes do not all handshake
  sim.add_nodes(300, o);
  for (std::size_t i = 0; i < 300; ++i)
    for (auto j : topology.neighbours(i))
      if (i < j) sim.connect(i, j);
  sim.run_for(6000);
  const auto hops = topology.hops_from(0);
  std::vector<std::size_t> targets;
  for (std::size_t i = 1; i < 300 && targets.size() < 10; ++i)
    if (hops[i] >= 3 && hops[i] <= 6) targets.push_back(i);
  ASSERT_EQ(targets.size(), 10u);
  for (auto t : targets) sim.apply(0, sim.node(0).connect(sim.identity(t).peer_id(), sim.now()));
  ASSERT_TRUE(sim.run_until(
      [&] {
        for (auto t : targets)
          if (sim.node(0).session(sim.identity(t).peer_id()) == 0) return false;
        return true;
      },
      30'000));
  for (auto t : targets) {
    auto out = sim.node(0).send_record(sim.identity(t).peer_id(), 1, as_bytes("far"), sim.now());
    ASSERT_TRUE(out.has_value());
    sim.apply(0, std::move(*out));
  }
  std::size_t delivered = 0;
  sim.run_until(
      [&] {
        delivered = 0;
        for (auto t : targets) delivered += records(sim, t).size();
        return delivered == targets.size();
      },
      10'000);
  EXPECT_EQ(delivered, targets.size());
  EXPECT_GT(sim.node(0).counters().records_sent, 0u);
}

TEST(BitchatMeshNode, InATriangleEveryPairGetsOneSessionAndRecordsFlowAtOnce) {
  // Everyone hears everyone at once, so every pair starts crossed handshakes.
  MeshSim sim;
  sim.add_nodes(3, fast_options());
  sim.connect(0, 1);
  sim.connect(1, 2);
  sim.connect(0, 2);
  ASSERT_TRUE(sim.run_until([&] { return up(sim, 0, 1) && up(sim, 1, 2) && up(sim, 0, 2); }, 10'000));
  std::size_t sent = 0;
  for (std::size_t a = 0; a < 3; ++a)
    for (std::size_t b = 0; b < 3; ++b) {
      if (a == b) continue;
      auto out = sim.node(a).send_record(sim.identity(b).peer_id(), 1, as_bytes("r"), sim.now());
      ASSERT_TRUE(out.has_value());
      sim.apply(a, std::move(*out));
      ++sent;
    }
  ASSERT_TRUE(sim.run_until(
      [&] { return records(sim, 0).size() + records(sim, 1).size() + records(sim, 2).size() == sent; },
      5000));
  sim.run_for(20'000);  // no session churn afterwards
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(count(sim, i, MeshEvent::Kind::peer_down), 0u) << i;
    EXPECT_EQ(count(sim, i, MeshEvent::Kind::peer_up), 2u) << i;
    EXPECT_EQ(sim.node(i).counters().decrypt_errors, 0u) << i;
  }
}

TEST(BitchatMeshNode, ARecordThatOvertakesTheSendersAnnounceIsHeldUntilTheAnnounceArrives) {
  // Node 1 hears node 0's announce and handshakes at once; node 0 learns who node 1 is only from
  // node 1's announce, which may come after the handshake and a first record.
  MeshSim sim;
  sim.add_nodes(2, fast_options());
  sim.connect(0, 1);
  ASSERT_TRUE(sim.run_until([&] { return sim.node(1).session(sim.identity(0).peer_id()) != 0; }, 5000));
  auto out = sim.node(1).send_record(sim.identity(0).peer_id(), 1, as_bytes("early"), sim.now());
  ASSERT_TRUE(out.has_value());
  sim.apply(1, std::move(*out));
  ASSERT_TRUE(sim.run_until([&] { return !records(sim, 0).empty(); }, 5000))
      << sim.node(0).status_json(sim.now()).dump() << "\n"
      << sim.node(1).status_json(sim.now()).dump();
  EXPECT_EQ(to_string(records(sim, 0).front()), "early");
  EXPECT_EQ(sim.node(0).counters().decrypt_errors, 0u);  // even when it also overtook message 3
  // The record event follows the peer-up event.
  bool seen_up = false;
  for (const auto& e : sim.events(0)) {
    if (e.kind == MeshEvent::Kind::peer_up) seen_up = true;
    if (e.kind == MeshEvent::Kind::record) EXPECT_TRUE(seen_up);
  }
}

TEST(BitchatMeshNode, ARelayHoldsADirectedPacketItCannotForwardUntilTheLinkReturns) {
  auto sim = line(3);
  ASSERT_TRUE(sim.run_until([&] { return up(sim, 0, 2); }, 10'000));
  sim.cut(1, 2);  // node 0 still has the session (node 2 is not timed out yet)
  auto out = sim.node(0).send_record(sim.identity(2).peer_id(), 1, as_bytes("held by the relay"), sim.now());
  ASSERT_TRUE(out.has_value());
  sim.apply(0, std::move(*out));
  sim.run_for(500);
  EXPECT_TRUE(records(sim, 2).empty());
  EXPECT_GT(sim.node(1).counters().spooled, 0u);
  sim.connect(1, 2);
  ASSERT_TRUE(sim.run_until([&] { return !records(sim, 2).empty(); }, 3000));
  EXPECT_EQ(to_string(records(sim, 2).front()), "held by the relay");
  sim.run_for(70'000);  // the spool's later retries and expiry deliver nothing twice
  EXPECT_EQ(records(sim, 2).size(), 1u);
}
