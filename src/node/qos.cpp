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

namespace {
// Whether a copy of m already went out on this session (as the primary or a redundant copy).
bool carried_on(const Node::Impl::OutMsg& m, std::uint64_t session) {
  return session == m.sent_session ||
         std::find(m.extra_sessions.begin(), m.extra_sessions.end(), session) != m.extra_sessions.end();
}
}  // namespace

bool Node::Impl::needs_send(const OutMsg& m, const PeerId& peer, const Route& route) const {
  const auto owed = [&] {  // a chosen live session that has no copy yet
    for (std::uint16_t mask = route.send_mask; mask; mask &= static_cast<std::uint16_t>(mask - 1)) {
      const auto s = transports[static_cast<std::size_t>(std::countr_zero(mask))].transport->session(peer);
      if (s && !carried_on(m, s)) return true;
    }
    return false;
  };
  // In flight on a session that is still up and has not timed out: let it be, even if the route
  // would now choose another transport (no duplicate for a change of mind); a redundant send may
  // still owe copies.
  if (m.state == store::OutboxState::sent && m.via >= 0 && !(m.timed_out >> m.via & 1u) &&
      transports[static_cast<std::size_t>(m.via)].transport->session(peer) == m.sent_session)
    return m.redundancy > 1 && owed();
  return owed();
}

std::size_t Node::Impl::admit(const PeerId& peer, std::size_t limit) {
  auto ps = peers.find(peer);
  if (ps == peers.end() || ps->second.sessions == 0) return 0;
  const auto key = fairness_key(peer);
  // A busy peer's messages wait in the queue, but at most a quarter of a class each (EMERGENCY
  // excepted), so one slow or stalled peer never holds up the others; the rest wait in the outbox
  // and on_drained pumps the peer again.
  const bool busy = busy_peers.contains(key);
  const auto now = now_ms();
  std::size_t admitted = 0;
  bool turned_away = false;
  auto& queue = queues[peer];
  for (std::size_t p = 0; p < queue.lanes.size() && admitted < limit; ++p) {  // EMERGENCY first
    auto& lane = queue.lanes[p];
    // Drop acknowledged ids from the front.
    while (!lane.ids.empty()) {
      auto it = outbox.find(lane.ids.front());
      if (it != outbox.end() && it->second.state != store::OutboxState::delivered &&
          it->second.state != store::OutboxState::failed)
        break;
      lane.ids.pop_front();
      if (lane.cursor > 0) --lane.cursor;
    }
    const auto cls = static_cast<qos::Priority>(p);
    for (; lane.cursor < lane.ids.size() && admitted < limit; ++lane.cursor) {
      auto it = outbox.find(lane.ids[lane.cursor]);
      if (it == outbox.end()) continue;
      auto& m = it->second;
      if (m.state == store::OutboxState::delivered || m.state == store::OutboxState::failed) continue;
      if (m.qos_handle) continue;  // already in the transmit queue
      auto route = route_for(peer, m.wire.size(), m.priority, m.preference, m.redundancy, m.timed_out, now);
      if (route.primary < 0 && m.timed_out) {
        // Nothing left but the transports that timed out for it: go back to waiting on them (its
        // copy there may still be acked), rather than on a fallback that has gone.
        m.timed_out = 0;
        if (m.via >= 0 && m.sent_session &&
            transports[static_cast<std::size_t>(m.via)].transport->session(peer) == m.sent_session)
          m.state = store::OutboxState::sent;
        route = route_for(peer, m.wire.size(), m.priority, m.preference, m.redundancy, 0, now);
      }
      if (route.primary < 0 || !needs_send(m, peer, route)) continue;  // waits, or already on its way
      if (busy && cls != qos::Priority::emergency &&
          transmit_queue.peer_depth(key, cls) >= std::max<std::size_t>(1, config.qos_capacity[p] / 4))
        break;
      const auto handle = next_queue_handle++;
      auto pushed = transmit_queue.push(qos::Item{handle, key, m.wire.size()}, cls);
      if (!pushed.accepted()) {  // the class is full: the rest of this lane waits in the outbox
        turned_away = true;
        break;
      }
      m.qos_handle = handle;
      m.qos_route = route;
      queued_items.emplace(handle, it->first);
      ++admitted;
      if (pushed.evicted) {
        // An EMERGENCY message displaced the oldest LOW one: back to its outbox lane, not lost.
        ++qos_evictions;
        auto victim = queued_items.find(pushed.evicted->id);
        if (victim != queued_items.end()) {
          auto vm = outbox.find(victim->second);
          if (vm != outbox.end()) {
            vm->second.qos_handle = 0;
            queues[vm->second.to].rewind();
            if (std::find(waiting_for_room.begin(), waiting_for_room.end(), vm->second.to) ==
                waiting_for_room.end())
              waiting_for_room.push_back(vm->second.to);
          }
          queued_items.erase(victim);
        }
      }
    }
  }
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
    const auto now = now_ms();
    while (auto item = transmit_queue.pop_if(ready)) {
      auto handle = queued_items.find(item->id);
      if (handle == queued_items.end()) continue;  // evicted meanwhile
      const MessageId id = handle->second;
      queued_items.erase(handle);
      auto it = outbox.find(id);
      if (it == outbox.end()) continue;
      auto& m = it->second;
      m.qos_handle = 0;
      if (m.state == store::OutboxState::delivered || m.state == store::OutboxState::failed) continue;
      const auto& route = m.qos_route;
      if (!transports[static_cast<std::size_t>(route.primary)].transport->session(m.to)) {
        // Its session went away while it waited: routed again in this drain (another transport).
        queues[m.to].rewind();
        if (std::find(waiting_for_room.begin(), waiting_for_room.end(), m.to) == waiting_for_room.end())
          waiting_for_room.push_back(m.to);
        continue;
      }
      transmit(id, m, route, now);
      if (transports[static_cast<std::size_t>(route.primary)].transport->backlog(m.to) >
          config.qos_busy_backlog_bytes)
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
  auto env =
      decode_envelope(m.wire, nullptr, EnvelopeLimits{config.max_message_bytes + kSealedPayloadOverhead});
  auto recipient = x25519_keys.find(m.to);
  if (recipient == x25519_keys.end())  // after a restart the cache starts empty
    if (auto key = Identity::x25519_public_of(m.to)) recipient = x25519_keys.emplace(m.to, *key).first;
  if (!env || recipient == x25519_keys.end()) {
    log->error("cannot sign and seal a message for {}: {}", m.to.to_string(),
               env ? "no sealing key" : env.error().message());
    return false;
  }
  env->from = identity.peer_id();
  env->to = m.to;
  auto sealed = seal_payload(seal_keys, recipient->second, env->payload);
  if (!sealed) return false;
  env->payload = std::move(*sealed);
  env->flags |= envelope_flags::sealed;
  sign_envelope(*env, identity);
  pending_bytes -= std::min(pending_bytes, m.wire.size());
  m.wire = encode_envelope(*env);
  pending_bytes += m.wire.size();
  m.sealed = true;
  return true;
}

void Node::Impl::transmit(const MessageId& id, OutMsg& m, const Route& route, std::uint64_t now) {
  const PeerId& peer = m.to;
  for (std::uint16_t mask = route.send_mask; mask;) {
    const int t = std::countr_zero(mask);
    mask &= static_cast<std::uint16_t>(mask - 1);
    auto& slot = transports[static_cast<std::size_t>(t)];
    const auto session = slot.transport->session(peer);
    if (!session) continue;
    if (carried_on(m, session)) continue;
    // Over a transport whose sessions do not end at the peer itself, the envelope must prove its
    // origin and hide its payload on its own: signed and sealed, once, at the first such send.
    if (!slot.transport->capabilities().authenticated_sessions && !m.sealed && !sign_and_seal(m)) continue;
    if (auto ec = send_record(t, peer, RecordKind::data, m.wire)) {
      // Not queued. The message keeps its place in the outbox lane. A full transport queue (the
      // BitChat mesh paces its frames) makes the peer wait for on_drained() instead of spinning; a
      // session that is going away is followed by on_session_down, which routes it again.
      if (t == route.primary) {
        queues[peer].rewind();
        if (ec == Errc::backpressure) busy_peers.insert(fairness_key(peer));
        if (ec == Errc::too_large)
          log->error("{} refused message {} for {}: {}", slot.name, id.to_hex(), peer.to_string(),
                     ec.message());
      }
      continue;
    }
    slot.sent_durable->inc();
    if (t == route.primary) {
      // A failover: the copy on the transport that carried it timed out or lost its session.
      const bool moved = m.via >= 0 && m.via != t;
      const bool via_failed =
          moved && ((m.timed_out >> m.via & 1u) ||
                    transports[static_cast<std::size_t>(m.via)].transport->session(peer) != m.sent_session);
      if (via_failed) {
        m.failed_from = m.via;
        m.failover_cause = (m.timed_out >> m.via & 1u) ? 2 : 1;
        ++m.failovers;
        ++slot.failovers_to;
        metrics
            .counter("p2p_failovers_total", "Durable messages moved to another transport",
                     {{"from", transports[static_cast<std::size_t>(m.via)].name}, {"to", slot.name}})
            .inc();
      }
      if (m.via != t || m.why != route.why) count_selection(t, route.why);
      m.via = static_cast<std::int8_t>(t);
      m.why = route.why;
      m.sent_session = session;
      ++m.send_seq;
      if (!m.first_sent_ms) m.first_sent_ms = now;
      ack_deadlines.push(AckDeadline{now + slot.ack_timeout_ms, id, session, m.send_seq});
    } else {
      m.extra_sessions.push_back(session);
    }
    m.state = store::OutboxState::sent;
    m.updated_ms = now;
    ++m.attempts;
  }
}

}  // namespace hyphae
