// Node::Impl's transports: making them from the configuration, the TransportSink callbacks, the
// per-message route (router::select over the transports with a live session to the recipient),
// ack timeouts and failover, and the transport views of the API.
#include <spdlog/spdlog.h>

#include <bit>
#include <boost/asio/post.hpp>

#include "core/error.hpp"
#include "core/ws_address.hpp"
#include "node/node_impl.hpp"
#include "transport/fault/fault_transport.hpp"
#include "transport/relay/relay_transport.hpp"

namespace hyphae {

namespace {

router::Priority to_router(int priority) {
  return static_cast<router::Priority>(std::clamp(priority, 0, 3));
}

// The rule that decided a selection, for the message status and the selection metric.
router::Reason deciding_reason(const router::Selection& s) {
  using R = router::Reason;
  // Hard rules first: they say why the others were left out, even when one candidate remains.
  for (R r : {R::preferred_forced, R::no_internet, R::privacy_anonymous, R::privacy_private, R::broadcast,
              R::multicast, R::emergency_fastest, R::battery_critical, R::battery_low, R::battery_medium})
    if (s.has(r)) return r;
  if (s.count <= 1) return R::none;  // the only candidate: nothing was decided
  for (R r : {R::degraded_last, R::emergency_fastest})
    if (s.has(r)) return r;
  for (R r : s.why())
    if (r != R::battery_full && r != R::battery_high && r != R::charging && r != R::redundancy_short &&
        r != R::emergency_ignores_battery)
      return r;
  return R::none;
}

}  // namespace

transport::TransportContext Node::Impl::transport_context(std::string name,
                                                          std::map<std::string, std::string> options) {
  // Designated: a default-constructed strand has no executor.
  return transport::TransportContext{
      .name = std::move(name),
      .options = std::move(options),
      .strand = strand,
      .identity = &identity,
      .sink = this,
      .session_ids = &session_ids,
      .log = log,
      // A record carries one envelope: payload, a sealed payload's overhead, and the envelope header.
      .max_record_bytes = config.max_message_bytes + 4096,
      .handshake_timeout_ms = config.handshake_timeout_ms,
      .keepalive_interval_ms = power_policy.heartbeat_interval.count() > 0
                                   ? static_cast<std::uint64_t>(power_policy.heartbeat_interval.count())
                                   : config.keepalive_interval_ms,
      .reconnect_min_ms = config.reconnect_min_ms,
      .reconnect_max_ms = config.reconnect_max_ms,
  };
}

std::expected<void, std::string> Node::Impl::make_transports() {
  struct Wanted {
    std::string name, type;
    std::map<std::string, std::string> options;
  };
  std::vector<Wanted> wanted;
  auto tcp = config.transports.find(std::string(kDirectTransport));
  if (tcp == config.transports.end() || tcp->second.enabled) {
    Wanted w{std::string(kDirectTransport), "tcp", {}};
    if (tcp != config.transports.end()) w.options = tcp->second.options;
    w.options["listen"] = config.listen;
    wanted.push_back(std::move(w));
  }
  for (const auto& [name, settings] : config.transports) {
    auto type = settings.options.find("type");
    if (name == kDirectTransport || type == settings.options.end() || !settings.enabled) continue;
    wanted.push_back(Wanted{name, type->second, settings.options});
  }
  if (wanted.empty()) return std::unexpected("no transport is enabled");
  if (wanted.size() > kMaxTransports)
    return std::unexpected("at most " + std::to_string(kMaxTransports) + " transports can be configured");
  const auto& registry = transport_types ? *transport_types : transport::default_registry();
  for (auto& w : wanted) {
    auto context = transport_context(w.name, std::move(w.options));
    TransportSlot slot;
    slot.name = w.name;
    if (config.fault_injection) {
      auto made = transport::FaultTransport::make(registry, w.type, std::move(context));
      if (!made) return std::unexpected(made.error());
      slot.fault = made->get();
      slot.transport = std::move(*made);
    } else {
      auto made = registry.make(w.type, std::move(context));
      if (!made) return std::unexpected(made.error());
      slot.transport = std::move(*made);
    }
    add_slot(std::move(slot));
  }
  // Relayed sessions ride on the direct links: one relay transport beside the TCP ones.
  const bool has_tcp = std::any_of(transports.begin(), transports.end(),
                                   [](const TransportSlot& s) { return s.transport->type() == "tcp"; });
  if (has_tcp && transports.size() < kMaxTransports && !find_transport(transport::RelayTransport::kType)) {
    auto context = transport_context(std::string(transport::RelayTransport::kType), {});
    TransportSlot slot;
    slot.name = context.name;
    auto relayed =
        std::make_unique<transport::RelayTransport>(std::move(context), *this, config.relay_reservations);
    relay_transport = relayed.get();
    slot.transport = std::move(relayed);
    add_slot(std::move(slot));
  }
  return {};
}

void Node::Impl::add_slot(TransportSlot slot) {
  // A direct link keeps ack_timeout_ms exactly; a multi-hop path waits at least three of its
  // typical latencies.
  const auto& caps = slot.transport->capabilities();
  slot.ack_timeout_ms = caps.multi_hop ? std::max<std::uint64_t>(config.ack_timeout_ms,
                                                                 3 * std::uint64_t{caps.typical_latency_ms})
                                       : config.ack_timeout_ms;
  const std::string sent_help = "Messages handed to a transport (durable ones count each attempt)";
  const metrics::Labels by = {{"transport", slot.name}};
  slot.sent_durable =
      &metrics.counter("p2p_messages_sent_total", sent_help, {{"transport", slot.name}, {"mode", "durable"}});
  slot.sent_ephemeral = &metrics.counter("p2p_messages_sent_total", sent_help,
                                         {{"transport", slot.name}, {"mode", "ephemeral"}});
  slot.received = &metrics.counter("p2p_messages_received_total", "Messages committed to the inbox", by);
  slot.delivered = &metrics.counter("p2p_messages_delivered_total",
                                    "Durable messages acknowledged by their recipient", by);
  slot.latency = &metrics.histogram(
      "p2p_message_latency_seconds", "From send() to the recipient's ack, durable messages",
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600},
      by);
  transports.push_back(std::move(slot));
}

Node::Impl::TransportIndex Node::Impl::index_of(const Transport& t) const {
  for (std::size_t i = 0; i < transports.size(); ++i)
    if (transports[i].transport.get() == &t) return TransportIndex(i);
  return TransportIndex::none();
}

Node::Impl::TransportIndex Node::Impl::find_transport(std::string_view name) const {
  for (std::size_t i = 0; i < transports.size(); ++i)
    if (transports[i].name == name) return TransportIndex(i);
  return TransportIndex::none();
}

bool Node::Impl::known_transport(std::string_view name) const {
  return name.empty() || find_transport(name).valid();
}

bool Node::Impl::any_session(const PeerId& peer) const {
  auto it = peers.find(peer);
  return it != peers.end() && !it->second.sessions.empty();
}

int Node::Impl::session_transport(const PeerId& peer) const {
  for (std::size_t i = 0; i < transports.size(); ++i)
    if (transports[i].transport->session(peer)) return static_cast<int>(i);
  return -1;
}

Node::Impl::Route Node::Impl::route_for(const PeerId& peer, std::size_t size, int priority,
                                        std::string_view preference, std::uint8_t redundancy,
                                        TransportSet excluded, std::uint8_t privacy) {
  Route route;
  auto ps = peers.find(peer);
  if (ps == peers.end() || ps->second.sessions.empty()) return route;
  const auto& state = ps->second;
  const auto now = clock->monotonic_ms();
  const std::size_t n = transports.size();
  std::array<router::TransportView, kMaxTransports> views;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& t = *transports[i].transport;
    auto& v = views[i];
    v.name = transports[i].name;
    v.caps = t.capabilities();
    v.health.available =
        state.sessions.contains(TransportIndex(i)) && !excluded.contains(TransportIndex(i)) && t.available();
    v.health.degraded = now < state.degraded_until[i];
    v.health.failure_count = state.failures[i];
  }
  router::MessageRequirements req;
  req.size = size;
  req.priority = to_router(priority);
  req.transport_preference = preference;
  req.redundancy = redundancy;
  req.optimize_for = config.optimize_for;
  req.privacy = static_cast<router::Privacy>(std::min<std::uint8_t>(privacy, 2));
  const router::Context ctx = route_context();
  auto sel = router::select(req, std::span<const router::TransportView>(views.data(), n), ctx);
  if (sel.ok()) {
    route.primary = TransportIndex(sel.primary());
    for (auto i : sel.to_send()) route.send.insert(TransportIndex(i));
    route.why = deciding_reason(sel);
    return route;
  }
  if (!preference.empty()) return route;  // a forced transport that cannot carry it: the message waits
  // Only an anonymous transport may carry it: no fallback to whatever session is live.
  if (req.privacy == router::Privacy::anonymous) return route;
  // The policy found nothing (no internet and no offline transport, say), yet a live session is
  // evidence enough: use it rather than hold the message.
  for (std::size_t i = 0; i < n; ++i) {
    if (!views[i].health.available || size > views[i].caps.max_message_size) continue;
    route.primary = TransportIndex(i);
    route.send = TransportSet::of(route.primary);
    route.why = router::Reason::nothing_fits;
    return route;
  }
  return route;
}

std::uint64_t Node::Impl::session(TransportIndex t, const PeerId& peer) const {
  return transports[t.index()].transport->session(peer);
}

Node::Impl::Route Node::Impl::route(const PeerId& peer, const OutMsg& m, TransportSet excluded) {
  return route_for(peer, m.wire.size(), m.priority, m.preference, m.redundancy, excluded, m.privacy);
}

std::uint64_t Node::Impl::ack_timeout_ms(TransportIndex t) const {
  return transports[t.index()].ack_timeout_ms;
}

std::size_t Node::Impl::unsent_bytes(TransportIndex t, const PeerId& peer) const {
  return transports[t.index()].transport->unsent_bytes(peer);
}

void Node::Impl::count_selection(TransportIndex t, router::Reason why) {
  auto& slot = this->slot(t);
  auto& counter = slot.selections[static_cast<std::size_t>(why) % slot.selections.size()];
  if (!counter)
    counter =
        &metrics.counter("p2p_transport_selections_total",
                         "Durable messages assigned to a transport, by the rule that chose it",
                         {{"transport", slot.name},
                          {"reason", why == router::Reason::none ? std::string("only_candidate")
                                                                 : std::string(router::reason_name(why))}});
  counter->inc();
}

std::string Node::Impl::transport_reason_of(const OutMsg& m) const {
  std::string text;
  if (m.why == router::Reason::none && m.failed_from)
    text = "the remaining transport";  // the one that timed out was left out for this message
  else if (m.why == router::Reason::none)
    text = m.redundancy > 1 ? "redundant send: the first ack came back over it"
                            : "the only transport with a live session to the recipient";
  else if (m.why == router::Reason::nothing_fits)
    text = "no transport fits the policy; sent over the live session anyway";
  else
    text = std::string(router::reason_text(m.why));
  if (m.failed_from) {
    const auto& from = transports[m.failed_from.index()].name;
    text += m.failover_cause == delivery::FailoverCause::ack_timeout
                ? "; failover from " + from + ": no ack within " +
                      std::to_string(transports[m.failed_from.index()].ack_timeout_ms) + " ms"
                : "; failover from " + from + ": its session was lost";
  }
  if (m.via && m.privacy == static_cast<std::uint8_t>(Privacy::private_) &&
      !transports[m.via.index()].transport->capabilities().anonymous())
    text += "; privacy private: no anonymous transport reached the peer, and the sender allowed another";
  return text;
}

std::error_code Node::Impl::send_record(TransportIndex t, const PeerId& peer, RecordKind kind, ByteView body,
                                        const transport::RecordHints& hints) {
  auto& slot = this->slot(t);
  const std::size_t mtu = slot.transport->capabilities().mtu;
  if (body.size() <= mtu) return slot.transport->send_hinted(peer, kind, body, hints);
  if (!slot.transport->session(peer)) return Errc::no_link;
  Bytes whole;
  whole.reserve(body.size() + 1);
  whole.push_back(static_cast<std::uint8_t>(kind));
  whole.insert(whole.end(), body.begin(), body.end());
  fragment::FragmentOptions options;
  options.mtu = mtu;
  auto parts = fragment::split(whole, options);
  if (!parts) {
    log->error("cannot fragment a {}-byte record for {} (mtu {}): {}", body.size(), slot.name, mtu,
               parts.error().message());
    return Errc::too_large;
  }
  for (const auto& f : *parts)
    if (auto ec = slot.transport->send_hinted(peer, RecordKind::fragment, f, hints)) return ec;
  meters.fragments_sent->inc(static_cast<double>(parts->size()));
  return {};
}

std::string Node::Impl::reassembly_key(TransportIndex t, const PeerId& peer) const {
  return slot(t).name + "/" + peer.to_string();
}

void Node::Impl::on_fragment(TransportIndex t, const PeerId& peer, std::uint64_t session, ByteView body) {
  auto& slot = this->slot(t);
  meters.fragments_received->inc();
  auto whole = reassembler.accept(reassembly_key(t, peer), body, now_ms());
  if (!whole) {
    meters.err_fragment->inc();
    if (whole.error() == Errc::malformed) {
      log->warn("closing the {} session to {}: malformed fragment", slot.name, peer.to_string());
      slot.transport->close(peer, {transport::CloseCode::malformed, "fragment"});
    } else {
      log->warn("dropped a fragment from {} over {}: {}", peer.to_string(), slot.name,
                whole.error().message());
    }
    return;
  }
  if (!*whole) return;  // more to come
  const Bytes& record = **whole;
  const auto kind = record.empty() ? 0 : record[0];
  const ByteView inner = record.empty() ? ByteView{} : ByteView(record).subspan(1);
  if (kind == static_cast<std::uint8_t>(RecordKind::data)) {
    on_data(t, peer, session, inner, false);
  } else if (kind == static_cast<std::uint8_t>(RecordKind::ephemeral)) {
    on_data(t, peer, session, inner, true);
  } else {
    meters.err_fragment->inc();
    log->warn("closing the {} session to {}: a reassembled record of kind {}", slot.name, peer.to_string(),
              kind);
    slot.transport->close(peer, {transport::CloseCode::malformed, "reassembled record of an unknown kind"});
  }
}

void Node::Impl::send_acks(const AckTarget& target, ByteView ids) {
  // An ack record is cut to the transport's MTU (16-byte ids, never split).
  auto send_on = [&](Transport& t) {
    const std::size_t per = std::max<std::size_t>(1, t.capabilities().mtu / 16) * 16;
    for (std::size_t off = 0; off < ids.size(); off += per)
      if (t.send(target.peer, RecordKind::ack, ids.subspan(off, std::min(per, ids.size() - off))))
        return false;
    return true;
  };
  if (target.transport) {
    auto& t = *slot(target.transport).transport;
    if (t.session(target.peer) == target.session && send_on(t)) return;
  }
  // That session is gone: any live one to the peer carries the ack (acks are end-to-end).
  for (auto& slot : transports)
    if (slot.transport->session(target.peer) && send_on(*slot.transport)) return;
}

void Node::Impl::advance_delivery() {
  auto due = delivery.advance();
  if (due.timeouts.empty() && due.expired.empty()) return;
  const auto now = clock->monotonic_ms();
  for (const auto& timeout : due.timeouts) on_ack_timeout(timeout, now);
  for (const auto& peer : due.resend) pump(peer);
  if (due.expired.empty()) return;
  store::WriteBatch batch;
  for (const auto& id : due.expired)
    if (const auto* m = delivery.find(id))
      batch.outbox_updates.push_back(store::OutboxUpdate{id.bytes, store::OutboxState::failed, "", m->reason,
                                                         m->updated_ms, m->attempts - m->stored_attempts});
  stage(std::move(batch), nullptr);
}

void Node::Impl::on_ack_timeout(const delivery::DeliveryCore::AckTimeout& timeout, std::uint64_t now) {
  const auto t = timeout.transport.index();
  auto& state = peers[timeout.peer];
  meters.err_timeout->inc();
  if (now >= state.degraded_until[t])
    log->warn("no ack from {} over {} within {} ms: {} is degraded for this peer for {} ms{}",
              timeout.peer.to_string(), transports[t].name, transports[t].ack_timeout_ms, transports[t].name,
              config.failover_timeout_ms, timeout.failed_over ? "; failing over" : "");
  ++state.failures[t];
  state.degraded_until[t] = now + config.failover_timeout_ms;
}

void Node::Impl::on_session_up(Transport& t, const PeerId& peer, std::uint64_t session) {
  assert_on_strand();
  const auto i = index_of(t);
  if (!i) return;
  if (!admit_session(i, peer)) return;
  auto& slot = this->slot(i);
  auto& state = peers[peer];
  state.sessions.insert(i);
  state.degraded_until[i.index()] = 0;
  const auto now = now_ms();  // wall clock: last_seen is stored
  const auto info = t.session_info(peer);
  if (is_relay_transport(i) && info && info->next_hop)
    routing.add_server(peer, *info->next_hop, slot.name, now);
  else if (info && info->hops > 1 && info->next_hop)
    routing.add_mesh(peer, *info->next_hop, slot.name, info->hops, now);
  else
    routing.set_direct(peer, slot.name, now);
  state.last_seen_ms = now;
  ++counters.links_up;
  report_link_connectivity();
  log->info("{} session up: {} ({} {})", slot.name, peer.to_string(),
            info && info->initiator ? "dialed" : "accepted", info ? info->remote_address : "");
  if (state.known) {  // a known peer: its last_seen is kept; strangers leave no row
    store::WriteBatch batch;
    batch.peer_upserts.push_back(store::PeerRow{Bytes(peer.bytes().begin(), peer.bytes().end()), {}, now});
    stage(std::move(batch), nullptr);
  }
  if (chain.search(peer)) chain.connected(peer);
  push_own_record(i, peer);  // so the peer can answer queries for this node
  carrier_session_up(i, peer);
  // A direct session replaces a relayed one: the circuit is closed, its traffic moves over.
  if (!is_relay_transport(i) && slot.transport->type() == "tcp" && relay_transport &&
      relay_transport->session(peer)) {
    if (punches.contains(peer)) ++punch_successes;
    log->info("a direct session to {} replaces the relayed one", peer.to_string());
    relay_transport->close(peer,
                           {transport::CloseCode::replaced, "a direct session replaced the relayed one"});
  }
  // Everything unacknowledged is looked at again: it may go over the new session.
  delivery.session_up(i, peer);
  pump(peer);
  if (files) files->on_session(peer, true);
}

void Node::Impl::on_session_down(Transport& t, const PeerId& peer, std::uint64_t session,
                                 const transport::CloseReason& reason) {
  assert_on_strand();
  const auto index = index_of(t);
  if (!index) return;
  auto& slot = this->slot(index);
  auto& state = peers[peer];
  if (running && !reason.orderly()) meters.err_link->inc();
  log->info("{} session down: {}: {}", slot.name, peer.to_string(), reason.text());
  if (!state.sessions.contains(index)) return;  // refused by the pool: never counted as up
  state.sessions.erase(index);
  reassembler.drop_peer(reassembly_key(index, peer));  // the sender resends whole messages
  release_session(index, peer);
  carrier_session_down(index, peer);
  ++counters.links_down;
  report_link_connectivity();
  // What was in flight on that session goes out again, over another transport if one is up.
  delivery.session_down(index, peer, session);
  busy_peers.erase(fairness_key(peer));
  if (state.sessions.empty()) chain.disconnected(peer);
  if (running && !state.sessions.empty()) pump(peer);
  if (running) drain();  // what it had in the transmit queue leaves it (and waits in the outbox)
  if (files) files->on_session(peer, !state.sessions.empty());
}

void Node::Impl::on_record(Transport& t, const PeerId& peer, std::uint64_t session, RecordKind kind,
                           ByteView body) {
  assert_on_strand();
  const auto i = index_of(t);
  if (!i) return;
  switch (kind) {
    case RecordKind::data:
      on_data(i, peer, session, body, false);
      break;
    case RecordKind::ephemeral:
      on_data(i, peer, session, body, true);
      break;
    case RecordKind::ack:
      on_ack(i, peer, body);
      break;
    case RecordKind::fragment:
      on_fragment(i, peer, session, body);
      break;
    case RecordKind::discovery:
      on_discovery(i, peer, session, body);
      break;
    case RecordKind::relay:
      on_relay(i, peer, body);
      break;
  }
}

void Node::Impl::on_drained(Transport& t, const PeerId& peer) {
  if (t.type() == "tcp") carrier_drained(peer);
  busy_peers.erase(fairness_key(peer));
  pump(peer);
  if (files) files->on_drained(peer);
}

void Node::Impl::on_availability(Transport& t, bool available, const std::string& reason) {
  const auto i = index_of(t);
  if (!i) return;
  log->info("transport {} is {}: {}", slot(i).name, available ? "available" : "unavailable", reason);
  report_link_connectivity();
  // Whatever it was carrying goes out again over the others.
  if (!available) delivery.transport_unavailable(i);
  reroute_all();
}

void Node::Impl::reroute_all() {
  delivery.rewind_all();
  if (!running) return;
  std::vector<PeerId> with_sessions;
  for (const auto& [peer, state] : peers)
    if (!state.sessions.empty()) with_sessions.push_back(peer);
  for (const auto& peer : with_sessions) pump(peer);
}

bool Node::Impl::wants_session(Transport& t, const PeerId& peer) {
  // With idle trimming, sessions are made on demand: only for a peer that has something waiting.
  // A search that found the peer wants its session too (`hyphae find`).
  // A relay this node keeps a reservation at is wanted too.
  return config.connection_idle_timeout_ms == 0 || has_pending(peer) || chain.running_for(peer) ||
         (relay_transport && &t != relay_transport &&
          (relay_transport->wants_relay(peer) || carriers_wanted.contains(peer)));
}

std::error_code Node::Impl::give_addresses(const PeerId& peer, const std::vector<std::string>& addresses) {
  if (transports.empty()) return Errc::unsupported;
  std::map<std::size_t, std::vector<std::string>> by_transport;
  for (const auto& a : addresses) {
    auto [name, address] = split_transport_address(a);
    auto t = name.empty() ? TransportIndex(0) : find_transport(name);
    // A WebSocket or WebRTC address: the first transport of that type.
    const std::string_view type = !name.empty()                            ? std::string_view()
                                  : ws::parse_webrtc_star_address(address) ? "webrtc"
                                  : ws::parse_ws_address(address)          ? "websocket"
                                                                           : std::string_view();
    if (!type.empty()) {
      for (std::size_t i = 0; i < transports.size(); ++i)
        if (transports[i].transport->type() == type) {
          t = TransportIndex(i);
          break;
        }
    }
    if (!t) return Errc::invalid_argument;  // names no transport of this node
    by_transport[t.index()].push_back(std::move(address));
  }
  for (const auto& [i, list] : by_transport)
    if (auto ec = transports[i].transport->add_addresses(peer, list)) return ec;
  return {};
}

std::vector<std::string> Node::transport_names() const {
  std::vector<std::string> out;
  for (const auto& t : impl_->transports) out.push_back(t.name);
  return out;
}

std::vector<TransportStatus> Node::transport_status() const {
  std::vector<TransportStatus> out;
  const auto now = impl_->clock->monotonic_ms();
  for (std::size_t i = 0; i < impl_->transports.size(); ++i) {
    const auto& slot = impl_->transports[i];
    std::size_t degraded = 0;
    for (const auto& [peer, state] : impl_->peers)
      if (now < state.degraded_until[i]) ++degraded;
    out.push_back(TransportStatus{slot.name, slot.transport.get(), degraded, slot.wins, slot.failovers_to,
                                  slot.fault != nullptr});
  }
  return out;
}

std::error_code Node::inject_fault(std::string_view transport, std::string_view mode, std::uint64_t delay_ms,
                                   double loss) {
  const auto t = impl_->find_transport(transport);
  if (!t) return Errc::not_found;
  auto& slot = impl_->slot(t);
  if (!slot.fault) return Errc::unsupported;
  auto m = transport::fault_mode_from_string(mode);
  if (!m || loss < 0 || loss > 1) return Errc::invalid_argument;
  impl_->log->warn("fault injected on {}: {} (delay {} ms, loss {})", slot.name, mode, delay_ms, loss);
  slot.fault->set_fault(transport::Fault{*m, delay_ms, loss});
  return {};
}

}  // namespace hyphae
