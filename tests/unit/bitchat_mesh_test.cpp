// The BitChat relay core's decisions (TTL, duplicate suppression, jitter bands, fan-out, directed
// relay, coverage pruning, rate limits) and a 1000-node simulation over the radio simulator.
#include <gtest/gtest.h>

#include <set>

#include "bitchat/mesh_core.hpp"
#include "bitchat/radio_sim.hpp"

namespace hyphae::bitchat {
namespace {

ShortId sid(std::uint8_t v) {
  ShortId s{};
  s.fill(v);
  return s;
}

Packet broadcast(std::uint8_t from, std::uint64_t ts, std::uint8_t ttl = 7) {
  Packet p;
  p.type = static_cast<std::uint8_t>(MessageType::message);
  p.sender = sid(from);
  p.timestamp_ms = ts;
  p.ttl = ttl;
  p.payload = {'h', 'i'};
  return p;
}

Bytes wire(const Packet& p) {
  return *encode(p, {.pad = false, .compress = false});
}

MeshOptions quiet(std::uint8_t self) {
  MeshOptions o;
  o.self = sid(self);
  o.jitter = false;
  o.per_sender_rate = o.total_rate = o.per_sender_burst = o.total_burst = 1e9;  // tested on their own
  return o;
}

std::set<LinkId> links_of(const MeshCore::Output& out) {
  std::set<LinkId> s;
  for (const auto& send : out.sends) s.insert(send.link);
  return s;
}

TEST(BitchatMesh, BroadcastIsDeliveredAndRelayedOnceWithTtlMinusOne) {
  MeshCore core(quiet(1));
  for (LinkId l = 10; l < 13; ++l) core.link_up(l, sid(static_cast<std::uint8_t>(l)));
  auto out = core.on_frame(10, wire(broadcast(9, 100)), 1000);
  ASSERT_EQ(out.deliveries.size(), 1u);
  EXPECT_EQ(links_of(out), (std::set<LinkId>{11, 12}));  // split horizon: not back on 10
  auto relayed = decode(out.sends[0].frame);
  ASSERT_TRUE(relayed);
  EXPECT_EQ(relayed->ttl, 6);
  // The same packet again (from another link) is a duplicate: no delivery, no relay.
  auto again = core.on_frame(11, wire(broadcast(9, 100)), 1001);
  EXPECT_TRUE(again.deliveries.empty());
  EXPECT_TRUE(again.sends.empty());
  EXPECT_EQ(core.counters().duplicates, 1u);
  // TTL 1 is delivered but not relayed; our own packets coming back are dropped.
  auto last_hop = core.on_frame(10, wire(broadcast(9, 200, 1)), 1002);
  EXPECT_EQ(last_hop.deliveries.size(), 1u);
  EXPECT_TRUE(last_hop.sends.empty());
  EXPECT_TRUE(core.on_frame(10, wire(broadcast(1, 300)), 1003).deliveries.empty());
  EXPECT_EQ(core.counters().dropped_own, 1u);
  // Garbage is counted, not fatal.
  EXPECT_TRUE(core.on_frame(10, Bytes{1, 2, 3}, 1004).sends.empty());
  EXPECT_EQ(core.counters().dropped_malformed, 1u);
}

TEST(BitchatMesh, DedupeForgetsAfterFiveMinutesAndHoldsAThousandKeys) {
  MeshCore core(quiet(1));
  core.link_up(10, sid(10));
  core.link_up(11, sid(11));
  EXPECT_EQ(core.on_frame(10, wire(broadcast(9, 1)), 0).deliveries.size(), 1u);
  EXPECT_TRUE(core.on_frame(10, wire(broadcast(9, 1)), 299'999).deliveries.empty());
  EXPECT_EQ(core.on_frame(10, wire(broadcast(9, 1)), 300'001).deliveries.size(), 1u);  // expired
  for (std::uint64_t ts = 1000; ts < 2001; ++ts) core.on_frame(10, wire(broadcast(8, ts)), 400'000);
  // 1001 newer keys pushed the first of them out of the 1000-entry LRU.
  EXPECT_EQ(core.on_frame(10, wire(broadcast(8, 1000)), 400'001).deliveries.size(), 1u);
  EXPECT_TRUE(core.on_frame(10, wire(broadcast(8, 2000)), 400'001).deliveries.empty());
}

TEST(BitchatMesh, JitterFollowsTheDegreeBands) {
  auto band = [](int degree) {
    MeshOptions o = quiet(1);
    o.jitter = true;
    o.coverage_pruning = false;
    MeshCore core(o);
    for (int l = 0; l < degree + 1; ++l) core.link_up(static_cast<LinkId>(l));
    std::uint64_t lo = ~0ull, hi = 0;
    for (std::uint64_t ts = 0; ts < 200; ++ts) {
      core.on_frame(0, wire(broadcast(9, ts)), 1'000'000);
      auto due = core.next_due();
      EXPECT_TRUE(due);
      lo = std::min(lo, *due - 1'000'000);
      hi = std::max(hi, *due - 1'000'000);
      core.tick(*due);
    }
    return std::pair{lo, hi};
  };
  auto [lo2, hi2] = band(2);  // degree counts every link: 3 links
  EXPECT_GE(lo2, 60u);
  EXPECT_LE(hi2, 150u);
  auto [lo1, hi1] = band(1);
  EXPECT_GE(lo1, 10u);
  EXPECT_LE(hi1, 40u);
  auto [lo7, hi7] = band(7);
  EXPECT_GE(lo7, 80u);
  EXPECT_LE(hi7, 180u);
  auto [lo12, hi12] = band(12);
  EXPECT_GE(lo12, 100u);
  EXPECT_LE(hi12, 220u);
}

TEST(BitchatMesh, DenseNodesFanOutToASubsetAndFragmentsGoEverywhere) {
  MeshOptions o = quiet(1);
  o.coverage_pruning = false;
  MeshCore core(o);
  for (LinkId l = 0; l < 16; ++l) core.link_up(l, sid(static_cast<std::uint8_t>(100 + l)));
  auto out = core.on_frame(0, wire(broadcast(9, 5)), 10);
  EXPECT_EQ(out.sends.size(), 5u);  // ceil(log2 16) + 1
  EXPECT_FALSE(links_of(out).contains(0));
  Packet frag = broadcast(9, 6);
  frag.type = static_cast<std::uint8_t>(MessageType::fragment);
  EXPECT_EQ(core.on_frame(0, wire(frag), 11).sends.size(), 15u);  // exempt from the subset
  Packet sync = broadcast(9, 7);
  sync.type = static_cast<std::uint8_t>(MessageType::request_sync);
  EXPECT_TRUE(core.on_frame(0, wire(sync), 12).sends.empty());  // link-local
}

TEST(BitchatMesh, DirectedPacketsGoTowardsTheirRecipient) {
  MeshCore core(quiet(1));
  core.link_up(10, sid(10));
  core.link_up(11, sid(11));
  core.link_up(12, sid(12));
  Packet p = broadcast(9, 1);
  p.type = static_cast<std::uint8_t>(MessageType::noise_encrypted);
  p.recipient = sid(12);
  auto out = core.on_frame(10, wire(p), 5);
  EXPECT_TRUE(out.deliveries.empty());  // not for us
  EXPECT_EQ(links_of(out), (std::set<LinkId>{12}));
  // Not adjacent: flooded (except back), and a v2 source route picks the next hop.
  p.timestamp_ms = 2;
  p.recipient = sid(77);
  EXPECT_EQ(links_of(core.on_frame(10, wire(p), 6)), (std::set<LinkId>{11, 12}));
  p.version = 2;
  p.timestamp_ms = 3;
  p.route = {sid(1), sid(11)};
  EXPECT_EQ(links_of(core.on_frame(10, wire(p), 7)), (std::set<LinkId>{11}));
  // Addressed to us: delivered, not relayed.
  p.timestamp_ms = 4;
  p.route.clear();
  p.version = 1;
  p.recipient = sid(1);
  auto mine = core.on_frame(10, wire(p), 8);
  EXPECT_EQ(mine.deliveries.size(), 1u);
  EXPECT_TRUE(mine.sends.empty());
}

TEST(BitchatMesh, CoveragePruningSkipsNeighboursTheSenderReached) {
  MeshCore core(quiet(1));
  core.link_up(10, sid(10));  // the sender's link
  core.link_up(11, sid(11));
  core.link_up(12, sid(12));
  core.set_neighbour_links(10, {sid(11), sid(1)});  // 10 also reaches 11
  auto out = core.on_frame(10, wire(broadcast(10, 1)), 5);
  EXPECT_EQ(links_of(out), (std::set<LinkId>{12}));
  EXPECT_EQ(core.counters().pruned, 1u);
}

TEST(BitchatMesh, AFloodingSenderIsRateLimited) {
  MeshOptions o = quiet(1);
  o.per_sender_rate = 10;
  o.per_sender_burst = 20;
  o.total_rate = 500;
  o.total_burst = 1000;
  MeshCore core(o);
  core.link_up(10, sid(10));
  core.link_up(11, sid(11));
  std::size_t delivered = 0;
  for (std::uint64_t ts = 0; ts < 1000; ++ts)
    delivered += core.on_frame(10, wire(broadcast(66, ts)), 5000).deliveries.size();
  EXPECT_EQ(delivered, 20u);  // the burst, then nothing within the same millisecond
  EXPECT_EQ(core.counters().dropped_rate, 980u);
  // Another sender is unaffected, and the bucket refills with time.
  EXPECT_EQ(core.on_frame(10, wire(broadcast(67, 1)), 5000).deliveries.size(), 1u);
  EXPECT_EQ(core.on_frame(10, wire(broadcast(66, 5000)), 6000).deliveries.size(), 1u);
}

TEST(BitchatMeshSimulation, ThousandNodesDeliverAlmostAllWithHalfTheTransmissionsOfFlooding) {
  auto run = [](MeshOptions mesh, double churn) {
    RadioOptions ro;
    ro.nodes = 1000;
    ro.range = 0.075;
    ro.seed = 11;
    mesh.per_sender_rate = mesh.total_rate = mesh.per_sender_burst = mesh.total_burst = 1e9;
    ro.mesh = mesh;
    RadioSim sim(ro);
    std::mt19937_64 rng(5);
    for (std::size_t i = 0; i < 1000; ++i)
      if (std::uniform_real_distribution<double>(0, 1)(rng) < churn) sim.set_alive(i, false);
    std::vector<char> got(1000, 0);
    sim.on_delivery = [&](std::size_t node, const Packet&, std::uint64_t) { got[node] = 1; };
    double delivery = 0;
    std::uint64_t delivered = 0;
    for (int m = 0; m < 4; ++m) {
      std::fill(got.begin(), got.end(), 0);
      std::size_t src = 0;
      while (!sim.alive(src)) ++src;
      src = (src + static_cast<std::size_t>(m) * 211) % 1000;
      while (!sim.alive(src)) src = (src + 1) % 1000;
      Packet p = broadcast(0, 1000 + static_cast<std::uint64_t>(m));
      p.sender = sim.id_of(src);
      sim.originate(src, p);
      sim.run(sim.now() + 10'000);
      auto hops = sim.hops_from(src);
      std::size_t horizon = 0, reached = 0;
      for (std::size_t i = 0; i < 1000; ++i)
        if (i != src && hops[i] <= 7) ++horizon, reached += got[i];
      delivery += static_cast<double>(reached) / static_cast<double>(horizon) / 4;
      delivered += reached;
    }
    return std::pair{delivery, static_cast<double>(sim.frames_sent()) / static_cast<double>(delivered)};
  };
  MeshOptions naive;
  naive.subset_fanout = naive.coverage_pruning = naive.ttl_upgrade = naive.jitter = false;
  for (double churn : {0.0, 0.2}) {
    const auto [flood_delivery, flood_tx] = run(naive, churn);
    const auto [delivery, tx] = run(MeshOptions{}, churn);
    EXPECT_GE(delivery, 0.99) << "churn " << churn;
    EXPECT_LE(tx, 0.5 * flood_tx) << "churn " << churn << ": " << tx << " vs flooding " << flood_tx;
    EXPECT_GT(flood_delivery, 0.9);
  }
}

}  // namespace
}  // namespace hyphae::bitchat
