// Mix descriptors and topology documents: what a mix and the registry sign, what a node accepts
// (and the reason it refuses the rest), and the book that keeps the previous epoch's document
// usable across the rollover.
#include <gtest/gtest.h>

#include "betanet/directory/directory.hpp"

namespace hyphae::betanet {
namespace {

MixDescriptor fields(std::uint32_t layer, std::uint64_t epoch, const std::string& group = "AS1") {
  MixDescriptor d;
  d.address = "/ip4/127.0.0.1/tcp/4430";
  d.layer = layer;
  d.group = group;
  for (std::uint64_t e : {epoch, epoch + 1}) d.keys.push_back({e, sphinx::generate_routing_key().first});
  d.published_ms = 1234;
  return d;
}

TEST(MixDirectory, ADescriptorIsSignedByItsMixAndReadBack) {
  const auto mix = Identity::generate();
  const auto f = fields(2, 10, "AS64500");
  const auto envelope = sign_descriptor(mix, f);
  const auto d = open_descriptor(envelope);
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(d->peer, mix.peer_id());
  EXPECT_EQ(d->node_id, node_id_of(mix.peer_id()));
  EXPECT_EQ(d->address, f.address);
  EXPECT_EQ(d->layer, 2u);
  EXPECT_EQ(d->group, "AS64500");
  ASSERT_EQ(d->keys.size(), 2u);
  EXPECT_EQ(*d->key_for(11), f.keys[1].key);
  EXPECT_FALSE(d->key_for(12));
  EXPECT_EQ(d->hop(10).id, d->node_id);
  // Any changed byte: refused.
  for (std::size_t i = 0; i < envelope.size(); i += 7) {
    Bytes bad = envelope;
    bad[i] ^= 0x20;
    EXPECT_FALSE(open_descriptor(bad)) << i;
  }
}

TEST(MixDirectory, DescriptorsThatCannotBeUsedAreRefusedWithTheReason) {
  const auto mix = Identity::generate();
  auto zero_key = fields(1, 3);
  zero_key.keys[0].key = {};
  EXPECT_EQ(open_descriptor(sign_descriptor(mix, zero_key)).error(),
            "descriptor: a routing key of low order");
  auto many = fields(1, 3);
  for (std::uint64_t e = 5; e < 8; ++e) many.keys.push_back({e, sphinx::generate_routing_key().first});
  EXPECT_EQ(open_descriptor(sign_descriptor(mix, many)).error(), "descriptor: too many epoch keys");
  auto twice = fields(1, 3);
  twice.keys[1].epoch = 3;
  EXPECT_EQ(open_descriptor(sign_descriptor(mix, twice)).error(), "descriptor: an epoch twice");
  auto no_layer = fields(9, 3);
  EXPECT_EQ(open_descriptor(sign_descriptor(mix, no_layer)).error(), "descriptor: bad layer");
  auto no_keys = fields(1, 3);
  no_keys.keys.clear();
  EXPECT_EQ(open_descriptor(sign_descriptor(mix, no_keys)).error(), "descriptor: incomplete descriptor");
  EXPECT_FALSE(open_descriptor(as_bytes("junk")));
}

TEST(MixDirectory, ATopologyIsTrustedOnlyFromTheRegistryAndOnlyWhole) {
  const auto registry = Identity::generate(), stranger = Identity::generate();
  std::vector<Bytes> envelopes;
  std::vector<Identity> mixes;
  for (std::uint32_t i = 0; i < 6; ++i) {
    mixes.push_back(Identity::generate());
    envelopes.push_back(sign_descriptor(mixes.back(), fields(1 + i % 3, 20, "AS" + std::to_string(i))));
  }
  std::array<std::uint8_t, 32> beacon{};
  beacon.fill(7);
  const auto doc = sign_topology(registry, 20, beacon, 99, envelopes);
  const auto t = open_topology(doc, registry.peer_id());
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->epoch, 20u);
  EXPECT_EQ(t->beacon, beacon);
  ASSERT_EQ(t->mixes.size(), 6u);
  EXPECT_EQ(t->find(node_id_of(mixes[3].peer_id()))->group, "AS3");
  EXPECT_EQ(t->find(sphinx::NodeId{}), nullptr);

  EXPECT_EQ(open_topology(sign_topology(stranger, 20, beacon, 99, envelopes), registry.peer_id()).error(),
            "topology: not signed by the trusted registry");
  // The registry cannot slip in a mix without a key for the epoch, or one twice.
  EXPECT_EQ(open_topology(sign_topology(registry, 22, beacon, 99, envelopes), registry.peer_id()).error(),
            "topology: a mix has no key for the epoch");
  auto dup = envelopes;
  dup.push_back(envelopes[0]);
  EXPECT_EQ(open_topology(sign_topology(registry, 20, beacon, 99, dup), registry.peer_id()).error(),
            "topology: a mix appears twice");
  // Nor a descriptor it changed.
  auto forged = envelopes;
  forged[2][forged[2].size() / 2] ^= 1;
  EXPECT_FALSE(open_topology(sign_topology(registry, 20, beacon, 99, forged), registry.peer_id()));
  // A flood of mixes stops at the bound before any is checked.
  std::vector<Bytes> flood(kMaxTopologyMixes + 1, envelopes[0]);
  EXPECT_EQ(open_topology(sign_topology(registry, 20, beacon, 99, flood), registry.peer_id()).error(),
            "topology: too many mixes");
}

TEST(MixDirectory, TheBookKeepsThePreviousEpochUsableUntilTheNewDocumentArrives) {
  const auto registry = Identity::generate();
  auto doc = [&](std::uint64_t epoch, std::uint64_t published) {
    std::vector<Bytes> e{sign_descriptor(Identity::generate(), fields(1, epoch))};
    return *open_topology(sign_topology(registry, epoch, {}, published, e), registry.peer_id());
  };
  TopologyBook book;
  EXPECT_TRUE(book.add(doc(5, 1), 5));
  EXPECT_EQ(book.usable(5)->epoch, 5u);
  // Epoch 6 begins before its document arrives: epoch 5's still routes.
  book.set_epoch(6);
  ASSERT_NE(book.usable(6), nullptr);
  EXPECT_EQ(book.usable(6)->epoch, 5u);
  EXPECT_TRUE(book.add(doc(6, 2), 6));
  EXPECT_EQ(book.usable(6)->epoch, 6u);
  EXPECT_FALSE(book.add(doc(6, 1), 6));  // an older copy of a kept epoch
  EXPECT_TRUE(book.add(doc(7, 3), 6));   // published ahead
  EXPECT_FALSE(book.add(doc(9, 3), 6));  // too far ahead
  book.set_epoch(7);
  EXPECT_EQ(book.exact(5), nullptr);  // forgotten two epochs on
  EXPECT_FALSE(book.add(doc(5, 9), 7));
  EXPECT_EQ(book.size(), 2u);
  book.set_epoch(9);
  EXPECT_EQ(book.usable(9), nullptr);  // nothing for 8 or 9: no routes rather than stale ones
}

}  // namespace
}  // namespace hyphae::betanet
