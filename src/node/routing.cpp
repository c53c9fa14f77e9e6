// Node::Impl's routing table and connection pool: direct routes follow the mesh links, cached
// routes come from the store, the pool caps the live links (max_connections) and closes idle ones
// (connection_idle_timeout_ms), after which a peer is dialed again only when a message waits.
#include <nlohmann/json.hpp>

#include "node/node_impl.hpp"

namespace hyphae {

bool Node::Impl::admit_link(const LinkPtr& link) {
  auto admission = pool.admit(link->remote(), kDirectTransport, now_ms());
  if (!admission.admitted) {
    log->warn("refusing link from {}: connection limit reached (max_connections {})",
              link->remote().to_string(), config.max_connections);
    meters.err_link->inc();
    link->close("connection limit reached (max_connections " + std::to_string(config.max_connections) + ")");
    return false;
  }
  if (admission.evict) {
    auto it = peers.find(admission.evict->first);
    if (it != peers.end() && it->second.link) {
      log->info("closing idle link to {} to make room for {}", admission.evict->first.to_string(),
                link->remote().to_string());
      auto victim = it->second.link;
      victim->close("evicted: the least recently used idle link, the pool is full");
    }
  }
  return true;
}

void Node::Impl::release_link(const LinkPtr& link) {
  pool.release(link->remote(), kDirectTransport);
  routing.remove_direct(link->remote(), kDirectTransport);
}

bool Node::Impl::has_pending(const PeerId& peer) const {
  auto q = queues.find(peer);
  if (q == queues.end()) return false;
  for (const auto& lane : q->second.lanes)
    for (const auto& id : lane.ids) {
      auto it = outbox.find(id);
      if (it != outbox.end() &&
          (it->second.state == store::OutboxState::queued || it->second.state == store::OutboxState::sent))
        return true;
    }
  return false;
}

bool Node::Impl::should_dial(const PeerId& peer, const PeerState& state, std::uint64_t now) const {
  if (state.link || state.dialing || state.addresses.empty() || now < state.next_dial_ms) return false;
  // With idle trimming, links are made on demand: only for a peer that has something waiting.
  return config.connection_idle_timeout_ms == 0 || has_pending(peer);
}

void Node::Impl::tick_routing(std::uint64_t now) {
  if (now < last_pool_tick_ms + 1000) return;
  last_pool_tick_ms = now;
  routing.expire(now);
  // Activity: a link whose record counters moved since the last look carried traffic.
  for (auto& [peer, state] : peers) {
    if (!state.link || !state.link->established()) continue;
    const auto& c = state.link->counters();
    const std::uint64_t records = c.records_in + c.records_out;
    if (records != state.link_records_seen || has_pending(peer)) pool.touch(peer, kDirectTransport, now);
    state.link_records_seen = records;
  }
  for (const auto& [peer, transport] : pool.idle(now)) {
    auto it = peers.find(peer);
    if (it == peers.end() || !it->second.link) continue;
    log->info("closing link to {}: idle for {} ms", peer.to_string(), config.connection_idle_timeout_ms);
    auto link = it->second.link;
    link->close("idle for " + std::to_string(config.connection_idle_timeout_ms) + " ms");
  }
}

nlohmann::json Node::routes_json() const {
  auto out = nlohmann::json::array();
  for (const auto& r : impl_->routing.all(now_ms())) {
    nlohmann::json j = {{"destination", r.destination.to_string()},
                        {"next_hop", r.next_hop.to_string()},
                        {"transport", r.transport},
                        {"kind", std::string(router::to_string(r.kind))},
                        {"hops", r.hops},
                        {"updated_ms", r.updated_ms}};
    if (r.expires_ms) j["expires_ms"] = r.expires_ms;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace hyphae
