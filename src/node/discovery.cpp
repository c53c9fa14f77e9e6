// Node::Impl's discovery: the chain that looks for a peer it cannot reach (live sessions, the record
// cache, PEER_QUERY to its neighbours, the peer's coordinators, then store-and-forward), the
// answers it gives its neighbours' queries, and its own signed record pushed to each new session.
//
// Whatever a neighbour sends here is bounded: a pushed record must be the sender's own (one per
// session peer), an answer is taken only for a query this node sent or passed on (and at most one
// answer is passed back per query), queries go through the responder's dedupe and per-sender rate.
#include <sodium.h>

#include <algorithm>

#include "core/error.hpp"
#include "discovery/link_messages.hpp"
#include "discovery/multiaddr.hpp"
#include "node/node_impl.hpp"

namespace hyphae {

namespace {

using discovery::LinkMessageType;
using discovery::Step;

std::uint64_t random_request_id() {
  std::uint64_t id = 0;
  while (id == 0) randombytes_buf(&id, sizeof id);
  return id;
}

}  // namespace

std::vector<PeerId> Node::Impl::neighbours(const PeerId& except) const {
  std::vector<PeerId> out;
  for (const auto& [peer, state] : peers)
    if (!state.sessions.empty() && peer != except) out.push_back(peer);
  return out;
}

bool Node::Impl::send_discovery(const PeerId& peer, std::uint8_t type, ByteView body, TransportIndex prefer) {
  auto it = peers.find(peer);
  if (it == peers.end() || it->second.sessions.empty()) return false;
  const auto message = discovery::encode_link_message(static_cast<LinkMessageType>(type), body);
  auto try_on = [&](TransportIndex t) {
    const auto caps = slot(t).transport->capabilities();
    if (caps.mtu && message.size() > caps.mtu) return false;  // discovery messages are never fragmented
    return !slot(t).transport->send(peer, RecordKind::discovery, message);
  };
  if (prefer && it->second.sessions.contains(prefer) && try_on(prefer)) return true;
  for (std::size_t i = 0; i < transports.size(); ++i) {
    const TransportIndex t(i);
    if (t != prefer && it->second.sessions.contains(t) && try_on(t)) return true;
  }
  return false;
}

const Bytes& Node::Impl::current_own_record() {
  const auto now = clock->wall_ms();
  if (own_record.empty() || now + kOwnRecordTtlMs / 2 >= own_record_expires_ms) {
    if (auto signed_record = sign_own_record()) {
      own_record = std::move(*signed_record);
      own_record_expires_ms = now + kOwnRecordTtlMs;
    }
  }
  return own_record;
}

void Node::Impl::push_own_record(TransportIndex t, const PeerId& peer) {
  if (current_own_record().empty()) return;
  if (send_discovery(peer, static_cast<std::uint8_t>(LinkMessageType::record), own_record, t))
    ++discovery_counters.records_pushed;
}

void Node::Impl::discover(const PeerId& peer) {
  if (!running || peer == identity.peer_id()) return;
  bool refused = false;
  auto actions = chain.find(peer, &refused);
  if (refused) {
    log->warn("not looking for {} now: {} searches are running", peer.to_string(), chain.running());
    return;
  }
  // The mixnet finds peers in its own directory, without addresses: it hears of the search at once.
  for (auto& t : transports)
    if (t.transport->capabilities().anonymous()) t.transport->connect_soon(peer);
  if (actions.empty()) return;
  ++discovery_counters.searches;
  run_discovery(std::move(actions));
}

std::size_t Node::Impl::send_query(const PeerId& target, Step step, const std::vector<PeerId>& to) {
  if (own_queries.size() >= kMaxQueriesOut) return 0;
  const auto id = random_request_id();
  const auto body = discovery::encode_peer_query(discovery::PeerQuery{target, id, kQueryHops});
  std::size_t sent = 0;
  for (const auto& peer : to) {
    if (sent == kQueryFanout) break;
    if (send_discovery(peer, static_cast<std::uint8_t>(LinkMessageType::peer_query), body)) ++sent;
  }
  if (sent) {
    own_queries.emplace(id, OwnQuery{target, step, clock->monotonic_ms()});
    discovery_counters.queries_sent += sent;
  }
  return sent;
}

void Node::Impl::run_discovery(std::vector<discovery::DiscoveryChain::Action> actions) {
  // A step's result can start the next step at once; work through them until none is left.
  while (!actions.empty()) {
    const auto action = actions.front();
    actions.erase(actions.begin());
    const auto& peer = action.peer;
    std::vector<discovery::DiscoveryChain::Action> next;
    switch (action.step) {
      case Step::live_session:
        next = any_session(peer) ? chain.found(peer, Step::live_session)
                                 : chain.empty(peer, Step::live_session, "no live session");
        break;
      case Step::cache: {
        auto state = peers.find(peer);
        const bool has_addresses = state != peers.end() && !state->second.addresses.empty();
        std::vector<std::string> from_record;
        if (auto record = held_record(peer)) from_record = give_record_addresses(*record);
        const bool heard_on_lan = give_mdns_addresses(peer);
        if (has_addresses || !from_record.empty() || heard_on_lan) {
          next = chain.found(peer, Step::cache);
          for (auto& t : transports) t.transport->connect_soon(peer);
        } else {
          next = chain.empty(peer, Step::cache, "no cached record or address");
        }
        break;
      }
      case Step::peer_query: {
        const auto asked = send_query(peer, Step::peer_query, neighbours(peer));
        if (!asked)
          next = chain.empty(
              peer, Step::peer_query,
              own_queries.size() >= kMaxQueriesOut ? "too many queries out" : "no connected peer to ask");
        break;  // otherwise the step stays out until an answer or the next step's time
      }
      case Step::coordinators: {
        std::vector<PeerId> connected;
        const auto record = held_record(peer);
        if (record)
          for (const auto& c : record->coordinators)
            if (any_session(c)) connected.push_back(c);
        if (!record || record->coordinators.empty())
          next = chain.empty(peer, Step::coordinators, "no coordinators known for it");
        else if (connected.empty() || !send_query(peer, Step::coordinators, connected))
          next = chain.empty(peer, Step::coordinators, "none of its coordinators is connected");
        break;
      }
      case Step::registry:
        if (config.registry_url.empty())
          next = chain.empty(peer, Step::registry, "no registry configured");
        else
          look_up_in_registry(peer);  // answers later
        break;
      case Step::store_and_forward:
        ++discovery_counters.store_and_forward;
        log->info("no way to {} found: its messages wait (store-and-forward)", peer.to_string());
        store_at_coordinators(peer);  // and a coordinator of it holds them, if it has one
        break;
    }
    actions.insert(actions.end(), next.begin(), next.end());
  }
  arm_discovery_timer();
}

void Node::Impl::arm_discovery_timer() {
  if (!running || discovery_timer_armed) return;
  const auto due = chain.next_due_ms();
  if (!due) return;
  const auto now = clock->monotonic_ms();
  const auto wait = *due > now ? std::min<std::uint64_t>(*due - now, 1000) : 0;
  discovery_timer_armed = true;
  discovery_timer.expires_after(std::chrono::milliseconds(wait));
  discovery_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    self->discovery_timer_armed = false;
    if (ec || !self->running) return;
    self->run_discovery(self->chain.advance());
  });
}

void Node::Impl::tick_discovery() {
  run_discovery(chain.advance());  // also on a simulated clock, where the timer's wait is real time
  const auto mono = clock->monotonic_ms();
  std::erase_if(own_queries, [&](const auto& q) { return q.second.sent_ms + kQueryMemoryMs <= mono; });
  std::erase_if(forwarded_queries, [&](const auto& q) { return q.second.at_ms + kQueryMemoryMs <= mono; });
  // Peers whose messages wait in store-and-forward are looked for again now and then (a record
  // that appears meanwhile dials them at once: learn_record).
  if (mono < last_rediscover_ms + 1000) return;
  last_rediscover_ms = mono;
  std::vector<PeerId> again;
  for (const auto& [peer, state] : peers) {
    if (!state.sessions.empty() || !has_pending(peer)) continue;
    const auto* s = chain.search(peer);
    using discovery::PeerState;
    if (!s || s->state == PeerState::disconnected || s->state == PeerState::failed ||
        (s->state == PeerState::store_and_forward && mono >= s->started_ms + kRediscoverAfterMs))
      again.push_back(peer);
  }
  for (const auto& peer : again) discover(peer);  // may add entries to `peers`
}

void Node::Impl::on_discovery(TransportIndex t, const PeerId& from, std::uint64_t session, ByteView body) {
  (void)session;
  auto message = discovery::decode_link_message(body);
  if (!message) {
    ++discovery_counters.malformed;
    log->warn("closing {} session with {}: malformed discovery message", slot(t).name, from.to_string());
    slot(t).transport->close(from, {transport::CloseCode::malformed, "malformed discovery message"});
    return;
  }
  switch (message->type) {
    case LinkMessageType::record: {
      auto record = discovery::open_peer_record(message->body);
      if (!record || record->peer != from) {  // a neighbour pushes only its own record
        ++discovery_counters.records_refused;
        log->warn("refused a record pushed by {}: {}", from.to_string(),
                  record ? "not its own" : record.error().message());
        return;
      }
      consider_relay(*record);
      learn_record(message->body, "session:" + slot(t).name,
                   [self = shared_from_this(), from](std::expected<LearnedRecord, std::error_code> r) {
                     if (r && r->stored) ++self->discovery_counters.records_learned;
                     if (!r) ++self->discovery_counters.records_refused;
                   });
      return;
    }
    case LinkMessageType::peer_query:
      return on_peer_query(t, from, message->body);
    case LinkMessageType::peer_found:
      return on_peer_found(t, from, message->body);
  }
}

void Node::Impl::on_peer_query(TransportIndex t, const PeerId& from, ByteView body) {
  auto query = discovery::decode_peer_query(body);
  if (!query) {
    ++discovery_counters.malformed;
    ++discovery_counters.queries_dropped;
    return;
  }
  ++discovery_counters.queries_received;
  Bytes envelope;
  bool known = false;
  if (query->looking_for == identity.peer_id()) {
    envelope = current_own_record();
    known = !envelope.empty();
  } else if (query->looking_for != from) {
    known = held_record(query->looking_for, &envelope).has_value();
  }
  auto decision = responder.on_query(from, *query, known, neighbours(from), clock->monotonic_ms());
  using V = discovery::QueryResponder::Verdict;
  switch (decision.verdict) {
    case V::answer: {
      // A relay says whether it relays to the peer (the peer holds a reservation here).
      const bool can_relay =
          relay_core && relay_core->has_reservation(query->looking_for, clock->monotonic_ms());
      discovery::PeerFound answer{query->request_id, query->looking_for, std::move(envelope), can_relay};
      if (send_discovery(from, static_cast<std::uint8_t>(LinkMessageType::peer_found),
                         discovery::encode_peer_found(answer), t))
        ++discovery_counters.queries_answered;
      return;
    }
    case V::forward: {
      if (forwarded_queries.size() >= kMaxQueriesOut) {
        ++discovery_counters.queries_dropped;
        return;
      }
      const auto forwarded = discovery::encode_peer_query(decision.forwarded);
      std::size_t sent = 0;
      for (const auto& peer : decision.forward_to)
        if (send_discovery(peer, static_cast<std::uint8_t>(LinkMessageType::peer_query), forwarded)) ++sent;
      if (sent) {
        forwarded_queries.emplace(query->request_id,
                                  ForwardedQuery{from, query->looking_for, clock->monotonic_ms()});
        discovery_counters.queries_forwarded += sent;
      }
      return;
    }
    case V::drop_duplicate:
    case V::drop_rate:
    case V::drop_unknown:
      ++discovery_counters.queries_dropped;
      return;
  }
}

void Node::Impl::on_peer_found(TransportIndex t, const PeerId& from, ByteView body) {
  auto answer = discovery::decode_peer_found(body);
  if (!answer) {
    ++discovery_counters.malformed;
    return;
  }
  ++discovery_counters.answers_received;
  // The record must be the one asked for, signed by that peer: an answer cannot lie about it.
  auto record = discovery::open_peer_record(answer->record);
  if (!record || record->peer != answer->looking_for) {
    ++discovery_counters.records_refused;
    return;
  }
  if (auto fwd = forwarded_queries.find(answer->request_id);
      fwd != forwarded_queries.end() && fwd->second.target == answer->looking_for) {
    const auto origin = fwd->second.origin;
    forwarded_queries.erase(fwd);  // one answer goes back per query passed on
    // can_relay spoke for the node that answered, not for this one: it does not travel back.
    auto passed = *answer;
    passed.can_relay = false;
    if (send_discovery(origin, static_cast<std::uint8_t>(LinkMessageType::peer_found),
                       discovery::encode_peer_found(passed)))
      ++discovery_counters.answers_passed_back;
    return;
  }
  auto own = own_queries.find(answer->request_id);
  if (own == own_queries.end() || own->second.target != answer->looking_for) {
    ++discovery_counters.answers_unsolicited;
    return;
  }
  const auto step = own->second.step;
  const auto target = own->second.target;
  const bool via_relay = answer->can_relay && t && slot(t).transport->type() == "tcp";
  learn_record(answer->record, "peer_query:" + from.to_string(),
               [self = shared_from_this(), target, step, via_relay,
                from](std::expected<LearnedRecord, std::error_code> r) {
                 if (!r) {
                   // A repeat of a record already held is fine; a stale or replayed one is not news.
                   ++self->discovery_counters.records_refused;
                   return;
                 }
                 if (r->stored) ++self->discovery_counters.records_learned;
                 if (via_relay) {  // the neighbour that answered relays to it
                   self->give_relays(target, {from});
                   r->addresses.push_back("/p2p/" + from.to_string() + "/p2p-circuit");
                 }
                 if (r->addresses.empty()) return;  // nothing this node can dial: the chain goes on
                 ++self->discovery_counters.found;
                 self->run_discovery(self->chain.found(target, step));
                 for (auto& slot : self->transports) slot.transport->connect_soon(target);
               });
}

// ---------------------------------------------------------------- public facade

namespace {

PeerDiscoveryView make_view(const Node::Impl& i, const PeerId& peer) {
  PeerDiscoveryView v;
  v.peer = peer;
  v.state = "DISCONNECTED";
  if (const auto* s = i.chain.search(peer)) {
    v.state = std::string(discovery::to_string(s->state));
    if (s->found_by) v.found_by = std::string(discovery::to_string(*s->found_by));
    v.age_ms = i.clock->monotonic_ms() - s->started_ms;
    for (const auto& r : s->steps) {
      DiscoveryStepView step;
      step.step = std::string(discovery::to_string(r.step));
      step.budget_ms = i.chain.options().start_by_ms[static_cast<std::size_t>(r.step)];
      step.started_after_ms = r.started_ms - s->started_ms;
      if (r.ended_ms) step.took_ms = r.ended_ms - r.started_ms;
      step.outcome = r.outcome;
      v.steps.push_back(std::move(step));
    }
  }
  if (auto it = i.peers.find(peer); it != i.peers.end()) {
    for (std::size_t t = 0; t < i.transports.size(); ++t)
      if (it->second.sessions.contains(transport::TransportIndex(t)))
        v.sessions.push_back(i.transports[t].name);
    v.addresses = it->second.addresses;
    if (!v.sessions.empty() && (v.state == "DISCONNECTED" || v.state == "STORE_AND_FORWARD"))
      v.state = "CONNECTED";
  }
  if (auto heard = i.mdns_peers.find(peer); heard != i.mdns_peers.end())
    for (const auto& a : heard->second.addresses)
      if (std::find(v.addresses.begin(), v.addresses.end(), a) == v.addresses.end()) v.addresses.push_back(a);
  v.pending = i.delivery.pending_for(peer);
  if (auto row = i.store->peer_record(Bytes(peer.bytes().begin(), peer.bytes().end()))) {
    v.record_seq = row->seq;
    v.record_source = row->source;
    if (auto record = discovery::open_peer_record(row->envelope)) {
      for (const auto& a : record->addresses)
        if (auto text = discovery::multiaddr_to_text(a);
            text && std::find(v.addresses.begin(), v.addresses.end(), *text) == v.addresses.end())
          v.addresses.push_back(*text);
      for (const auto& c : record->coordinators) v.record_coordinators.push_back(c.to_string());
    }
  }
  return v;
}

}  // namespace

PeerDiscoveryView Node::find(const PeerId& peer) {
  impl_->assert_on_strand();
  impl_->discover(peer);
  return make_view(*impl_, peer);
}

PeerDiscoveryView Node::discovery_view(const PeerId& peer) const {
  impl_->assert_on_strand();
  return make_view(*impl_, peer);
}

const DiscoveryCounters& Node::discovery_counters() const {
  auto& i = *impl_;
  auto& c = i.discovery_counters;
  c.mdns_running = i.mdns != nullptr;
  c.mdns_peers = i.mdns_peers.size();
  if (i.mdns) {
    c.mdns_queries_sent = i.mdns->counters().queries_sent;
    c.mdns_answers_sent = i.mdns->counters().answers_sent;
    c.mdns_packets_dropped = i.mdns->counters().packets_dropped;
  }
  return c;
}

}  // namespace hyphae
