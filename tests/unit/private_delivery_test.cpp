// Reliable private delivery through an in-process mixnet of three real MixCores (the packets,
// unwraps and reply blocks are the real ones; only the links are function calls): every message
// arrives once and is acknowledged through its SURB; a mix that is down for a while costs
// retransmissions over fresh routes, not messages; retry delays are random within their window;
// the bounds hold.
#include "betanet/delivery/private_delivery.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <map>

#include "betanet/mix/mix_core.hpp"

namespace hyphae::betanet {
namespace {

using namespace hyphae::sphinx;

struct Net {
  std::vector<std::unique_ptr<mix::MixCore>> mixes;
  std::vector<Hop> mix_hops;
  std::set<std::size_t> down;
  std::map<NodeId, PublicKey> node_keys;
  std::map<NodeId, PrivateDelivery*> nodes;
  std::mt19937_64 rng{7};
  std::uint64_t now = 1'000;
  bool routes = true;
  std::vector<std::size_t> mixes_asked;  // the `mixes` of every route asked for

  Net() {
    for (int i = 0; i < 3; ++i) {
      SecretKey sk{};
      randombytes_buf(sk.data(), sk.size());
      NodeId id{};
      id.fill(static_cast<std::uint8_t>(0x10 + i));
      mix::MixOptions o;
      o.mean_delay_ms = 0;
      o.loop_cover_per_s = o.drop_cover_per_s = 0;
      mixes.push_back(std::make_unique<mix::MixCore>(id, o, 100 + static_cast<std::uint64_t>(i)));
      mixes.back()->add_key(1, sk);
      mixes.back()->set_epoch(1);
      mix_hops.push_back({id, routing_public_key(sk)});
    }
  }
  PrivateRouteFn route() {
    return [this](const NodeId& to, std::size_t mixes) -> std::optional<std::vector<Hop>> {
      mixes_asked.push_back(mixes);
      if (!routes) return std::nullopt;
      std::vector<Hop> hops = mix_hops;
      std::shuffle(hops.begin(), hops.end(), rng);
      hops.resize(2);
      hops.push_back({to, node_keys.at(to)});
      return hops;
    };
  }
  // Carries packets until none is left; what nodes report is added to `results`.
  void carry(std::vector<PrivateDelivery::Outgoing> packets,
             std::map<NodeId, PrivateDelivery::Result>& results) {
    while (!packets.empty()) {
      std::vector<PrivateDelivery::Outgoing> next;
      for (auto& p : packets) {
        if (auto n = nodes.find(p.first_hop); n != nodes.end()) {
          PrivateDelivery::Result r;
          n->second->on_packet(p.packet, now, r);
          auto& acc = results[p.first_hop];
          acc.delivered.insert(acc.delivered.end(), r.delivered.begin(), r.delivered.end());
          acc.acked.insert(acc.acked.end(), r.acked.begin(), r.acked.end());
          next.insert(next.end(), std::make_move_iterator(r.packets.begin()),
                      std::make_move_iterator(r.packets.end()));
          continue;
        }
        for (std::size_t i = 0; i < mixes.size(); ++i) {
          if (mix_hops[i].id != p.first_hop) continue;
          if (down.contains(i)) break;  // a dead mix: lost
          mixes[i]->on_packet(p.packet, now);
          for (auto& o : mixes[i]->poll(now, {})) next.push_back({o.next_hop, std::move(o.packet)});
        }
      }
      packets = std::move(next);
    }
  }
};

struct Peer {
  NodeId id{};
  std::unique_ptr<PrivateDelivery> core;
  Peer(Net& net, std::uint8_t tag, PrivateDeliveryOptions o = {}) {
    id.fill(tag);
    SecretKey sk{};
    randombytes_buf(sk.data(), sk.size());
    core = std::make_unique<PrivateDelivery>(id, 1, sk, net.route(), o, tag);
    net.node_keys[id] = core->routing_public_key();
    net.nodes[id] = core.get();
  }
};

MessageId message_id(int n) {
  MessageId id{};
  id[0] = static_cast<std::uint8_t>(n);
  id[1] = static_cast<std::uint8_t>(n >> 8);
  return id;
}

TEST(PrivateDelivery, EveryMessageArrivesOnceAndIsAcknowledgedThroughItsReplyBlock) {
  Net net;
  Peer alice(net, 0xa1), bob(net, 0xb0);
  std::map<NodeId, PrivateDelivery::Result> results;
  for (int i = 0; i < 20; ++i) {
    PrivateDelivery::Result r;
    ASSERT_TRUE(
        alice.core->send(message_id(i), bob.id, as_bytes("message " + std::to_string(i)), net.now, r));
    net.carry(std::move(r.packets), results);
  }
  ASSERT_EQ(results[bob.id].delivered.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(results[bob.id].delivered[static_cast<std::size_t>(i)].id, message_id(i));
    EXPECT_EQ(to_string(results[bob.id].delivered[static_cast<std::size_t>(i)].payload),
              "message " + std::to_string(i));
  }
  EXPECT_EQ(results[alice.id].acked.size(), 20u);
  EXPECT_EQ(alice.core->outstanding(), 0u);
  EXPECT_EQ(alice.core->surb_secrets(), 0u);
  net.now += 60'000;
  PrivateDelivery::Result later;
  alice.core->tick(net.now, later);
  EXPECT_TRUE(later.packets.empty());  // nothing to resend
  EXPECT_EQ(alice.core->counters().retransmitted, 0u);
  // The mixes saw only fixed-size packets and read none of them.
  for (auto& m : net.mixes) EXPECT_EQ(m->counters().malformed + m->counters().bad_mac, 0u);
}

TEST(PrivateDelivery, AMixDownForAWhileCostsRetransmissionsNotMessages) {
  Net net;
  Peer alice(net, 0xa1), bob(net, 0xb0);
  std::map<NodeId, PrivateDelivery::Result> results;
  net.down = {1};
  for (int i = 0; i < 30; ++i) {
    PrivateDelivery::Result r;
    ASSERT_TRUE(alice.core->send(message_id(i), bob.id, as_bytes("m"), net.now, r));
    net.carry(std::move(r.packets), results);
  }
  for (int step = 0; step < 400 && alice.core->outstanding() > 0; ++step) {
    net.now += 250;
    if (step == 40) net.down.clear();  // back after 10 s
    for (auto* peer : {alice.core.get(), bob.core.get()}) {
      PrivateDelivery::Result r;
      peer->tick(net.now, r);
      net.carry(std::move(r.packets), results);
    }
  }
  EXPECT_EQ(alice.core->outstanding(), 0u);
  std::set<MessageId> got;
  for (const auto& d : results[bob.id].delivered) EXPECT_TRUE(got.insert(d.id).second);  // never twice
  EXPECT_EQ(got.size(), 30u);
  EXPECT_EQ(results[alice.id].acked.size(), 30u);
  EXPECT_GT(alice.core->counters().retransmitted, 0u);
  EXPECT_EQ(alice.core->counters().given_up, 0u);
}

TEST(PrivateDelivery, RetriesComeAfterRandomDelaysAndEndAfterTheLastAttempt) {
  Net net;
  PrivateDeliveryOptions o;
  o.max_attempts = 6;
  Peer alice(net, 0xa1, o), bob(net, 0xb0);
  net.routes = false;  // no topology: every attempt fails
  PrivateDelivery::Result r;
  ASSERT_TRUE(alice.core->send(message_id(1), bob.id, as_bytes("x"), net.now, r));
  std::set<std::uint64_t> gaps;
  std::uint64_t last = net.now;
  std::vector<MessageId> given_up;
  while (auto at = alice.core->next_wakeup()) {
    gaps.insert(*at - last);
    EXPECT_GE(*at - last, o.retry_min_ms);
    EXPECT_LE(*at - last, o.retry_max_ms);
    last = net.now = *at;
    PrivateDelivery::Result t;
    alice.core->tick(net.now, t);
    given_up.insert(given_up.end(), t.given_up.begin(), t.given_up.end());
  }
  EXPECT_EQ(gaps.size(), 6u);  // six different waits: no fixed retry interval to recognise
  ASSERT_EQ(given_up.size(), 1u);
  EXPECT_EQ(alice.core->counters().given_up, 1u);
  EXPECT_EQ(alice.core->counters().no_route, 6u);
}

TEST(PrivateDelivery, KeysRotateByEpochAndARetiredKeyOpensNothing) {
  Net net;
  Peer alice(net, 0xa1), bob(net, 0xb0);
  std::map<NodeId, PrivateDelivery::Result> results;
  const auto old = *bob.core->public_key(1);
  // A packet made for bob's epoch-1 key, held back while bob moves to epoch 2.
  PrivateDelivery::Result first;
  ASSERT_TRUE(alice.core->send(message_id(1), bob.id, as_bytes("old key"), net.now, first));
  SecretKey next{};
  randombytes_buf(next.data(), next.size());
  bob.core->add_key(2, next);
  EXPECT_EQ(bob.core->routing_public_key(), routing_public_key(next));
  // Across the rollover both keys open: the held packet arrives.
  net.carry(first.packets, results);
  ASSERT_EQ(results[bob.id].delivered.size(), 1u);
  // Epoch 3: the epoch-1 key is wiped; a packet made for it no longer opens.
  bob.core->retire_keys_before(2);
  EXPECT_FALSE(bob.core->has_key(1));
  EXPECT_TRUE(bob.core->has_key(2));
  net.node_keys[bob.id] = old;  // a sender still routing with bob's epoch-1 key
  PrivateDelivery::Result late;
  ASSERT_TRUE(alice.core->send(message_id(2), bob.id, as_bytes("too late"), net.now, late));
  const auto unreadable = bob.core->counters().unreadable;
  net.carry(late.packets, results);
  EXPECT_EQ(results[bob.id].delivered.size(), 1u);
  EXPECT_EQ(bob.core->counters().unreadable, unreadable + 1);
}

TEST(PrivateDelivery, BoundsAndBadInput) {
  Net net;
  PrivateDeliveryOptions o;
  o.max_outstanding = 5;
  Peer alice(net, 0xa1, o), bob(net, 0xb0);
  net.down = {0, 1, 2};  // nothing gets through: everything stays outstanding
  std::map<NodeId, PrivateDelivery::Result> results;
  PrivateDelivery::Result r;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(alice.core->send(message_id(i), bob.id, as_bytes("x"), net.now, r));
  EXPECT_EQ(alice.core->send(message_id(9), bob.id, as_bytes("x"), net.now, r).error(),
            "too many private messages in flight");
  EXPECT_FALSE(alice.core->send(message_id(0), bob.id, as_bytes("x"), net.now, r));  // already in flight
  EXPECT_FALSE(alice.core->send(message_id(8), bob.id, Bytes(kMaxPrivatePayload + 1), net.now, r));
  EXPECT_EQ(alice.core->surb_secrets(), 5u);
  // SURB secrets expire with their lifetime.
  PrivateDelivery::Result t;
  alice.core->tick(net.now + o.surb_lifetime_ms + 1, t);
  EXPECT_EQ(alice.core->surb_secrets(), 5u);  // the retries made 5 fresh ones; the 5 old ones are gone
  // Junk addressed to a node: counted, nothing delivered.
  PrivateDelivery::Result junk;
  bob.core->on_packet(Bytes(kPacketBytes, 0x55), net.now, junk);
  bob.core->on_packet(as_bytes("short"), net.now, junk);
  EXPECT_TRUE(junk.delivered.empty());
  EXPECT_EQ(bob.core->counters().unreadable, 2u);
}

TEST(PrivateDelivery, WithoutAutoAcknowledgeTheAckWaitsForTheOwnerAndRetriesAreOfferedAgain) {
  Net net;
  PrivateDeliveryOptions deferred;
  deferred.auto_acknowledge = false;
  Peer alice(net, 0xa1), bob(net, 0xb0, deferred);
  std::map<NodeId, PrivateDelivery::Result> results;
  PrivateDelivery::Result r;
  ASSERT_TRUE(alice.core->send(message_id(1), bob.id, as_bytes("commit me"), net.now, r, 2));
  EXPECT_EQ(net.mixes_asked, (std::vector<std::size_t>{2, 2}));  // forward route and reply block
  net.carry(std::move(r.packets), results);
  ASSERT_EQ(results[bob.id].delivered.size(), 1u);
  EXPECT_TRUE(results[alice.id].acked.empty());  // bob has not taken it yet
  EXPECT_EQ(bob.core->held_acks(), 1u);
  // Alice's retry comes before bob's owner took the first copy: offered again, not suppressed.
  net.now += deferred.retry_max_ms + 1;
  PrivateDelivery::Result retry;
  alice.core->tick(net.now, retry);
  ASSERT_EQ(retry.packets.size(), 1u);
  net.carry(std::move(retry.packets), results);
  ASSERT_EQ(results[bob.id].delivered.size(), 2u);
  EXPECT_EQ(bob.core->counters().redelivered, 1u);
  EXPECT_EQ(bob.core->held_acks(), 1u);  // the fresh reply block replaced the old one
  // The owner takes it: the ack goes back through the held reply block.
  PrivateDelivery::Result ack;
  EXPECT_TRUE(bob.core->acknowledge(message_id(1), ack));
  EXPECT_FALSE(bob.core->acknowledge(message_id(1), ack));  // nothing held any more
  net.carry(std::move(ack.packets), results);
  ASSERT_EQ(results[alice.id].acked.size(), 1u);
  EXPECT_EQ(alice.core->outstanding(), 0u);
  // A late copy of an acknowledged message is answered at once and never offered again.
  PrivateDelivery::Result again;
  ASSERT_TRUE(alice.core->send(message_id(1), bob.id, as_bytes("commit me"), net.now, again, 2));
  net.carry(std::move(again.packets), results);
  EXPECT_EQ(results[bob.id].delivered.size(), 2u);
  EXPECT_EQ(results[alice.id].acked.size(), 2u);
}

TEST(PrivateDelivery, LoopCoverComesHomeAndIsDroppedThere) {
  Net net;
  Peer alice(net, 0xa1);
  std::map<NodeId, PrivateDelivery::Result> results;
  for (int i = 0; i < 5; ++i) {
    PrivateDelivery::Result r;
    ASSERT_TRUE(alice.core->send_loop(2, r));
    ASSERT_EQ(r.packets.size(), 1u);
    EXPECT_EQ(r.packets[0].packet.size(), kPacketBytes);  // the size of every other packet
    net.carry(std::move(r.packets), results);
  }
  EXPECT_EQ(alice.core->counters().loops_sent, 5u);
  EXPECT_EQ(alice.core->counters().loops_returned, 5u);
  EXPECT_TRUE(results[alice.id].delivered.empty());
  EXPECT_EQ(alice.core->counters().unreadable, 0u);
  net.routes = false;
  PrivateDelivery::Result none;
  EXPECT_FALSE(alice.core->send_loop(2, none));
}

TEST(PrivateDelivery, HeldReplyBlocksAreBoundedAndExpire) {
  Net net;
  PrivateDeliveryOptions deferred;
  deferred.auto_acknowledge = false;
  deferred.max_held_acks = 10;
  Peer alice(net, 0xa1), bob(net, 0xb0, deferred);
  std::map<NodeId, PrivateDelivery::Result> results;
  for (int i = 0; i < 50; ++i) {  // a sender flooding a recipient that never acknowledges
    PrivateDelivery::Result r;
    ASSERT_TRUE(alice.core->send(message_id(i), bob.id, as_bytes("x"), net.now, r));
    net.carry(std::move(r.packets), results);
  }
  EXPECT_EQ(results[bob.id].delivered.size(), 50u);
  EXPECT_EQ(bob.core->held_acks(), 10u);
  EXPECT_EQ(bob.core->counters().held_acks_dropped, 40u);
  PrivateDelivery::Result none;
  EXPECT_FALSE(bob.core->acknowledge(message_id(0), none));  // the oldest went first
  EXPECT_TRUE(bob.core->acknowledge(message_id(49), none));
  PrivateDelivery::Result t;
  bob.core->tick(net.now + deferred.surb_lifetime_ms + 1, t);
  EXPECT_EQ(bob.core->held_acks(), 0u);
}

}  // namespace
}  // namespace hyphae::betanet
