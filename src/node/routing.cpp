// Node::Impl's routing table and connection pool: direct routes follow the sessions, cached
// routes come from the store, the pool caps the live links (max_connections) and closes idle ones
// (connection_idle_timeout_ms), after which a peer is dialed again only when a message waits.

#include "node/node_impl.hpp"

namespace hyphae {

bool Node::Impl::admit_session(TransportIndex transport, const PeerId& peer) {
  auto& slot = this->slot(transport);
  auto admission = pool.admit(peer, slot.name, now_ms());
  if (!admission.admitted) {
    log->warn("refusing a {} session with {}: connection limit reached (max_connections {})", slot.name,
              peer.to_string(), config.max_connections);
    meters.err_link->inc();
    slot.transport->close(
        peer, {transport::CloseCode::evicted,
               "connection limit reached (max_connections " + std::to_string(config.max_connections) + ")"});
    return false;
  }
  if (admission.evict) {
    const auto& [victim, victim_transport] = *admission.evict;
    const auto v = find_transport(victim_transport);
    if (v) {
      log->info("closing the idle {} session to {} to make room for {}", victim_transport, victim.to_string(),
                peer.to_string());
      this->slot(v).transport->close(
          victim, {transport::CloseCode::evicted, "the least recently used idle link, the pool is full"});
    }
  }
  return true;
}

void Node::Impl::release_session(TransportIndex transport, const PeerId& peer) {
  const auto& name = slot(transport).name;
  pool.release(peer, name);
  routing.remove_via(peer, name);
}

bool Node::Impl::has_pending(const PeerId& peer) const {
  return delivery.has_pending(peer);
}

void Node::Impl::forget_strangers() {
  // A peer that dialed us, that the app never added and has nothing waiting for it leaves no trace once
  // its sessions are gone: fresh identities cost a table entry only while they are connected.
  for (auto it = peers.begin(); it != peers.end();) {
    const auto& [peer, state] = *it;
    if (state.sessions.empty() && !state.known && !has_pending(peer)) {
      delivery.forget_peer(peer);
      ++strangers_forgotten;
      it = peers.erase(it);
    } else {
      ++it;
    }
  }
}

void Node::Impl::tick_routing(std::uint64_t now) {
  if (now < last_pool_tick_ms + 1000) return;
  last_pool_tick_ms = now;
  forget_strangers();
  routing.expire(now);
  // Activity: a session whose record counters moved since the last look carried traffic.
  for (std::size_t i = 0; i < transports.size(); ++i) {
    auto& slot = transports[i];
    for (const auto& peer : slot.transport->peers_with_sessions()) {
      auto info = slot.transport->session_info(peer);
      if (!info) continue;
      auto& state = peers[peer];
      if (is_relay_transport(TransportIndex(i)) && info->next_hop)  // relayed: a server route
        routing.add_server(peer, *info->next_hop, slot.name, now);
      else if (info->hops > 1 && info->next_hop)  // a multi-hop session: its route, refreshed
        routing.add_mesh(peer, *info->next_hop, slot.name, info->hops, now);
      const std::uint64_t records = info->records_in + info->records_out;
      // Links a reservation rides on stay up while it is kept (on either side).
      const bool relay_link = (relay_transport && relay_transport->wants_relay(peer)) ||
                              (relay_core && relay_core->has_reservation(peer, clock->monotonic_ms()));
      if (records != state.records_seen[i] || has_pending(peer) || relay_link)
        pool.touch(peer, slot.name, now);
      state.records_seen[i] = records;
    }
  }
  for (const auto& [peer, transport] : pool.idle(now)) {
    const auto i = find_transport(transport);
    if (!i) continue;
    log->info("closing the {} session to {}: idle for {} ms", transport, peer.to_string(),
              config.connection_idle_timeout_ms);
    slot(i).transport->close(
        peer, {transport::CloseCode::idle, std::to_string(config.connection_idle_timeout_ms) + " ms"});
  }
}

std::vector<RouteView> Node::routes() const {
  std::vector<RouteView> out;
  for (const auto& r : impl_->routing.all(now_ms()))
    out.push_back(RouteView{r.destination, r.next_hop, r.transport, std::string(router::to_string(r.kind)),
                            r.hops, r.updated_ms, r.expires_ms});
  return out;
}

}  // namespace hyphae
