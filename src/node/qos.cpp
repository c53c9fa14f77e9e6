// Node::Impl's send path from the outbox to the transports: pump() admits a peer's waiting
// messages into the QoS transmit queue (admit), and drain() hands queued messages to their
// transports in QoS order — strict priority between classes, peers taking turns inside one, a peer
// whose transport has qos_busy_backlog_bytes unsent losing its turn until the transport drains.
#include <bit>

#include "node/node_impl.hpp"
#include "node/sealing.hpp"

namespace hyphae {

namespace {
// Messages admitted per waiting peer per round when room frees up (peers take turns).
constexpr std::size_t kAdmitPerTurn = 32;
}  // namespace

void Node::Impl::pump(const PeerId& peer) {
  admit(peer, std::numeric_limits<std::size_t>::max());
  drain();
}

std::size_t Node::Impl::admit(const PeerId& peer, std::size_t limit) {
  auto ps = peers.find(peer);
  if (ps == peers.end() || ps->second.sessions.empty()) return 0;
  const auto key = fairness_key(peer);
  // A busy peer's messages wait in the queue, but at most a quarter of a class each (EMERGENCY
  // excepted), so one slow or stalled peer never holds up the others; the rest wait in the outbox
  // and on_drained pumps the peer again.
  const bool busy = busy_peers.contains(key);
  std::size_t admitted = 0;
  bool turned_away = false;
  using Visit = delivery::DeliveryCore::Visit;
  delivery.visit_sendable(peer, [&](const MessageId& id, OutMsg& m, const Route& route, int p) {
    if (admitted >= limit) return Visit::stop;
    const auto cls = static_cast<qos::Priority>(p);
    if (busy && cls != qos::Priority::emergency &&
        transmit_queue.peer_depth(key, cls) >=
            std::max<std::size_t>(1, config.qos_capacity[static_cast<std::size_t>(p)] / 4))
      return Visit::next_lane;
    const auto handle = next_queue_handle++;
    auto pushed = transmit_queue.push(qos::Item{handle, key, m.wire.size()}, cls);
    if (!pushed.accepted()) {  // the class is full: the rest of this lane waits in the outbox
      turned_away = true;
      return Visit::next_lane;
    }
    m.qos_handle = handle;
    m.qos_route = route;
    queued_items.emplace(handle, id);
    ++admitted;
    if (pushed.evicted) {
      // An EMERGENCY message displaced the oldest LOW one: back to its outbox lane, not lost.
      ++qos_evictions;
      auto victim = queued_items.find(pushed.evicted->id);
      if (victim != queued_items.end()) {
        if (auto* vm = delivery.find(victim->second)) {
          vm->qos_handle = 0;
          delivery.rewind(vm->to);
          if (std::find(waiting_for_room.begin(), waiting_for_room.end(), vm->to) == waiting_for_room.end())
            waiting_for_room.push_back(vm->to);
        }
        queued_items.erase(victim);
      }
    }
    return Visit::take;
  });
  // Stopped at the per-turn limit with more to go: it waits for room like a turned-away peer.
  if (admitted >= limit && !busy) turned_away = true;
  if (turned_away &&
      std::find(waiting_for_room.begin(), waiting_for_room.end(), peer) == waiting_for_room.end())
    waiting_for_room.push_back(peer);
  return admitted;
}

void Node::Impl::drain() {
  if (draining) return;  // a send that calls back into the node must not nest a second drain
  draining = true;
  const auto ready = [this](std::uint64_t key) { return !busy_peers.contains(key); };
  for (;;) {
    while (auto item = transmit_queue.pop_if(ready)) {
      auto handle = queued_items.find(item->id);
      if (handle == queued_items.end()) continue;  // evicted meanwhile
      const MessageId id = handle->second;
      queued_items.erase(handle);
      auto* found = delivery.find(id);
      if (!found) continue;
      auto& m = *found;
      m.qos_handle = 0;
      if (!m.pending()) continue;
      const auto route = m.qos_route;
      if (!transports[route.primary.index()].transport->session(m.to)) {
        // Its session went away while it waited: routed again in this drain (another transport).
        delivery.rewind(m.to);
        if (std::find(waiting_for_room.begin(), waiting_for_room.end(), m.to) == waiting_for_room.end())
          waiting_for_room.push_back(m.to);
        continue;
      }
      transmit(id, m, route);
      if (transports[route.primary.index()].transport->backlog(m.to) > config.qos_busy_backlog_bytes)
        busy_peers.insert(item->peer);  // on_drained() makes it ready again
    }
    // Room again: the peers a full class turned away take turns to fill it.
    if (waiting_for_room.empty()) break;
    std::size_t admitted = 0;
    auto waiting = std::move(waiting_for_room);
    waiting_for_room.clear();
    for (const auto& peer : waiting) admitted += admit(peer, kAdmitPerTurn);
    if (admitted == 0) break;
  }
  draining = false;
}

bool Node::Impl::sign_and_seal(OutMsg& m) {
  auto wire = signed_sealed_wire(m);
  if (!wire) return false;
  delivery.replace_wire(m, std::move(*wire));
  m.sealed = true;
  return true;
}

std::optional<Bytes> Node::Impl::signed_sealed_wire(const OutMsg& m) {
  if (m.sealed) return m.wire;
  auto env =
      decode_envelope(m.wire, nullptr, EnvelopeLimits{config.max_message_bytes + kSealedPayloadOverhead});
  auto recipient = x25519_keys.find(m.to);
  if (recipient == x25519_keys.end())  // after a restart the cache starts empty
    if (auto key = Identity::x25519_public_of(m.to)) recipient = x25519_keys.emplace(m.to, *key).first;
  if (!env || recipient == x25519_keys.end()) {
    log->error("cannot sign and seal a message for {}: {}", m.to.to_string(),
               env ? "no sealing key" : env.error().message());
    return std::nullopt;
  }
  env->from = identity.peer_id();
  env->to = m.to;
  auto sealed = seal_payload(seal_keys, recipient->second, env->payload);
  if (!sealed) return std::nullopt;
  env->payload = std::move(*sealed);
  env->flags |= envelope_flags::sealed;
  sign_envelope(*env, identity);
  return encode_envelope(*env);
}

void Node::Impl::transmit(const MessageId& id, OutMsg& m, const Route& route) {
  const PeerId peer = m.to;
  for (const auto t : route.send) {
    auto& slot = transports[t.index()];
    const auto session = slot.transport->session(peer);
    if (!session || m.carried_on(session)) continue;
    // Over a transport whose sessions do not end at the peer itself, the envelope must prove its
    // origin and hide its payload on its own: signed and sealed, once, at the first such send.
    if (!slot.transport->capabilities().authenticated_sessions && !m.sealed && !sign_and_seal(m)) continue;
    if (auto ec = send_record(t, peer, RecordKind::data, m.wire, transport::RecordHints{m.mix_mode})) {
      // Not queued. The message keeps its place in the outbox lane. A full transport queue (the
      // BitChat mesh paces its frames) makes the peer wait for on_drained() instead of spinning; a
      // session that is going away is followed by on_session_down, which routes it again.
      if (t == route.primary) {
        delivery.rewind(peer);
        if (ec == Errc::backpressure) busy_peers.insert(fairness_key(peer));
        if (ec == Errc::too_large)
          log->error("{} refused message {} for {}: {}", slot.name, id.to_hex(), peer.to_string(),
                     ec.message());
      }
      continue;
    }
    slot.sent_durable->inc();
    const auto from = m.via;
    const auto sent = delivery.transmitted(id, m, t, session, t == route.primary, route.why);
    if (sent.failed_over) {
      ++slot.failovers_to;
      metrics
          .counter("p2p_failovers_total", "Durable messages moved to another transport",
                   {{"from", transports[from.index()].name}, {"to", slot.name}})
          .inc();
    }
    if (sent.selection_changed) count_selection(t, route.why);
  }
}

}  // namespace hyphae
