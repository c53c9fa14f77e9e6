// RouteChooser: picks the mixes a private message crosses with a verifiable random function, so a
// sender cannot steer its traffic onto chosen mixes and anyone holding the proof can check that the
// route is the one the VRF gave.
//
//   seed  = SHA-256(beacon || source PeerId || destination PeerId || stream nonce (16 bytes))
//           beacon: the topology document's per-epoch value; when the registry published none (all
//           zero), SHA-256("bn-fallback" || registry PeerId || u64be(epoch)) — Betanet 1.1 section
//           7.2's fallback with the registry's identity in place of the HTX key, which a route
//           chosen before any link exists cannot know.
//   alpha = seed || u32be(attempt);   (proof, output) = ECVRF(sender's Ed25519 key, alpha)
//   hop i = a uniform pick (SHA-512(output || u32be(i) || u32be(draw)) as 64-bit numbers, rejection
//           sampled) among the mixes of layer (i mod L) + 1 not already on the route, where L is the
//           number of layers the topology has (all mixes when it has one layer).
//
// A route is redrawn (attempt + 1) when no hop lies outside both ends' groups, or when its exact hop
// set was already used for this (source, destination, epoch) and fewer than 8 distinct sets have
// been tried (fewer than all possible sets, in a network that has fewer than 8). Bounds: history for at most 4096 (source, destination, epoch) triples, oldest
// forgotten first; at most 64 attempts per route.
// Thread-safety: none (one owner). Ownership: owns the VRF key (wiped on destruction).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <expected>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "betanet/directory/directory.hpp"
#include "crypto/vrf/ecvrf.hpp"

namespace hyphae::betanet {

enum class PrivacyMode { strict, balanced, performance };
std::optional<PrivacyMode> parse_privacy_mode(std::string_view text);
const char* to_string(PrivacyMode m);
// Mixes a message crosses at least: strict 3, balanced 2, performance 0 (no mixnet unless the
// recipient requires it).
std::size_t min_mixes(PrivacyMode m);
inline constexpr std::size_t kMaxMixes = sphinx::kMaxHops - 1;  // the recipient is the last hop
inline constexpr std::size_t kDistinctSetsBeforeReuse = 8;

struct RouteRequest {
  PeerId source, destination;
  std::array<std::uint8_t, 16> stream_nonce{};
  std::string source_group, destination_group;  // empty: unknown (any hop is outside it)
  std::size_t mixes = 3;
};

struct ChosenRoute {
  std::vector<const MixDescriptor*> mixes;  // point into the topology
  std::array<std::uint8_t, 32> seed{};
  std::uint32_t attempt = 0;
  vrf::Proof proof{};
  vrf::Output output{};
};

std::array<std::uint8_t, 32> route_seed(const Topology& topology, const RouteRequest& request);

class RouteChooser {
 public:
  explicit RouteChooser(const vrf::Seed& key);
  ~RouteChooser();
  RouteChooser(const RouteChooser&) = delete;
  RouteChooser& operator=(const RouteChooser&) = delete;

  const vrf::PublicKey& public_key() const { return public_key_; }
  std::expected<ChosenRoute, std::string> choose(const Topology& topology, const RouteRequest& request);
  // Anyone's check of a route: the proof holds for the sender's key and the request's seed, and the
  // mixes are the ones its output selects.
  static bool verify(const vrf::PublicKey& sender, const Topology& topology, const RouteRequest& request,
                     const ChosenRoute& route);
  std::size_t remembered() const { return history_.size(); }

 private:
  using SetKey = std::array<std::uint8_t, 32>;
  struct Triple {
    PeerId source, destination;
    std::uint64_t epoch;
    auto operator<=>(const Triple&) const = default;
  };
  vrf::Seed key_;
  vrf::PublicKey public_key_;
  std::map<Triple, std::vector<SetKey>> history_;
  std::deque<Triple> history_order_;
};

// The mixes an output selects (empty when the topology cannot give `count` distinct mixes).
std::vector<const MixDescriptor*> select_mixes(const Topology& topology, const vrf::Output& output,
                                               std::size_t count);

}  // namespace hyphae::betanet
