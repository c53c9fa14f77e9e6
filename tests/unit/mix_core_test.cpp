// MixCore on a simulated clock: Poisson delays (held until due, mean as configured, order
// scrambled), replays and changed packets dropped, the previous epoch's key usable across the
// rollover and wiped one epoch later with its replay cache, floods of held packets and of replay
// tags stopped at their bounds, and loop and drop cover at their configured rates, coming home.
#include "betanet/mix/mix_core.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <map>
#include <set>

namespace hyphae::mix {
namespace {

using namespace hyphae::sphinx;

struct Mix {
  NodeId id{};
  SecretKey secret{};
  PublicKey key{};
  std::unique_ptr<MixCore> core;
  Mix(int n, MixOptions options, std::uint64_t epoch = 1) {
    id.fill(static_cast<std::uint8_t>(0x40 + n));
    randombytes_buf(secret.data(), secret.size());
    key = routing_public_key(secret);
    core = std::make_unique<MixCore>(id, options, 1000 + n);
    core->add_key(epoch, secret);
    core->set_epoch(epoch);
  }
  Hop hop() const { return {id, key}; }
};

MixOptions quiet(double mean_delay_ms = 50) {
  MixOptions o;
  o.mean_delay_ms = mean_delay_ms;
  o.loop_cover_per_s = 0;
  o.drop_cover_per_s = 0;
  return o;
}

Bytes packet_through(const std::vector<Hop>& hops, const std::string& text = "hi") {
  NodeId recipient{};
  recipient.fill(0xee);
  return *create_packet(hops, Destination{recipient, std::nullopt}, as_bytes(text));
}

TEST(MixCore, HoldsEachPacketForAnExponentialDelayAndScramblesTheOrder) {
  Mix a(1, quiet(50)), b(2, quiet(50));
  const std::size_t n = 2000;
  std::vector<Bytes> packets;
  for (std::size_t i = 0; i < n; ++i)
    packets.push_back(packet_through({a.hop(), b.hop()}, std::to_string(i)));
  for (const auto& p : packets) a.core->on_packet(p, 1000);
  EXPECT_EQ(a.core->held(), n);
  // Nothing leaves before its time; everything has left well after.
  std::vector<std::uint64_t> left_at;
  std::vector<Outgoing> order;
  for (std::uint64_t t = 1000; t <= 3000; ++t) {
    for (auto& o : a.core->poll(t, {})) {
      left_at.push_back(t - 1000);
      order.push_back(std::move(o));
    }
  }
  ASSERT_EQ(order.size(), n);
  double sum = 0;
  for (auto d : left_at) sum += static_cast<double>(d);
  const double mean = sum / static_cast<double>(n);
  EXPECT_GT(mean, 45);
  EXPECT_LT(mean, 55);
  const auto zero = std::count(left_at.begin(), left_at.end(), 0);
  EXPECT_LT(zero, static_cast<long>(n / 10));  // P(delay < 0.5 ms) is about 1 %
  // They leave in another order than they came in: with a 50 ms mean, hardly any keeps its place.
  std::vector<Bytes> expected;
  for (const auto& p : packets) expected.push_back(unwrap(a.secret, p)->packet);
  std::size_t same_position = 0;
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(order[i].next_hop, b.id);
    if (order[i].packet == expected[i]) ++same_position;
  }
  EXPECT_LT(same_position, n / 20);
  std::multiset<std::string> want, got;
  for (const auto& e : expected) want.insert(to_hex(e));
  for (const auto& o : order) got.insert(to_hex(o.packet));
  EXPECT_TRUE(got == want);  // every packet left once, unchanged by the wait
  EXPECT_EQ(a.core->counters().forwarded, n);
}

TEST(MixCore, ReplaysAndChangedPacketsAreDropped) {
  Mix a(1, quiet(0)), b(2, quiet(0));
  const auto p = packet_through({a.hop(), b.hop()});
  a.core->on_packet(p, 0);
  a.core->on_packet(p, 1);  // the same packet again: a replay
  EXPECT_EQ(a.core->counters().replays, 1u);
  EXPECT_EQ(a.core->poll(1, {}).size(), 1u);
  Bytes flipped = packet_through({a.hop(), b.hop()});
  flipped[100] ^= 4;
  a.core->on_packet(flipped, 2);
  EXPECT_EQ(a.core->counters().bad_mac, 1u);
  a.core->on_packet(ByteView(p).first(100), 3);
  EXPECT_EQ(a.core->counters().malformed, 1u);
  // A packet for another mix's key is not this one's.
  a.core->on_packet(packet_through({b.hop()}), 4);
  EXPECT_EQ(a.core->counters().bad_mac, 2u);
  EXPECT_EQ(a.core->poll(100, {}).size(), 0u);
}

TEST(MixCore, ThePreviousEpochsKeyWorksAcrossTheRolloverAndIsWipedOneEpochLater) {
  Mix a(1, quiet(0), 7), b(2, quiet(0), 7);
  const auto old_packet = packet_through({a.hop(), b.hop()}, "made in epoch 7");
  a.core->on_packet(old_packet, 0);
  EXPECT_EQ(a.core->replay_tags(7), 1u);
  // Epoch 8 begins: a new key; packets made under epoch 7's key still pass.
  SecretKey next{};
  randombytes_buf(next.data(), next.size());
  a.core->add_key(8, next);
  a.core->set_epoch(8);
  const auto in_flight = packet_through({a.hop(), b.hop()}, "in flight at the rollover");
  a.core->on_packet(in_flight, 1);
  a.core->on_packet(old_packet, 2);  // still a replay: the cache lives as long as its key
  EXPECT_EQ(a.core->counters().previous_key_used, 1u);
  EXPECT_EQ(a.core->counters().replays, 1u);
  const auto fresh = packet_through({Hop{a.id, routing_public_key(next)}, b.hop()}, "epoch 8");
  a.core->on_packet(fresh, 3);
  EXPECT_EQ(a.core->poll(10, {}).size(), 3u);
  // Epoch 9: epoch 7's key and its replay cache are gone; its packets no longer open.
  a.core->set_epoch(9);
  EXPECT_FALSE(a.core->has_key(7));
  EXPECT_TRUE(a.core->has_key(8));
  EXPECT_EQ(a.core->replay_tags(7), 0u);
  EXPECT_EQ(a.core->counters().keys_retired, 1u);
  const auto late = packet_through({a.hop(), b.hop()}, "too late");
  a.core->on_packet(late, 20);
  EXPECT_EQ(a.core->counters().bad_mac, 1u);
}

TEST(MixCore, AFloodOfPacketsStopsAtTheHeldBoundAndAFullReplayCacheRefusesRatherThanForgets) {
  MixOptions o = quiet(1000);
  o.max_held = 100;
  o.max_replay_tags = 150;
  Mix a(1, o), b(2, o);
  std::vector<Bytes> packets;
  for (int i = 0; i < 200; ++i) packets.push_back(packet_through({a.hop(), b.hop()}, std::to_string(i)));
  for (int i = 0; i < 150; ++i) a.core->on_packet(packets[static_cast<std::size_t>(i)], 0);
  EXPECT_EQ(a.core->held(), 100u);
  EXPECT_EQ(a.core->counters().held_full, 50u);
  a.core->poll(1'000'000, {});  // the held ones leave
  for (int i = 150; i < 200; ++i) a.core->on_packet(packets[static_cast<std::size_t>(i)], 2'000'000);
  EXPECT_EQ(a.core->counters().replay_cache_full, 50u);
  EXPECT_EQ(a.core->held(), 0u);
  a.core->on_packet(packets[0], 2'000'001);  // a replay stays a replay
  EXPECT_EQ(a.core->counters().replays, 1u);
  EXPECT_EQ(a.core->replay_tags(1), 150u);
}

TEST(MixCore, LoopAndDropCoverLeaveAtTheirRatesAndEndWhereTheyShould) {
  MixOptions o = quiet(0);
  o.loop_cover_per_s = 10;
  o.drop_cover_per_s = 5;
  Mix a(1, o), b(2, quiet(0)), c(3, quiet(0));
  std::map<NodeId, MixCore*> by_id{{a.id, a.core.get()}, {b.id, b.core.get()}, {c.id, c.core.get()}};
  const CoverRoute route = [&](CoverKind kind) -> std::optional<std::vector<Hop>> {
    if (kind == CoverKind::loop) return std::vector<Hop>{b.hop(), c.hop(), a.hop()};
    return std::vector<Hop>{b.hop(), c.hop()};
  };
  EXPECT_FALSE(a.core->next_wakeup());
  std::size_t sent = 0;
  // 60 simulated seconds; every packet is carried to its next mix at once.
  for (std::uint64_t t = 0; t <= 60'000; t += 10) {
    std::vector<Outgoing> wave = a.core->poll(t, route);
    sent += wave.size();
    while (!wave.empty()) {
      std::vector<Outgoing> next;
      for (auto& o : wave) {
        by_id.at(o.next_hop)->on_packet(o.packet, t);
        for (auto* m : {b.core.get(), c.core.get()})
          for (auto& f : m->poll(t, {})) next.push_back(std::move(f));
      }
      wave = std::move(next);
    }
    ASSERT_TRUE(a.core->next_wakeup());
  }
  const auto& k = a.core->counters();
  EXPECT_GT(k.loops_sent, 450u);  // 600 expected
  EXPECT_LT(k.loops_sent, 750u);
  EXPECT_GT(k.drops_sent, 200u);  // 300 expected
  EXPECT_LT(k.drops_sent, 400u);
  EXPECT_EQ(sent, k.loops_sent + k.drops_sent);
  EXPECT_EQ(k.loops_returned, k.loops_sent);                   // every loop came home
  EXPECT_EQ(c.core->counters().drops_received, k.drops_sent);  // drop cover ends at c, as cover
  EXPECT_EQ(c.core->counters().not_for_a_mix, 0u);
  EXPECT_EQ(b.core->counters().forwarded, k.loops_sent + k.drops_sent);
}

}  // namespace
}  // namespace hyphae::mix
