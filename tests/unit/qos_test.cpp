#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <stdexcept>
#include <vector>

#include "core/error.hpp"
#include "qos/scheduler.hpp"

using namespace hyphae;
using hyphae::qos::Item;
using hyphae::qos::Priority;
using hyphae::qos::Scheduler;

namespace {

Item item(std::uint64_t id, std::uint64_t peer = 1, std::size_t bytes = 100) {
  return {id, peer, bytes};
}

std::vector<Item> drain(Scheduler& s) {
  std::vector<Item> out;
  while (auto it = s.pop()) out.push_back(*it);
  return out;
}

}  // namespace

TEST(QosScheduler, DefaultCapacitiesAreSeedValues) {
  Scheduler s;
  EXPECT_EQ(s.config().capacity, (std::array<std::size_t, 4>{10, 50, 200, 500}));
  for (Priority p : qos::kAllPriorities) EXPECT_EQ(s.free_slots(p), s.config().capacity[static_cast<int>(p)]);
}

TEST(QosScheduler, CapacitiesEnforcedPerClass) {
  for (Priority p : {Priority::high, Priority::normal, Priority::low}) {
    Scheduler s;
    const std::size_t cap = s.config().capacity[static_cast<int>(p)];
    for (std::size_t i = 0; i < cap; ++i) ASSERT_TRUE(s.push(item(i, i % 7), p).accepted()) << i;
    EXPECT_EQ(s.depth(p), cap);
    EXPECT_EQ(s.free_slots(p), 0u);
    const qos::PushResult r = s.push(item(9999), p);
    EXPECT_FALSE(r.accepted());
    EXPECT_EQ(r.error, make_error_code(Errc::backpressure));
    EXPECT_FALSE(r.evicted);
    EXPECT_EQ(s.depth(p), cap);
    EXPECT_EQ(s.stats().of(p).rejected, 1u);
    // Popping one frees exactly one slot.
    ASSERT_TRUE(s.pop());
    EXPECT_TRUE(s.push(item(10000), p).accepted());
    EXPECT_FALSE(s.push(item(10001), p).accepted());
  }
}

TEST(QosScheduler, ConfigurableCapacities) {
  Scheduler s(qos::Config{{1, 2, 3, 4}});
  EXPECT_TRUE(s.push(item(1), Priority::emergency).accepted());
  EXPECT_FALSE(s.push(item(2), Priority::emergency).accepted());  // LOW empty: nothing to evict
  EXPECT_TRUE(s.push(item(3), Priority::high).accepted());
  EXPECT_TRUE(s.push(item(4), Priority::high).accepted());
  EXPECT_FALSE(s.push(item(5), Priority::high).accepted());
  EXPECT_EQ(s.size(), 3u);
}

TEST(QosScheduler, ZeroCapacityClassRejectsEverything) {
  Scheduler s(qos::Config{{10, 0, 200, 500}});
  EXPECT_EQ(s.push(item(1), Priority::high).error, make_error_code(Errc::backpressure));
  EXPECT_TRUE(s.empty());
}

TEST(QosScheduler, InvalidConfigThrowsWithKeyName) {
  qos::Config c;
  c.capacity[3] = qos::kMaxCapacity + 1;
  EXPECT_NE(qos::validate(c).find("qos.capacity.low"), std::string::npos);
  EXPECT_THROW(Scheduler{c}, std::invalid_argument);
  EXPECT_TRUE(qos::validate(qos::Config{}).empty());
}

TEST(QosScheduler, EmergencyEvictsOldestLowExactly) {
  Scheduler s;
  // LOW: ids 100.. from three peers, interleaved, so the oldest is not simply one peer's head.
  for (std::uint64_t i = 0; i < 20; ++i) ASSERT_TRUE(s.push(item(100 + i, i % 3), Priority::low).accepted());
  for (std::uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(s.push(item(i, 50), Priority::emergency).accepted());
  EXPECT_EQ(s.free_slots(Priority::emergency), 0u);

  for (std::uint64_t k = 0; k < 5; ++k) {
    const qos::PushResult r = s.push(item(10 + k, 50), Priority::emergency);
    ASSERT_TRUE(r.accepted());
    ASSERT_TRUE(r.evicted);
    EXPECT_EQ(*r.evicted, item(100 + k, k % 3));  // oldest LOW, in arrival order
  }
  const qos::Stats st = s.stats();
  EXPECT_EQ(st.of(Priority::low).evicted, 5u);
  EXPECT_EQ(st.of(Priority::low).depth, 15u);
  EXPECT_EQ(st.of(Priority::emergency).depth, 15u);
  EXPECT_EQ(st.of(Priority::emergency).evicted, 0u);
  EXPECT_EQ(st.of(Priority::emergency).rejected, 0u);

  // The evicted items are gone: draining LOW yields exactly the 15 survivors.
  std::vector<Item> out = drain(s);
  ASSERT_EQ(out.size(), 30u);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(out[i].id, static_cast<std::uint64_t>(i));  // EMERGENCY first
  std::vector<std::uint64_t> low;
  for (int i = 15; i < 30; ++i) low.push_back(out[i].id);
  std::sort(low.begin(), low.end());
  for (std::uint64_t i = 0; i < 15; ++i) EXPECT_EQ(low[i], 105 + i);
}

TEST(QosScheduler, EmergencyFullAndLowEmptyRejects) {
  Scheduler s;
  for (std::uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(s.push(item(i), Priority::emergency).accepted());
  for (std::uint64_t i = 0; i < 50; ++i) ASSERT_TRUE(s.push(item(100 + i), Priority::high).accepted());
  const qos::PushResult r = s.push(item(99), Priority::emergency);
  EXPECT_EQ(r.error, make_error_code(Errc::backpressure));
  EXPECT_FALSE(r.evicted);
  EXPECT_EQ(s.depth(Priority::high), 50u);  // HIGH and NORMAL are never evicted
  EXPECT_EQ(s.stats().of(Priority::emergency).rejected, 1u);
}

TEST(QosScheduler, BorrowedSlotsKeepTotalBounded) {
  Scheduler s;  // EMERGENCY 10, LOW 500
  for (std::uint64_t i = 0; i < 500; ++i) ASSERT_TRUE(s.push(item(1000 + i, i), Priority::low).accepted());
  for (std::uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(s.push(item(i), Priority::emergency).accepted());
  // 3 more EMERGENCY items take 3 LOW slots.
  for (std::uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(s.push(item(10 + i), Priority::emergency).evicted);
  EXPECT_EQ(s.depth(Priority::low), 497u);
  // LOW cannot refill those slots while EMERGENCY holds them.
  EXPECT_EQ(s.free_slots(Priority::low), 0u);
  EXPECT_FALSE(s.push(item(5000), Priority::low).accepted());
  EXPECT_EQ(s.size(), 510u);
  // Once EMERGENCY drains below its capacity, LOW gets its slots back.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.pop());
  EXPECT_EQ(s.free_slots(Priority::low), 3u);
  EXPECT_TRUE(s.push(item(5001), Priority::low).accepted());
}

TEST(QosScheduler, EmergencyCanDisplaceAllOfLowThenRejects) {
  Scheduler s(qos::Config{{2, 1, 1, 3}});
  for (std::uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(s.push(item(100 + i), Priority::low).accepted());
  for (std::uint64_t i = 0; i < 2; ++i) ASSERT_TRUE(s.push(item(i), Priority::emergency).accepted());
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto r = s.push(item(2 + i), Priority::emergency);
    ASSERT_TRUE(r.evicted);
    EXPECT_EQ(r.evicted->id, 100 + i);
  }
  EXPECT_EQ(s.push(item(9), Priority::emergency).error, make_error_code(Errc::backpressure));
  EXPECT_EQ(s.size(), 5u);  // never more than 2 + 1 + 1 + 3 - (HIGH, NORMAL unused)
}

TEST(QosScheduler, StrictPriorityOrder) {
  Scheduler s;
  // Pushed lowest class first so arrival order would be wrong.
  for (Priority p : {Priority::low, Priority::normal, Priority::high, Priority::emergency})
    for (std::uint64_t i = 0; i < 3; ++i)
      ASSERT_TRUE(s.push(item(static_cast<std::uint64_t>(p) * 10 + i, i), p).accepted());
  std::vector<Item> out = drain(s);
  ASSERT_EQ(out.size(), 12u);
  for (std::size_t k = 0; k < out.size(); ++k) EXPECT_EQ(out[k].id / 10, k / 3) << k;
  EXPECT_FALSE(s.pop());
}

TEST(QosScheduler, HigherClassPreemptsBetweenPops) {
  Scheduler s;
  ASSERT_TRUE(s.push(item(1), Priority::low).accepted());
  ASSERT_TRUE(s.push(item(2), Priority::low).accepted());
  EXPECT_EQ(s.pop()->id, 1u);
  ASSERT_TRUE(s.push(item(3), Priority::high).accepted());
  EXPECT_EQ(s.pop()->id, 3u);
  EXPECT_EQ(s.pop()->id, 2u);
}

TEST(QosScheduler, FifoPerPeer) {
  Scheduler s;
  for (std::uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(s.push(item(i, 7), Priority::normal).accepted());
  std::vector<Item> out = drain(s);
  for (std::uint64_t i = 0; i < 100; ++i) EXPECT_EQ(out[i].id, i);
}

TEST(QosScheduler, FairnessFloodingPeerDoesNotStarveOthers) {
  Scheduler s;
  constexpr std::uint64_t flooder = 1, quiet = 2;
  for (std::uint64_t i = 0; i < 450; ++i) ASSERT_TRUE(s.push(item(i, flooder), Priority::low).accepted());
  for (std::uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(s.push(item(1000 + i, quiet), Priority::low).accepted());
  std::vector<std::size_t> quiet_positions;
  for (std::size_t k = 0; k < 455; ++k) {
    auto it = s.pop();
    ASSERT_TRUE(it);
    if (it->peer == quiet) quiet_positions.push_back(k);
  }
  ASSERT_EQ(quiet_positions.size(), 5u);
  EXPECT_LE(quiet_positions.back(), 10u);  // all 5 within the first ~10 pops (alternation)
  EXPECT_EQ(quiet_positions, (std::vector<std::size_t>{1, 3, 5, 7, 9}));
}

TEST(QosScheduler, RoundRobinAcrossManyPeers) {
  Scheduler s;
  // Peer p pushes p+1 items; each round serves every peer that still has items once.
  for (std::uint64_t p = 0; p < 5; ++p)
    for (std::uint64_t i = 0; i <= p; ++i)
      ASSERT_TRUE(s.push(item(p * 100 + i, p), Priority::normal).accepted());
  std::vector<std::uint64_t> peers;
  for (const Item& it : drain(s)) peers.push_back(it.peer);
  EXPECT_EQ(peers, (std::vector<std::uint64_t>{0, 1, 2, 3, 4, 1, 2, 3, 4, 2, 3, 4, 3, 4, 4}));
}

TEST(QosScheduler, NewPeerJoinsAtEndOfRotation) {
  Scheduler s;
  for (std::uint64_t i = 0; i < 4; ++i) s.push(item(i, 1), Priority::normal);
  for (std::uint64_t i = 0; i < 4; ++i) s.push(item(10 + i, 2), Priority::normal);
  EXPECT_EQ(s.pop()->peer, 1u);
  s.push(item(20, 3), Priority::normal);  // waits until every peer already queued has had a turn
  std::vector<std::uint64_t> peers;
  for (int k = 0; k < 5; ++k) peers.push_back(s.pop()->peer);
  EXPECT_EQ(peers, (std::vector<std::uint64_t>{2, 1, 3, 2, 1}));
}

TEST(QosScheduler, MaxPerPeerLimitsOnePeersShare) {
  qos::Config c;
  c.max_per_peer = 3;
  Scheduler s(c);
  for (std::uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(s.push(item(i, 1), Priority::normal).accepted());
  EXPECT_EQ(s.push(item(3, 1), Priority::normal).error, make_error_code(Errc::backpressure));
  EXPECT_TRUE(s.push(item(4, 2), Priority::normal).accepted());  // another peer still gets in
  EXPECT_TRUE(s.push(item(5, 1), Priority::high).accepted());    // the limit is per class
  ASSERT_TRUE(s.pop());                                          // HIGH item
  ASSERT_TRUE(s.pop());                                          // peer 1's first NORMAL item
  EXPECT_TRUE(s.push(item(6, 1), Priority::normal).accepted());
}

TEST(QosScheduler, MaxPerPeerRejectsEmergencyWithoutEvicting) {
  qos::Config c;
  c.max_per_peer = 1;
  Scheduler s(c);
  ASSERT_TRUE(s.push(item(100, 9), Priority::low).accepted());
  ASSERT_TRUE(s.push(item(1, 1), Priority::emergency).accepted());
  auto r = s.push(item(2, 1), Priority::emergency);
  EXPECT_FALSE(r.accepted());
  EXPECT_FALSE(r.evicted);
  EXPECT_EQ(s.depth(Priority::low), 1u);
}

TEST(QosScheduler, CancelRemovesQueuedItem) {
  Scheduler s;
  s.push(item(1, 1), Priority::normal);
  s.push(item(2, 1), Priority::normal);
  s.push(item(3, 2), Priority::normal);
  s.push(item(4, 3), Priority::low);
  EXPECT_EQ(s.cancel(2), Priority::normal);
  EXPECT_EQ(s.cancel(4), Priority::low);
  EXPECT_FALSE(s.cancel(4));
  EXPECT_FALSE(s.cancel(42));
  std::vector<std::uint64_t> ids;
  for (const Item& it : drain(s)) ids.push_back(it.id);
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(s.stats().of(Priority::normal).cancelled, 1u);
}

TEST(QosScheduler, StatsTrackDepthBytesPeersAndCounters) {
  Scheduler s;
  s.push(item(1, 1, 10), Priority::high);
  s.push(item(2, 2, 20), Priority::high);
  s.push(item(3, 2, 30), Priority::high);
  s.push(item(4, 1, 5), Priority::low);
  qos::Stats st = s.stats();
  EXPECT_EQ(st.total_depth, 4u);
  EXPECT_EQ(st.of(Priority::high).depth, 3u);
  EXPECT_EQ(st.of(Priority::high).bytes, 60u);
  EXPECT_EQ(st.of(Priority::high).peers, 2u);
  EXPECT_EQ(st.of(Priority::high).capacity, 50u);
  EXPECT_EQ(st.of(Priority::low).pushed, 1u);
  drain(s);
  st = s.stats();
  EXPECT_EQ(st.total_depth, 0u);
  EXPECT_EQ(st.of(Priority::high).popped, 3u);
  EXPECT_EQ(st.of(Priority::high).bytes, 0u);
  EXPECT_EQ(st.of(Priority::high).peers, 0u);
}

TEST(QosScheduler, PriorityNamesRoundTrip) {
  for (Priority p : qos::kAllPriorities) EXPECT_EQ(qos::parse_priority(qos::to_string(p)), p);
  EXPECT_EQ(qos::parse_priority("emergency"), Priority::emergency);
  EXPECT_EQ(qos::parse_priority("Low"), Priority::low);
  EXPECT_FALSE(qos::parse_priority("urgent"));
  EXPECT_FALSE(qos::parse_priority(""));
}

TEST(QosScheduler, UnknownPriorityValueIsInvalidArgument) {
  Scheduler s;
  EXPECT_EQ(s.push(item(1), static_cast<Priority>(7)).error, make_error_code(Errc::invalid_argument));
}

TEST(QosScheduler, MovedSchedulerKeepsItems) {
  Scheduler a;
  a.push(item(1), Priority::normal);
  Scheduler b = std::move(a);
  EXPECT_EQ(b.pop()->id, 1u);
}

// Random operations checked against a simple model: same depths, same eviction victims, and every
// pop returns the head of some peer's FIFO in the highest non-empty class.
TEST(QosScheduler, RandomOperationsMatchModel) {
  std::mt19937_64 rng(12345);
  qos::Config c{{4, 6, 8, 12}};
  Scheduler s(c);
  std::array<std::map<std::uint64_t, std::deque<std::uint64_t>>, 4> model;  // class -> peer -> ids
  std::deque<std::uint64_t> low_age;                                        // LOW ids, oldest first
  std::map<std::uint64_t, std::uint64_t> peer_of;
  std::array<std::size_t, 4> depth{};
  std::uint64_t next_id = 1;
  for (int step = 0; step < 20000; ++step) {
    const int op = static_cast<int>(rng() % 10);
    if (op < 6) {
      const auto p = static_cast<Priority>(rng() % 4);
      const std::size_t ci = static_cast<std::size_t>(p);
      const std::uint64_t peer = rng() % 5, id = next_id++;
      const std::size_t borrowed = depth[0] > c.capacity[0] ? depth[0] - c.capacity[0] : 0;
      const std::size_t used = depth[ci] + (ci == 3 ? borrowed : 0);
      const qos::PushResult r = s.push(item(id, peer), p);
      if (used < c.capacity[ci]) {
        ASSERT_TRUE(r.accepted());
        ASSERT_FALSE(r.evicted);
      } else if (ci == 0 && depth[3] > 0) {
        ASSERT_TRUE(r.accepted());
        ASSERT_TRUE(r.evicted);
        ASSERT_EQ(r.evicted->id, low_age.front());
        const std::uint64_t victim = low_age.front();
        low_age.pop_front();
        auto& q = model[3][peer_of[victim]];
        ASSERT_EQ(q.front(), victim);
        q.pop_front();
        --depth[3];
      } else {
        ASSERT_EQ(r.error, make_error_code(Errc::backpressure));
        continue;
      }
      model[ci][peer].push_back(id);
      peer_of[id] = peer;
      if (ci == 3) low_age.push_back(id);
      ++depth[ci];
    } else {
      const std::optional<Item> it = s.pop();
      std::size_t ci = 0;
      while (ci < 4 && depth[ci] == 0) ++ci;
      if (ci == 4) {
        ASSERT_FALSE(it);
        continue;
      }
      ASSERT_TRUE(it);
      auto& q = model[ci][it->peer];
      ASSERT_FALSE(q.empty());
      ASSERT_EQ(q.front(), it->id);
      q.pop_front();
      if (ci == 3) low_age.erase(std::find(low_age.begin(), low_age.end(), it->id));
      --depth[ci];
    }
    for (std::size_t ci = 0; ci < 4; ++ci) ASSERT_EQ(s.depth(static_cast<Priority>(ci)), depth[ci]);
  }
}

TEST(QosScheduler, PopIfSkipsBusyPeersWithoutLosingTheirItemsOrOrder) {
  Scheduler s;
  for (std::uint64_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(s.push(item(10 + i, /*peer=*/1), Priority::normal).accepted());
    ASSERT_TRUE(s.push(item(20 + i, /*peer=*/2), Priority::normal).accepted());
  }
  ASSERT_TRUE(s.push(item(99, /*peer=*/1), Priority::high).accepted());
  // Peer 1 is busy: its HIGH item waits, peer 2's NORMAL items go out in their FIFO order.
  auto not_one = [](std::uint64_t peer) { return peer != 1; };
  std::vector<std::uint64_t> out;
  while (auto it = s.pop_if(not_one)) out.push_back(it->id);
  EXPECT_EQ(out, (std::vector<std::uint64_t>{20, 21, 22}));
  EXPECT_EQ(s.size(), 4u);
  EXPECT_FALSE(s.pop_if([](std::uint64_t) { return false; }));
  // Ready again: strict priority, then peer 1's own order.
  out.clear();
  while (auto it = s.pop_if([](std::uint64_t) { return true; })) out.push_back(it->id);
  EXPECT_EQ(out, (std::vector<std::uint64_t>{99, 10, 11, 12}));
  EXPECT_EQ(s.stats().of(Priority::normal).popped, 6u);
}
