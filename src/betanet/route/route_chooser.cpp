#include "betanet/route/route_chooser.hpp"

#include <sodium.h>

#include <algorithm>
#include <map>

namespace hyphae::betanet {

namespace {

void put_u32be(Bytes& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}

// Uniform in [0, n) from the output's expansion, rejection sampled.
std::size_t pick(const vrf::Output& output, std::uint32_t hop, std::size_t n) {
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (std::uint32_t draw = 0;; ++draw) {
    Bytes input(output.begin(), output.end());
    put_u32be(input, hop);
    put_u32be(input, draw);
    std::array<std::uint8_t, 64> h{};
    crypto_hash_sha512(h.data(), input.data(), input.size());
    for (std::size_t at = 0; at + 8 <= h.size(); at += 8) {
      std::uint64_t v = 0;
      for (std::size_t i = 0; i < 8; ++i) v = v << 8 | h[at + i];
      if (v < limit) return static_cast<std::size_t>(v % n);
    }
  }
}

bool outside(const MixDescriptor& m, const RouteRequest& r) {
  return (r.source_group.empty() || m.group != r.source_group) &&
         (r.destination_group.empty() || m.group != r.destination_group);
}

// How many distinct hop sets select_mixes can give (capped at 2^32): per layer, the number of
// ways to pick that layer's positions among its mixes.
std::uint64_t possible_sets(const Topology& topology, std::size_t count) {
  std::uint32_t layers = 0;
  std::map<std::uint32_t, std::uint64_t> size;
  for (const auto& m : topology.mixes) {
    if (m.layer == kEndpointLayer) continue;
    layers = std::max(layers, m.layer);
    ++size[m.layer];
  }
  std::map<std::uint32_t, std::uint64_t> positions;
  for (std::uint32_t i = 0; i < count; ++i) ++positions[layers <= 1 ? 0 : i % layers + 1];
  std::uint64_t total = 1;
  for (const auto& [layer, k] : positions) {
    std::uint64_t n = 0;
    if (layer == 0)
      for (const auto& [l, c] : size) n += c;
    else
      n = size[layer];
    // C(n, k), small numbers
    std::uint64_t c = 1;
    for (std::uint64_t j = 0; j < k && j < n; ++j) c = c * (n - j) / (j + 1);
    if (k > n) c = 0;
    total = std::min<std::uint64_t>(total * c, std::uint64_t{1} << 32);
  }
  return total;
}

}  // namespace

std::optional<PrivacyMode> parse_privacy_mode(std::string_view text) {
  if (text == "strict") return PrivacyMode::strict;
  if (text == "balanced") return PrivacyMode::balanced;
  if (text == "performance") return PrivacyMode::performance;
  return std::nullopt;
}

const char* to_string(PrivacyMode m) {
  switch (m) {
    case PrivacyMode::strict:
      return "strict";
    case PrivacyMode::balanced:
      return "balanced";
    case PrivacyMode::performance:
      return "performance";
  }
  return "?";
}

std::size_t min_mixes(PrivacyMode m) {
  return m == PrivacyMode::strict ? 3 : m == PrivacyMode::balanced ? 2 : 0;
}

std::array<std::uint8_t, 32> route_seed(const Topology& topology, const RouteRequest& request) {
  std::array<std::uint8_t, 32> beacon = topology.beacon;
  if (sodium_is_zero(beacon.data(), beacon.size())) {
    Bytes fallback(as_bytes("bn-fallback").begin(), as_bytes("bn-fallback").end());
    fallback.insert(fallback.end(), topology.signer.bytes().begin(), topology.signer.bytes().end());
    for (int s = 56; s >= 0; s -= 8) fallback.push_back(static_cast<std::uint8_t>(topology.epoch >> s));
    crypto_hash_sha256(beacon.data(), fallback.data(), fallback.size());
  }
  Bytes input(beacon.begin(), beacon.end());
  input.insert(input.end(), request.source.bytes().begin(), request.source.bytes().end());
  input.insert(input.end(), request.destination.bytes().begin(), request.destination.bytes().end());
  input.insert(input.end(), request.stream_nonce.begin(), request.stream_nonce.end());
  std::array<std::uint8_t, 32> seed{};
  crypto_hash_sha256(seed.data(), input.data(), input.size());
  return seed;
}

std::vector<const MixDescriptor*> select_mixes(const Topology& topology, const vrf::Output& output,
                                               std::size_t count) {
  std::uint32_t layers = 0;
  for (const auto& m : topology.mixes) layers = std::max(layers, m.layer);
  std::vector<const MixDescriptor*> route;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::vector<const MixDescriptor*> candidates;
    const std::uint32_t layer = layers <= 1 ? 0 : i % layers + 1;
    for (const auto& m : topology.mixes) {
      if (m.layer == kEndpointLayer) continue;  // endpoints are destinations, never hops
      if (layer != 0 && m.layer != layer) continue;
      if (std::find(route.begin(), route.end(), &m) != route.end()) continue;
      candidates.push_back(&m);
    }
    if (candidates.empty()) return {};
    route.push_back(candidates[pick(output, i, candidates.size())]);
  }
  return route;
}

RouteChooser::RouteChooser(const vrf::Seed& key) : key_(key), public_key_(vrf::public_key(key)) {}

RouteChooser::~RouteChooser() {
  sodium_memzero(key_.data(), key_.size());
}

std::expected<ChosenRoute, std::string> RouteChooser::choose(const Topology& topology,
                                                             const RouteRequest& request) {
  if (request.mixes == 0 || request.mixes > kMaxMixes)
    return std::unexpected("a route crosses 1 to " + std::to_string(kMaxMixes) + " mixes");
  ChosenRoute route;
  route.seed = route_seed(topology, request);
  const Triple triple{request.source, request.destination, topology.epoch};
  if (!history_.contains(triple)) {
    history_order_.push_back(triple);
    while (history_order_.size() > 4096) {
      history_.erase(history_order_.front());
      history_order_.pop_front();
    }
  }
  auto& sets = history_[triple];
  // A small network has fewer than 8 hop sets: once all of them were tried, reuse is allowed
  // (without this, every route there would cost 64 VRF proofs).
  const std::uint64_t possible = possible_sets(topology, request.mixes);
  std::optional<ChosenRoute> reused;  // the first acceptable route whose set was used before
  for (std::uint32_t attempt = 0; attempt < 64; ++attempt) {
    Bytes alpha(route.seed.begin(), route.seed.end());
    put_u32be(alpha, attempt);
    auto proof = vrf::prove(key_, alpha);
    if (!proof) return std::unexpected(vrf::to_string(proof.error()));
    const auto output = *vrf::proof_to_hash(*proof);
    auto mixes = select_mixes(topology, output, request.mixes);
    if (mixes.empty()) return std::unexpected("the topology has too few mixes for such a route");
    if (std::none_of(mixes.begin(), mixes.end(),
                     [&](const MixDescriptor* m) { return outside(*m, request); }))
      continue;
    std::vector<sphinx::NodeId> ids;
    for (const auto* m : mixes) ids.push_back(m->node_id);
    std::sort(ids.begin(), ids.end());
    SetKey set{};
    crypto_generichash(set.data(), set.size(), ids.front().data(), ids.size() * 32, nullptr, 0);
    ChosenRoute candidate{std::move(mixes), route.seed, attempt, *proof, output};
    const bool seen = std::find(sets.begin(), sets.end(), set) != sets.end();
    if (seen && sets.size() < std::min<std::uint64_t>(kDistinctSetsBeforeReuse, possible)) {
      if (!reused) reused = candidate;
      continue;
    }
    if (!seen) sets.push_back(set);
    if (sets.size() > kDistinctSetsBeforeReuse * 4) sets.erase(sets.begin());
    return candidate;
  }
  // Fewer than 8 distinct acceptable sets exist: reuse rather than fail.
  if (reused) return *reused;
  return std::unexpected("no route with a mix outside both ends' groups");
}

bool RouteChooser::verify(const vrf::PublicKey& sender, const Topology& topology, const RouteRequest& request,
                          const ChosenRoute& route) {
  if (route.seed != route_seed(topology, request)) return false;
  Bytes alpha(route.seed.begin(), route.seed.end());
  put_u32be(alpha, route.attempt);
  const auto output = vrf::verify(sender, route.proof, alpha);
  if (!output || *output != route.output) return false;
  return select_mixes(topology, *output, route.mixes.size()) == route.mixes;
}

}  // namespace hyphae::betanet
