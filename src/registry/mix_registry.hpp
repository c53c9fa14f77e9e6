// MixRegistry: the registry's mix directory. Mixes publish their signed descriptors (each holding
// routing keys for the coming key epochs) and nodes fetch the topology document of an epoch: the
// descriptors holding a key for it, with a per-epoch beacon, signed by the registry's own identity
// (docs/betanet.md, "Directory"). Descriptors are soft state, kept in memory: a mix publishes again
// every epoch, and one whose newest key is older than the previous epoch is dropped.
//   POST /network/{networkId}/mixes          {"envelope_base64": descriptor envelope}
//   GET  /network/{networkId}/mix-topology   ?epoch=N (default: the current one)
//        -> {"epoch", "registry", "envelope_base64"}
// Epochs are wall-clock based: epoch = floor(unix ms / epoch_ms), the same on every machine.
// The beacon is BLAKE2b keyed by a secret derived from the registry's key, over the network and
// epoch: unpredictable to anyone else and the same across restarts.
// Bounds: max_mixes per network (a new mix is refused past it; a known one may update), a
// descriptor that is not newer than the one held is refused (409).
// Thread-safety: every method may be called from several threads (one mutex). Ownership: values.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "betanet/directory/directory.hpp"
#include "core/clock.hpp"
#include "core/identity.hpp"
#include "registry/registry_service.hpp"

namespace hyphae::registry {

struct MixRegistryOptions {
  std::uint64_t epoch_ms = 3'600'000;
  std::size_t max_mixes = 1024;  // per network
};

class MixRegistry {
 public:
  MixRegistry(Identity identity, MixRegistryOptions options, const Clock& clock);
  ~MixRegistry();
  RegistryReply publish(const std::string& network, const std::string& body);
  RegistryReply topology(const std::string& network, std::string_view query);
  std::uint64_t current_epoch() const;
  const PeerId& peer_id() const { return identity_.peer_id(); }

 private:
  std::array<std::uint8_t, 32> beacon(const std::string& network, std::uint64_t epoch) const;
  void forget_stale(std::map<PeerId, betanet::MixDescriptor>& mixes, std::uint64_t epoch);

  Identity identity_;
  MixRegistryOptions options_;
  const Clock& clock_;
  std::array<std::uint8_t, 32> beacon_key_{};
  std::mutex mutex_;
  std::map<std::string, std::map<PeerId, betanet::MixDescriptor>> networks_;
  std::map<std::pair<std::string, std::uint64_t>, std::string> cache_;  // signed topologies, base64
};

}  // namespace hyphae::registry
