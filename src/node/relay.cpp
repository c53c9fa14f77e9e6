// Node::Impl's relaying (docs/discovery.md, "Relays"): relay messages on the direct links, the
// carrier the relay transport sends through, the relay side of a node with role relay or
// super_peer (RelayCore), reservations at the relays this node meets, and those relays listed as
// coordinators in its own record.
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "node/node_impl.hpp"

namespace hyphae {

using relay::RelayMessage;
using relay::RelayStatus;
using relay::RelayType;

void Node::Impl::init_relay() {
  if (config.role == "relay" || config.role == "super_peer")
    relay_core = std::make_unique<relay::RelayCore>(
        config.relay_limits, [this](const PeerId& p) { return carrier_of(p).valid(); },
        [this](const PeerId& p) -> std::string {
          // The IP its direct link comes from: the far end of a circuit punches toward it.
          const auto t = carrier_of(p);
          if (!t) return {};
          auto info = slot(t).transport->session_info(p);
          std::string host;
          std::uint16_t port = 0;
          if (!info || !parse_address(info->remote_address, host, port)) return {};
          return host;
        });
  if (relay_transport) {
    relay_transport->on_reservations_changed = [this] { own_relays_changed(); };
    // A search that found the peer behind a relay is SIGNALING while the circuit opens.
    relay_transport->on_circuit_requested = [this](const PeerId& p) { chain.signaling(p); };
  }
  load_held();
}

bool Node::Impl::is_relay_transport(TransportIndex t) const {
  return relay_transport && t.valid() && slot(t).transport.get() == relay_transport;
}

Node::Impl::TransportIndex Node::Impl::carrier_of(const PeerId& peer) const {
  for (std::size_t i = 0; i < transports.size(); ++i)
    if (transports[i].transport->type() == "tcp" && transports[i].transport->session(peer))
      return TransportIndex(i);
  return TransportIndex::none();
}

bool Node::Impl::carrier_up(const PeerId& relay) const {
  return carrier_of(relay).valid();
}

std::error_code Node::Impl::send_to_relay(const PeerId& relay, ByteView message) {
  const auto t = carrier_of(relay);
  if (!t) return make_error_code(Errc::no_link);
  return slot(t).transport->send(relay, RecordKind::relay, message);
}

std::size_t Node::Impl::carrier_backlog(const PeerId& relay) const {
  const auto t = carrier_of(relay);
  return t ? slot(t).transport->backlog(relay) : 0;
}

void Node::Impl::want_carrier(const PeerId& relay) {
  if (carrier_of(relay)) return;
  const auto until = clock->monotonic_ms() + 10'000;
  if (carriers_wanted.size() < kMaxCarriersWanted || carriers_wanted.contains(relay))
    carriers_wanted[relay] = until;
  if (auto record = held_record(relay)) give_record_addresses(*record);
  for (auto& s : transports)
    if (s.transport->type() == "tcp") s.transport->connect_soon(relay);
}

void Node::Impl::send_relay_out(relay::RelayCore::Out& out) {
  for (auto& s : out) {
    const auto t = carrier_of(s.to);
    if (!t || slot(t).transport->send(s.to, RecordKind::relay, s.message)) ++relay_dropped;
  }
  out.clear();
}

void Node::Impl::on_relay(TransportIndex t, const PeerId& from, ByteView body) {
  auto m = relay::decode_relay_message(body, config.max_message_bytes + 4096);
  if (!m) {
    ++relay_dropped;
    log->warn("closing the {} session to {}: malformed relay message", slot(t).name, from.to_string());
    slot(t).transport->close(from, {transport::CloseCode::malformed, "relay message"});
    return;
  }
  if (slot(t).transport->type() != "tcp") {
    ++relay_dropped;  // relay messages travel on direct links only
    return;
  }
  if (m->type == RelayType::store) return on_store(t, from, *m);
  if (m->type == RelayType::store_result) return on_store_result(from, *m);
  if (!relay::to_relay(m->type)) {
    if (relay_transport) relay_transport->on_relay_message(from, *m);
    return;
  }
  if (!relay_core) {
    // Not a relay: say so to a reservation or a circuit request, drop the rest.
    RelayMessage no;
    no.status = RelayStatus::not_a_relay;
    if (m->type == RelayType::reserve) {
      no.type = RelayType::refused;
    } else if (m->type == RelayType::connect) {
      no.type = RelayType::closed;
      no.circuit = m->circuit;
    } else {
      ++relay_dropped;
      return;
    }
    slot(t).transport->send(from, RecordKind::relay, encode_relay_message(no));
    return;
  }
  relay_core->on_message(from, *m, clock->monotonic_ms(), relay_out);
  send_relay_out(relay_out);
  if (m->type != RelayType::data) return;
  // Flow control: while the other end's link holds a lot unsent, stop reading from this end.
  const PeerId* dest = relay_core->other_end(from, m->circuit);
  if (!dest) return;
  const auto dt = carrier_of(*dest);
  if (!dt || slot(dt).transport->backlog(*dest) <= kRelayBacklogBytes) return;
  auto& paused = paused_for[*dest];
  if (std::find(paused.begin(), paused.end(), from) != paused.end()) return;
  paused.push_back(from);
  slot(t).transport->pause_receiving(from, true);
}

void Node::Impl::carrier_drained(const PeerId& peer) {
  auto it = paused_for.find(peer);
  if (it != paused_for.end()) {
    for (const auto& source : it->second) {
      const auto t = carrier_of(source);
      // A source the inbox holds back stays paused until the inbox lets it go.
      const bool inbox_held = std::any_of(receive_paused.begin(), receive_paused.end(),
                                          [&](const auto& p) { return p.second == source; });
      if (t && !inbox_held) slot(t).transport->pause_receiving(source, false);
    }
    paused_for.erase(it);
  }
  if (relay_transport) relay_transport->on_carrier_drained(peer);
}

void Node::Impl::carrier_session_up(TransportIndex t, const PeerId& peer) {
  if (slot(t).transport->type() != "tcp") return;
  if (relay_transport) relay_transport->on_carrier_up(peer);
  hand_over_held(peer);  // messages held for it while it was away
}

void Node::Impl::carrier_session_down(TransportIndex t, const PeerId& peer) {
  if (slot(t).transport->type() != "tcp" || carrier_of(peer)) return;  // another direct link remains
  held_link_down(peer);
  if (relay_core) {
    relay_core->on_peer_down(peer, relay_out);
    send_relay_out(relay_out);
  }
  if (auto it = paused_for.find(peer); it != paused_for.end()) carrier_drained(peer);
  if (relay_transport) relay_transport->on_carrier_down(peer);
}

void Node::Impl::tick_relay(std::uint64_t now) {
  if (now < last_relay_tick_ms + 250) return;
  last_relay_tick_ms = now;
  const auto mono = clock->monotonic_ms();
  std::erase_if(carriers_wanted, [&](const auto& w) { return w.second <= mono; });
  tick_punch(mono);
  if (relay_core) {
    relay_core->tick(clock->monotonic_ms(), relay_out);
    send_relay_out(relay_out);
  }
  if (mono >= last_held_expiry_ms + kHeldExpiryIntervalMs) {
    last_held_expiry_ms = mono;
    expire_held();
    std::erase_if(handed_to_relay, [&](const auto& h) {
      const auto* m = delivery.find(h.first);
      return !m || !m->pending();
    });
  }
}

void Node::Impl::tick_punch(std::uint64_t mono) {
  if (!relay_transport || !config.hole_punching) return;
  const auto relayed = relay_transport->peers_with_sessions();
  std::erase_if(punches, [&](const auto& p) {
    return std::find(relayed.begin(), relayed.end(), p.first) == relayed.end();
  });
  for (const auto& peer : relayed) {
    if (carrier_of(peer)) continue;  // direct already
    auto& punch = punches[peer];
    if (punch.attempts >= kMaxPunchAttempts || mono < punch.next_ms) continue;
    // Where to: the IP the relay saw its link come from, and the port its record says it listens on
    // (masquerading NATs keep the source port of a socket bound to the listening port).
    const auto ip = relay_transport->observed_address(peer);
    const auto record = held_record(peer);
    if (!ip || !record) continue;
    std::uint16_t port = 0;
    for (const auto& a : dialable_addresses(*record)) {
      std::string host;
      if (parse_address(a, host, port)) break;
    }
    if (!port) continue;
    TransportIndex tcp = TransportIndex::none();
    for (std::size_t i = 0; i < transports.size() && !tcp; ++i)
      if (transports[i].transport->type() == "tcp" && transports[i].transport->listen_port())
        tcp = TransportIndex(i);
    if (!tcp) return;
    const std::string target = ip->find(':') != std::string::npos ? "[" + *ip + "]:" + std::to_string(port)
                                                                  : *ip + ":" + std::to_string(port);
    if (slot(tcp).transport->punch(peer, target)) continue;
    ++punch.attempts;
    punch.next_ms = mono + kPunchRetryMs;
    ++punch_attempts;
    log->info("hole punching to {} at {} (attempt {})", peer.to_string(), target, punch.attempts);
  }
}

void Node::Impl::consider_relay(const discovery::PeerRecord& record) {
  if (!relay_transport || config.relay_reservations == 0 || relay_core) return;  // relays do not reserve
  if (record.role != discovery::PeerRole::relay && record.role != discovery::PeerRole::super_peer) return;
  if (relay_transport->want_relay(record.peer))
    log->info("keeping a relay reservation at {} ({})", record.peer.to_string(),
              record.role == discovery::PeerRole::relay ? "relay" : "super peer");
}

void Node::Impl::give_relays(const PeerId& peer, const std::vector<PeerId>& relays) {
  if (!relay_transport || relays.empty()) return;
  std::vector<std::string> text;
  for (const auto& r : relays)
    if (r != identity.peer_id() && r != peer) text.push_back(r.to_string());
  if (!text.empty()) relay_transport->add_addresses(peer, text);
}

void Node::Impl::own_relays_changed() {
  // The record lists the relays holding a reservation: signed again, pushed to every neighbour and
  // announced, so whoever looks this node up finds the way in.
  own_record_expires_ms = 0;
  for (std::size_t i = 0; i < transports.size(); ++i) {
    if (transports[i].transport->type() != "tcp") continue;
    for (const auto& peer : transports[i].transport->peers_with_sessions())
      push_own_record(TransportIndex(i), peer);
  }
  next_announce_ms = 0;
}

RelayView Node::relay_view() const {
  impl_->assert_on_strand();
  RelayView v;
  const auto& i = *impl_;
  if (i.relay_core) {
    v.serving = true;
    v.stats = i.relay_core->stats();
  }
  v.stats.dropped += i.relay_dropped;
  v.held_messages = i.held_count;
  v.held_stored = i.held_stored;
  v.held_delivered = i.held_delivered;
  v.held_refused = i.held_refused;
  v.held_at_relays = i.held_at_relays;
  v.punch_attempts = i.punch_attempts;
  v.punch_successes = i.punch_successes;
  if (i.relay_transport) v.reserved_at = i.relay_transport->reserved_relays();
  return v;
}

}  // namespace hyphae
