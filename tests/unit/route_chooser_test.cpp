// Route choice by VRF: deterministic for a request, checkable by anyone from the proof, spread
// evenly over the mixes across stream nonces, layered, never the same hop set for the same pair
// and epoch before 8 distinct sets were tried, always a hop outside both ends' groups.
#include "betanet/route/route_chooser.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <map>

namespace hyphae::betanet {
namespace {

struct Net {
  Identity registry = Identity::generate();
  std::vector<Identity> mixes;
  Topology topology;
  Net(std::size_t n, std::uint32_t layers, const std::vector<std::string>& groups = {}) {
    std::vector<Bytes> envelopes;
    for (std::size_t i = 0; i < n; ++i) {
      mixes.push_back(Identity::generate());
      MixDescriptor d;
      d.address = "/ip4/127.0.0.1/tcp/" + std::to_string(5000 + i);
      d.layer = static_cast<std::uint32_t>(i % layers) + 1;
      d.group = groups.empty() ? "AS" + std::to_string(i) : groups[i % groups.size()];
      d.keys.push_back({4, sphinx::generate_routing_key().first});
      envelopes.push_back(sign_descriptor(mixes.back(), d));
    }
    std::array<std::uint8_t, 32> beacon{};
    randombytes_buf(beacon.data(), beacon.size());
    topology = *open_topology(sign_topology(registry, 4, beacon, 1, envelopes), registry.peer_id());
  }
};

vrf::Seed random_seed() {
  vrf::Seed s{};
  randombytes_buf(s.data(), s.size());
  return s;
}

RouteRequest request(std::size_t mixes, std::uint8_t nonce = 0) {
  static const auto alice = Identity::generate().peer_id(), bob = Identity::generate().peer_id();
  RouteRequest r;
  r.source = alice;
  r.destination = bob;
  r.stream_nonce.fill(nonce);
  r.mixes = mixes;
  return r;
}

TEST(RouteChooser, ARouteIsTheVrfsChoiceAndAnyoneCanCheckIt) {
  Net net(9, 3);
  const auto key = random_seed();
  RouteChooser a(key), b(key);
  const auto r = request(3, 1);
  const auto route = a.choose(net.topology, r);
  ASSERT_TRUE(route) << route.error();
  ASSERT_EQ(route->mixes.size(), 3u);
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_EQ(route->mixes[i]->layer, i + 1);  // layered
  EXPECT_TRUE(RouteChooser::verify(a.public_key(), net.topology, r, *route));
  // The same key and request give the same route elsewhere.
  const auto again = b.choose(net.topology, r);
  EXPECT_EQ(again->mixes, route->mixes);
  // A steered route, another sender's key, another request: the check fails.
  auto steered = *route;
  for (const auto& m : net.topology.mixes)
    if (m.layer == 1 && &m != route->mixes[0]) steered.mixes[0] = &m;  // another layer-1 mix
  EXPECT_FALSE(RouteChooser::verify(a.public_key(), net.topology, r, steered));
  EXPECT_FALSE(RouteChooser::verify(RouteChooser(random_seed()).public_key(), net.topology, r, *route));
  EXPECT_FALSE(RouteChooser::verify(a.public_key(), net.topology, request(3, 2), *route));
}

TEST(RouteChooser, RoutesSpreadEvenlyOverTheMixes) {
  Net net(6, 1);
  RouteChooser chooser(random_seed());
  std::map<const MixDescriptor*, int> count;
  for (int i = 0; i < 600; ++i) {
    auto r = request(2);
    randombytes_buf(r.stream_nonce.data(), r.stream_nonce.size());
    r.destination = Identity::generate().peer_id();  // a new pair each time: no reuse rule in play
    const auto route = chooser.choose(net.topology, r);
    ASSERT_TRUE(route);
    EXPECT_NE(route->mixes[0], route->mixes[1]);
    for (const auto* m : route->mixes) ++count[m];
  }
  ASSERT_EQ(count.size(), 6u);
  for (const auto& [m, c] : count) {
    EXPECT_GT(c, 140) << m->address;  // 200 expected
    EXPECT_LT(c, 260) << m->address;
  }
  EXPECT_EQ(chooser.remembered(), 600u);
}

TEST(RouteChooser, TheSameHopSetIsNotReusedBeforeEightDistinctSetsWereTried) {
  Net net(8, 1);
  RouteChooser chooser(random_seed());
  std::set<std::set<const MixDescriptor*>> sets;
  for (int i = 0; i < 8; ++i) {
    const auto route = chooser.choose(net.topology, request(2, 9));  // the same request each time
    ASSERT_TRUE(route);
    EXPECT_TRUE(sets.insert({route->mixes.begin(), route->mixes.end()}).second) << "reused at " << i;
    EXPECT_TRUE(RouteChooser::verify(chooser.public_key(), net.topology, request(2, 9), *route));
  }
  // A ninth may reuse one: there is no rule left to keep.
  EXPECT_TRUE(chooser.choose(net.topology, request(2, 9)));
  // With only 3 possible sets (3 mixes, 2 hops) it reuses rather than failing.
  Net small(3, 1);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(chooser.choose(small.topology, request(2, 1)));
}

TEST(RouteChooser, EveryRouteHasAHopOutsideBothEndsGroups) {
  Net net(6, 1, {"AS1", "AS1", "AS2", "AS2", "AS2", "AS3"});
  RouteChooser chooser(random_seed());
  for (int i = 0; i < 50; ++i) {
    auto r = request(2, static_cast<std::uint8_t>(i));
    r.source_group = "AS1";
    r.destination_group = "AS2";
    const auto route = chooser.choose(net.topology, r);
    ASSERT_TRUE(route);
    EXPECT_TRUE(std::any_of(route->mixes.begin(), route->mixes.end(),
                            [](const MixDescriptor* m) { return m->group == "AS3"; }));
  }
  Net same(4, 1, {"AS1", "AS2"});
  auto r = request(2);
  r.source_group = "AS1";
  r.destination_group = "AS2";
  EXPECT_EQ(chooser.choose(same.topology, r).error(), "no route with a mix outside both ends' groups");
}

TEST(RouteChooser, ANetworkWithFewerThanEightSetsReusesThemAtOnceOnceAllWereTried) {
  Net net(3, 1);  // 3 mixes, 2 per route: 3 possible sets
  RouteChooser chooser(random_seed());
  std::set<std::set<const MixDescriptor*>> sets;
  for (int i = 0; i < 3; ++i) {
    const auto route = chooser.choose(net.topology, request(2, 4));
    ASSERT_TRUE(route);
    sets.insert({route->mixes.begin(), route->mixes.end()});
  }
  EXPECT_EQ(sets.size(), 3u);  // all three tried before any reuse
  // Then the first draw is taken: no more searching (each attempt is a VRF proof).
  const auto again = chooser.choose(net.topology, request(2, 4));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->attempt, 0u);
}

TEST(RouteChooser, ModesAndImpossibleRoutes) {
  EXPECT_EQ(min_mixes(*parse_privacy_mode("strict")), 3u);
  EXPECT_EQ(min_mixes(*parse_privacy_mode("balanced")), 2u);
  EXPECT_EQ(min_mixes(*parse_privacy_mode("performance")), 0u);
  EXPECT_FALSE(parse_privacy_mode("paranoid"));
  Net net(2, 1);
  RouteChooser chooser(random_seed());
  EXPECT_EQ(chooser.choose(net.topology, request(3)).error(),
            "the topology has too few mixes for such a route");
  EXPECT_FALSE(chooser.choose(net.topology, request(0)));
  EXPECT_FALSE(chooser.choose(net.topology, request(5)));
}

}  // namespace
}  // namespace hyphae::betanet
