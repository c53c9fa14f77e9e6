// The mixnet's directory: what a mix publishes about itself (a descriptor) and what the registry
// publishes for each key epoch (a topology document listing the mixes). Both are libp2p signed
// envelopes (RFC 0002) over protobuf payloads, so a descriptor is checked against its mix's own
// key wherever it travels, and a topology against the registry's key the node trusts.
//
//   descriptor (domain "hyphae-mix-descriptor", payload type "/hyphae/mix-descriptor/1"):
//     1 address (string, a multiaddr)  2 layer (1..8; 0: an endpoint, a node reached as the last
//     hop of a route, never a mix)  3 group (string: operator or AS, for route
//     diversity)  4 epoch key {1 epoch, 2 X25519 routing key (32)} (repeated, at most 4)
//     5 published_ms  6 HTX link key (32: the Noise static key links to it expect)
//     7 min_mixes (endpoints only: the fewest mixes a message to it must cross, at most 4)
//   topology (domain "hyphae-mix-topology", payload type "/hyphae/mix-topology/1"):
//     1 epoch  2 beacon (32 random bytes chosen by the registry for the epoch)  3 published_ms
//     4 descriptor envelope (repeated, at most 1024; each must hold a key for `epoch`)
//
// Bounds and checks (a document failing any is refused whole, with the reason): sizes, counts,
// unknown layer, duplicate mixes or epochs, a descriptor signed by another key than its envelope's.
// TopologyBook keeps the documents of the epochs around the current one, so the previous epoch's
// document stays usable across the rollover until the new one arrives.
// Thread-safety: pure functions; TopologyBook has one owner. Ownership: values.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "betanet/sphinx/sphinx.hpp"
#include "core/bytes.hpp"
#include "core/identity.hpp"
#include "core/peer_id.hpp"

namespace hyphae::betanet {

inline constexpr std::size_t kMaxEpochKeys = 4;
inline constexpr std::size_t kMaxTopologyMixes = 1024;
inline constexpr std::size_t kMaxTopologyBytes = 1 << 20;
inline constexpr std::uint32_t kMaxLayer = 8;
inline constexpr std::uint32_t kEndpointLayer = 0;

struct EpochKey {
  std::uint64_t epoch = 0;
  sphinx::PublicKey key{};
};

struct MixDescriptor {
  PeerId peer;                              // the signer
  sphinx::NodeId node_id{};                 // SHA-256 of the PeerId's bytes: the id Sphinx headers name
  std::string address;                      // where the mix takes links
  std::uint32_t layer = 1;                  // 1..kMaxLayer; kEndpointLayer: not a mix
  std::string group;                        // operator or AS; routes want a hop outside both ends' groups
  std::vector<EpochKey> keys;               // routing keys for the epochs it publishes ahead
  std::array<std::uint8_t, 32> link_key{};  // HTX links to it expect this Noise static key
  std::uint64_t published_ms = 0;
  std::uint32_t min_mixes = 0;  // an endpoint's requirement on the routes to it
  Bytes envelope;               // as signed

  std::optional<sphinx::PublicKey> key_for(std::uint64_t epoch) const;
  sphinx::Hop hop(std::uint64_t epoch) const;  // needs key_for(epoch)
};

sphinx::NodeId node_id_of(const PeerId& peer);

// Signs `d`'s fields (address, layer, group, keys, published_ms) with `mix`; returns the envelope.
Bytes sign_descriptor(const Identity& mix, const MixDescriptor& d);
std::expected<MixDescriptor, std::string> open_descriptor(ByteView envelope);

struct Topology {
  PeerId signer;
  std::uint64_t epoch = 0;
  std::array<std::uint8_t, 32> beacon{};
  std::uint64_t published_ms = 0;
  std::vector<MixDescriptor> mixes;
  Bytes envelope;

  const MixDescriptor* find(const sphinx::NodeId& id) const;
};

Bytes sign_topology(const Identity& registry, std::uint64_t epoch, const std::array<std::uint8_t, 32>& beacon,
                    std::uint64_t published_ms, const std::vector<Bytes>& descriptor_envelopes);
// Verifies the registry's signature (it must be `trusted`) and every descriptor inside.
std::expected<Topology, std::string> open_topology(ByteView envelope, const PeerId& trusted);

// Documents by epoch: the current epoch's, the one before (usable across the rollover) and one
// published ahead. Older ones are forgotten as epochs pass.
class TopologyBook {
 public:
  // False (and nothing kept) for an epoch more than one behind `current` or a duplicate epoch
  // that is not newer than what is kept.
  bool add(Topology t, std::uint64_t current_epoch);
  // The document to route with in `epoch`: that epoch's, else the previous epoch's.
  const Topology* usable(std::uint64_t epoch) const;
  const Topology* exact(std::uint64_t epoch) const;
  void set_epoch(std::uint64_t epoch);
  std::size_t size() const { return docs_.size(); }

 private:
  std::map<std::uint64_t, Topology> docs_;
};

}  // namespace hyphae::betanet
