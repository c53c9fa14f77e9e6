#include "registry/mix_registry.hpp"

#include <sodium.h>

#include <charconv>

#include "util/json_util.hpp"

namespace hyphae::registry {

namespace {

RegistryReply error(int status, const std::string& message) {
  return {status, nlohmann::json{{"error", message}}};
}

std::optional<std::uint64_t> query_epoch(std::string_view query) {
  for (std::size_t at = 0; at < query.size();) {
    const auto end = std::min(query.find('&', at), query.size());
    const auto pair = query.substr(at, end - at);
    if (pair.starts_with("epoch=")) {
      std::uint64_t v = 0;
      const auto text = pair.substr(6);
      const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
      if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return std::nullopt;
      return v;
    }
    at = end + 1;
  }
  return std::nullopt;
}

}  // namespace

MixRegistry::MixRegistry(Identity identity, MixRegistryOptions options, const Clock& clock)
    : identity_(std::move(identity)), options_(options), clock_(clock) {
  // A secret only this registry can make, the same after a restart: a hash of its deterministic
  // signature over a fixed label.
  const auto label = as_bytes("hyphae-mix-beacon-key");
  auto sig = identity_.sign(label);
  crypto_generichash(beacon_key_.data(), beacon_key_.size(), sig.data(), sig.size(), nullptr, 0);
  sodium_memzero(sig.data(), sig.size());
}

MixRegistry::~MixRegistry() {
  sodium_memzero(beacon_key_.data(), beacon_key_.size());
}

std::uint64_t MixRegistry::current_epoch() const {
  return clock_.wall_ms() / std::max<std::uint64_t>(1, options_.epoch_ms);
}

std::array<std::uint8_t, 32> MixRegistry::beacon(const std::string& network, std::uint64_t epoch) const {
  Bytes input(network.begin(), network.end());
  for (int s = 56; s >= 0; s -= 8) input.push_back(static_cast<std::uint8_t>(epoch >> s));
  std::array<std::uint8_t, 32> out{};
  crypto_generichash(out.data(), out.size(), input.data(), input.size(), beacon_key_.data(),
                     beacon_key_.size());
  return out;
}

void MixRegistry::forget_stale(std::map<PeerId, betanet::MixDescriptor>& mixes, std::uint64_t epoch) {
  for (auto it = mixes.begin(); it != mixes.end();) {
    std::uint64_t newest = 0;
    for (const auto& k : it->second.keys) newest = std::max(newest, k.epoch);
    if (newest + 1 < epoch)
      it = mixes.erase(it);
    else
      ++it;
  }
}

RegistryReply MixRegistry::publish(const std::string& network, const std::string& body) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_object() || !json.contains("envelope_base64") || !json["envelope_base64"].is_string())
    return error(400, "'envelope_base64' is required");
  const auto envelope = base64_decode(json["envelope_base64"].get<std::string>());
  if (!envelope) return error(400, "'envelope_base64' is not base64");
  auto d = betanet::open_descriptor(*envelope);
  if (!d) return error(400, d.error());
  const auto epoch = current_epoch();
  std::uint64_t newest = 0;
  for (const auto& k : d->keys) newest = std::max(newest, k.epoch);
  if (newest + 1 < epoch) return error(400, "the descriptor holds no key for the current epoch or later");
  std::lock_guard lock(mutex_);
  auto& mixes = networks_[network];
  forget_stale(mixes, epoch);
  auto it = mixes.find(d->peer);
  if (it != mixes.end() && it->second.published_ms >= d->published_ms)
    return error(409, "a descriptor as new as this one is held");
  if (it == mixes.end() && mixes.size() >= options_.max_mixes) return error(429, "the mix directory is full");
  const auto peer = d->peer;
  mixes[peer] = std::move(*d);
  std::erase_if(cache_, [&](const auto& entry) { return entry.first.first == network; });
  return {200, nlohmann::json{{"accepted", true}, {"peer_id", peer.to_string()}, {"epoch", epoch}}};
}

RegistryReply MixRegistry::topology(const std::string& network, std::string_view query) {
  const auto current = current_epoch();
  std::uint64_t epoch = current;
  if (query.find("epoch=") != std::string_view::npos) {
    const auto asked = query_epoch(query);
    if (!asked) return error(400, "bad epoch");
    epoch = *asked;
  }
  if (epoch + 1 < current || epoch > current + 1)
    return error(404, "topologies are served for the previous, current and next epoch only");
  std::lock_guard lock(mutex_);
  std::erase_if(cache_, [&](const auto& entry) { return entry.first.second + 1 < current; });
  const auto key = std::pair{network, epoch};
  auto cached = cache_.find(key);
  if (cached == cache_.end()) {
    std::vector<Bytes> envelopes;
    auto& mixes = networks_[network];
    forget_stale(mixes, current);
    for (const auto& [peer, d] : mixes)
      if (d.key_for(epoch)) envelopes.push_back(d.envelope);
    const auto doc =
        betanet::sign_topology(identity_, epoch, beacon(network, epoch), clock_.wall_ms(), envelopes);
    cached = cache_.emplace(key, base64_encode(doc)).first;
  }
  return {200, nlohmann::json{{"epoch", epoch},
                              {"registry", identity_.peer_id().to_string()},
                              {"envelope_base64", cached->second}}};
}

}  // namespace hyphae::registry
