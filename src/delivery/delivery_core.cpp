// DeliveryCore: outbox lanes, routes for waiting messages, ack deadlines, failover and expiry.
#include "delivery/delivery_core.hpp"

#include <algorithm>

namespace hyphae::delivery {

bool OutboundMessage::carried_on(std::uint64_t session) const {
  return session == sent_session ||
         std::find(extra_sessions.begin(), extra_sessions.end(), session) != extra_sessions.end();
}

DeliveryCore::DeliveryCore(Links& links, const Clock& clock, DeliverySettings settings)
    : links_(links), clock_(clock), settings_(settings) {}

void DeliveryCore::add(const MessageId& id, OutboundMessage m) {
  const auto lane = static_cast<std::size_t>(std::clamp<int>(m.priority, 0, 3));
  const PeerId to = m.to;
  if (m.expires_ms) next_expiry_ = std::min(next_expiry_, m.expires_ms);
  if (m.pending()) {
    pending_count_ += 1;
    pending_bytes_ += m.wire.size();
  }
  auto [it, inserted] = outbox_.emplace(id, std::move(m));
  if (!inserted) return;  // the same id twice: the first stays (ids are random; this is a bug upstream)
  lanes_[to].lanes[lane].ids.push_back(id);
}

OutboundMessage* DeliveryCore::find(const MessageId& id) {
  auto it = outbox_.find(id);
  return it == outbox_.end() ? nullptr : &it->second;
}

const OutboundMessage* DeliveryCore::find(const MessageId& id) const {
  auto it = outbox_.find(id);
  return it == outbox_.end() ? nullptr : &it->second;
}

bool DeliveryCore::has_pending(const PeerId& peer) const {
  auto q = lanes_.find(peer);
  if (q == lanes_.end()) return false;
  for (const auto& lane : q->second.lanes)
    for (const auto& id : lane.ids)
      if (const auto* m = find(id); m && m->pending()) return true;
  return false;
}

std::size_t DeliveryCore::pending_for(const PeerId& peer) const {
  auto q = lanes_.find(peer);
  if (q == lanes_.end()) return 0;
  std::size_t n = 0;
  for (const auto& lane : q->second.lanes)
    for (const auto& id : lane.ids)
      if (const auto* m = find(id); m && m->pending()) ++n;
  return n;
}

void DeliveryCore::forget_peer(const PeerId& peer) {
  if (!has_pending(peer)) lanes_.erase(peer);
}

void DeliveryCore::leave_pending(OutboundMessage& m) {
  if (!m.pending()) return;
  pending_count_ -= 1;
  pending_bytes_ -= std::min(pending_bytes_, m.wire.size());
}

void DeliveryCore::fail(const MessageId& id, std::string reason) {
  auto* m = find(id);
  if (!m) return;
  leave_pending(*m);
  m->state = store::OutboxState::failed;
  m->reason = std::move(reason);
  m->updated_ms = clock_.wall_ms();
}

void DeliveryCore::erase(const MessageId& id) {
  auto it = outbox_.find(id);
  if (it == outbox_.end()) return;
  leave_pending(it->second);
  outbox_.erase(it);  // its lane entry goes lazily (drop_settled_front)
}

void DeliveryCore::replace_wire(OutboundMessage& m, Bytes wire) {
  if (m.pending()) pending_bytes_ = pending_bytes_ - std::min(pending_bytes_, m.wire.size()) + wire.size();
  m.wire = std::move(wire);
}

void DeliveryCore::session_up(TransportIndex t, const PeerId& peer) {
  auto q = lanes_.find(peer);
  if (q == lanes_.end()) return;
  // A transport that timed out for these messages has a fresh session: it is a candidate again.
  for (auto& lane : q->second.lanes) {
    for (const auto& id : lane.ids)
      if (auto* m = find(id)) m->timed_out.erase(t);
    lane.cursor = 0;
  }
}

void DeliveryCore::session_down([[maybe_unused]] TransportIndex t, const PeerId& peer,
                                std::uint64_t session) {
  auto q = lanes_.find(peer);
  if (q == lanes_.end()) return;
  // What was in flight on that session goes out again, over another transport if one is up.
  for (auto& lane : q->second.lanes) {
    for (const auto& id : lane.ids) {
      auto* m = find(id);
      if (m && m->state == store::OutboxState::sent && m->sent_session == session)
        m->state = store::OutboxState::queued;
    }
    lane.cursor = 0;
  }
}

void DeliveryCore::transport_unavailable(TransportIndex t) {
  for (auto& [id, m] : outbox_)
    if (m.state == store::OutboxState::sent && m.via == t) {
      m.state = store::OutboxState::queued;
      m.sent_session = 0;
    }
  rewind_all();
}

void DeliveryCore::rewind(const PeerId& peer) {
  auto q = lanes_.find(peer);
  if (q == lanes_.end()) return;
  for (auto& lane : q->second.lanes) lane.cursor = 0;
}

void DeliveryCore::rewind_all() {
  for (auto& [peer, q] : lanes_)
    for (auto& lane : q.lanes) lane.cursor = 0;
}

void DeliveryCore::drop_settled_front(Lane& lane) {
  while (!lane.ids.empty()) {
    const auto* m = find(lane.ids.front());
    if (m && m->pending()) break;
    lane.ids.pop_front();
    if (lane.cursor > 0) --lane.cursor;
  }
}

bool DeliveryCore::needs_send(const OutboundMessage& m, const PeerId& peer, const Route& route) const {
  const auto owed = [&] {  // a chosen live session that has no copy yet
    for (auto t : route.send) {
      const auto s = links_.session(t, peer);
      if (s && !m.carried_on(s)) return true;
    }
    return false;
  };
  // In flight on a session that is still up and has not timed out: let it be, even if the route
  // would now choose another transport (no duplicate for a change of mind); a redundant send may
  // still owe copies.
  if (m.state == store::OutboxState::sent && m.via && !m.timed_out.contains(m.via) &&
      links_.session(m.via, peer) == m.sent_session)
    return m.redundancy > 1 && owed();
  return owed();
}

std::optional<Route> DeliveryCore::sendable_route(OutboundMessage& m, const PeerId& peer) {
  if (!m.pending() || m.qos_handle) return std::nullopt;  // settled, or already in the transmit queue
  auto route = links_.route(peer, m, m.timed_out);
  if (!route.ok() && !m.timed_out.empty()) {
    // Nothing left but the transports that timed out for it: go back to waiting on them (its copy
    // there may still be acked), rather than on a fallback that has gone.
    m.timed_out.clear();
    if (m.via && m.sent_session && links_.session(m.via, peer) == m.sent_session)
      m.state = store::OutboxState::sent;
    route = links_.route(peer, m, {});
  }
  if (!route.ok() || !needs_send(m, peer, route)) return std::nullopt;
  return route;
}

DeliveryCore::Transmitted DeliveryCore::transmitted(const MessageId& id, OutboundMessage& m, TransportIndex t,
                                                    std::uint64_t session, bool primary, router::Reason why) {
  Transmitted out;
  const auto now = clock_.monotonic_ms();
  if (primary) {
    // A failover: the copy on the transport that carried it timed out or lost its session.
    const bool moved = m.via && m.via != t;
    // (sent_session 0: its transport went away and requeued it.)
    if (moved && (m.timed_out.contains(m.via) || m.sent_session == 0 ||
                  links_.session(m.via, m.to) != m.sent_session)) {
      out.failed_over = true;
      out.from = m.via;
      m.failed_from = m.via;
      m.failover_cause =
          m.timed_out.contains(m.via) ? FailoverCause::ack_timeout : FailoverCause::session_lost;
      ++m.failovers;
    }
    out.selection_changed = m.via != t || m.why != why;
    m.via = t;
    m.why = why;
    m.sent_session = session;
    ++m.send_seq;
    if (!m.first_sent_at) m.first_sent_at = now;
    deadlines_.push(Deadline{now + links_.ack_timeout_ms(t), id, session, m.send_seq, t, now});
  } else {
    m.extra_sessions.push_back(session);
  }
  m.state = store::OutboxState::sent;
  m.updated_ms = clock_.wall_ms();
  ++m.attempts;
  return out;
}

std::optional<DeliveryCore::Delivered> DeliveryCore::acked(const MessageId& id, const PeerId& from,
                                                           TransportIndex t) {
  auto* m = find(id);
  if (!m || m->to != from || m->state == store::OutboxState::delivered) return std::nullopt;
  Delivered out{m, m->redundancy > 1};
  // A redundant send is credited to the copy whose ack came first. A single copy keeps the
  // transport that carried it (the receiver may ack over any live session).
  if (m->redundancy > 1 && m->via != t) {
    m->via = t;
    m->why = router::Reason::none;
  }
  leave_pending(*m);
  m->state = store::OutboxState::delivered;
  m->updated_ms = clock_.wall_ms();
  m->wire.clear();
  m->wire.shrink_to_fit();
  return out;
}

void DeliveryCore::handle_deadline(const Deadline& d, std::uint64_t now, Due& due) {
  auto* m = find(d.id);
  if (!m || m->state != store::OutboxState::sent || m->sent_session != d.session || m->send_seq != d.send_seq)
    return;  // acked, rerouted or sent again since
  const auto timeout = links_.ack_timeout_ms(d.transport);
  // The ack clock runs from when the record reaches the socket: while the link still holds unsent
  // bytes it may be queued behind them, so the deadline moves (up to a bound).
  if (links_.unsent_bytes(d.transport, m->to) > 0 &&
      now < d.sent_at + timeout * settings_.max_socket_wait_timeouts) {
    auto later = d;
    later.due = now + timeout;
    deadlines_.push(later);
    return;
  }
  AckTimeout report{d.id, m->to, d.transport, false};
  if (settings_.enable_failover && m->failovers < settings_.max_retry_attempts &&
      now - m->first_sent_at <= settings_.failover_timeout_ms) {
    // Fail over only if the route (preference, size, policy) has another transport for it now;
    // otherwise it keeps waiting for its ack here.
    const auto excluded = m->timed_out.with(d.transport);
    if (links_.route(m->to, *m, excluded).ok()) {
      m->timed_out = excluded;
      m->state = store::OutboxState::queued;
      report.failed_over = true;
      if (std::find(due.resend.begin(), due.resend.end(), m->to) == due.resend.end())
        due.resend.push_back(m->to);
    }
  }
  due.timeouts.push_back(std::move(report));
}

void DeliveryCore::expire(Due& due) {
  const auto now = clock_.wall_ms();
  if (now < next_expiry_) return;  // nothing can have expired: skip the scan
  next_expiry_ = std::numeric_limits<std::uint64_t>::max();
  for (auto& [id, m] : outbox_) {
    if (!m.pending() || m.expires_ms == 0) continue;
    if (now < m.expires_ms) {
      next_expiry_ = std::min(next_expiry_, m.expires_ms);
      continue;
    }
    leave_pending(m);
    m.state = store::OutboxState::failed;
    m.reason = "ttl expired before the recipient acknowledged it";
    m.updated_ms = now;
    due.expired.push_back(id);
  }
}

DeliveryCore::Due DeliveryCore::advance() {
  Due due;
  const auto now = clock_.monotonic_ms();
  while (!deadlines_.empty() && deadlines_.top().due <= now) {
    const auto d = deadlines_.top();
    deadlines_.pop();
    handle_deadline(d, now, due);
  }
  for (const auto& peer : due.resend) rewind(peer);
  expire(due);
  return due;
}

std::uint64_t DeliveryCore::next_deadline() const {
  return deadlines_.empty() ? std::numeric_limits<std::uint64_t>::max() : deadlines_.top().due;
}

}  // namespace hyphae::delivery
