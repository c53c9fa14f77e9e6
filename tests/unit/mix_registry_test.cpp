// The registry's mix directory on a manual clock: descriptors in, signed topologies out (checked
// with the node-side verifier), beacons stable across restarts and different per epoch, stale mixes
// forgotten, and the refusals: older descriptors, a full directory, bad bodies, far epochs.
#include "registry/mix_registry.hpp"

#include <gtest/gtest.h>

#include "util/json_util.hpp"

namespace hyphae::registry {
namespace {

constexpr std::uint64_t kEpochMs = 60'000;

std::string body(const Identity& mix, std::uint64_t epoch, std::uint64_t published = 1) {
  betanet::MixDescriptor d;
  d.address = "/ip4/127.0.0.1/tcp/4000";
  d.layer = 1;
  d.keys = {{epoch, sphinx::generate_routing_key().first}, {epoch + 1, sphinx::generate_routing_key().first}};
  d.published_ms = published;
  return nlohmann::json{{"envelope_base64", base64_encode(betanet::sign_descriptor(mix, d))}}.dump();
}

betanet::Topology open(const RegistryReply& r, const PeerId& registry) {
  EXPECT_EQ(r.status, 200) << r.body.dump();
  auto t = betanet::open_topology(*base64_decode(r.body["envelope_base64"].get<std::string>()), registry);
  EXPECT_TRUE(t) << t.error();
  return t ? *t : betanet::Topology{};
}

TEST(MixRegistry, PublishedMixesComeBackInASignedTopologyPerEpoch) {
  ManualClock clock;
  const auto registry_id = Identity::generate();
  MixRegistry reg(registry_id, {kEpochMs, 1024}, clock);
  const auto epoch = reg.current_epoch();
  std::vector<Identity> mixes;
  for (int i = 0; i < 3; ++i) {
    mixes.push_back(Identity::generate());
    EXPECT_EQ(reg.publish("net", body(mixes.back(), epoch)).status, 200);
  }
  const auto t = open(reg.topology("net", ""), registry_id.peer_id());
  EXPECT_EQ(t.epoch, epoch);
  EXPECT_EQ(t.mixes.size(), 3u);
  // The next epoch's keys are published ahead: its topology is served too.
  EXPECT_EQ(
      open(reg.topology("net", "epoch=" + std::to_string(epoch + 1)), registry_id.peer_id()).mixes.size(),
      3u);
  // Another network sees none of them.
  EXPECT_TRUE(open(reg.topology("other", ""), registry_id.peer_id()).mixes.empty());
  // Beacons: per epoch, and the same after a restart with the same identity.
  MixRegistry restarted(registry_id, {kEpochMs, 1024}, clock);
  EXPECT_EQ(open(restarted.topology("net", ""), registry_id.peer_id()).beacon, t.beacon);
  EXPECT_NE(open(reg.topology("net", "epoch=" + std::to_string(epoch + 1)), registry_id.peer_id()).beacon,
            t.beacon);
  // Two epochs on, mixes that did not publish again are gone.
  clock.advance(3 * kEpochMs);
  EXPECT_TRUE(open(reg.topology("net", ""), registry_id.peer_id()).mixes.empty());
}

TEST(MixRegistry, RefusalsCarryTheirReason) {
  ManualClock clock;
  MixRegistry reg(Identity::generate(), {kEpochMs, 2}, clock);
  const auto epoch = reg.current_epoch();
  const auto mix = Identity::generate();
  EXPECT_EQ(reg.publish("net", body(mix, epoch, 5)).status, 200);
  EXPECT_EQ(reg.publish("net", body(mix, epoch, 5)).status, 409);  // not newer
  EXPECT_EQ(reg.publish("net", body(mix, epoch, 6)).status, 200);  // an update
  EXPECT_EQ(reg.publish("net", body(Identity::generate(), epoch)).status, 200);
  const auto full = reg.publish("net", body(Identity::generate(), epoch));
  EXPECT_EQ(full.status, 429);
  EXPECT_EQ(full.body["error"], "the mix directory is full");
  EXPECT_EQ(reg.publish("net", "{}").status, 400);
  EXPECT_EQ(reg.publish("net", R"({"envelope_base64": "!!"})").status, 400);
  EXPECT_EQ(reg.publish("net", R"({"envelope_base64": "AAAA"})").status, 400);
  EXPECT_EQ(reg.publish("net", body(Identity::generate(), epoch - 5)).status, 400);  // keys long past
  EXPECT_EQ(reg.topology("net", "epoch=" + std::to_string(epoch + 5)).status, 404);
  EXPECT_EQ(reg.topology("net", "epoch=x").status, 400);
}

}  // namespace
}  // namespace hyphae::registry
