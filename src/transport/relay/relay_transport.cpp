// RelayTransport: relayed sessions over circuits, and this node's reservations (see the header).
#include "transport/relay/relay_transport.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/identity.hpp"
#include "transport/stream/record_kinds.hpp"

namespace hyphae::transport {

using relay::RelayMessage;
using relay::RelayStatus;
using relay::RelayType;

namespace {

std::optional<PeerId> relay_address(std::string_view text) {
  constexpr std::string_view prefix = "/p2p/", suffix = "/p2p-circuit";
  if (text.starts_with(prefix) && text.ends_with(suffix))
    text = text.substr(prefix.size(), text.size() - prefix.size() - suffix.size());
  auto peer = PeerId::from_string(text);
  if (!peer) return std::nullopt;
  return *peer;
}

}  // namespace

RelayTransport::RelayTransport(TransportContext context, RelayCarrier& carrier, std::size_t max_reservations)
    : context_(std::move(context)),
      carrier_(carrier),
      log_(logger_for(context_)),
      static_key_(noise::KeyPair::generate()),
      max_reservations_(max_reservations) {
  // A relayed link: the relay's hop adds latency and shares its bandwidth; the session inside is
  // end-to-end Noise, so records need no signature of their own. A record spans data messages, so
  // the MTU is the largest record, like TCP's.
  caps_ = router::Capabilities::websocket_preset();
  caps_.typical_latency_ms = 200;
  caps_.bandwidth_bps = 10'000'000;
  const std::size_t records = context_.max_record_bytes ? context_.max_record_bytes : std::size_t{1} << 20;
  caps_.mtu = static_cast<std::uint32_t>(std::min<std::size_t>(records, 1u << 30));
  caps_.max_message_size = caps_.mtu;
}

RelayTransport::~RelayTransport() {
  *alive_ = false;
}

std::uint64_t RelayTransport::now() const {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

std::error_code RelayTransport::start() {
  running_ = true;
  return {};
}

void RelayTransport::stop() {
  if (!running_) return;
  running_ = false;
  std::vector<Key> keys;
  for (const auto& [key, c] : circuits_) keys.push_back(key);
  for (const auto& key : keys) drop(key, {CloseCode::stopping, "the node is stopping"}, true);
  reserved_.clear();
}

std::uint64_t RelayTransport::session(const PeerId& peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.live) return 0;
  auto c = circuits_.find(*it->second.live);
  return c != circuits_.end() && c->second.reported ? c->second.session_id : 0;
}

std::error_code RelayTransport::send(const PeerId& peer, RecordKind kind, ByteView body) {
  if (!running_) return make_error_code(Errc::closed);
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.live) return make_error_code(Errc::no_link);
  auto c = circuits_.find(*it->second.live);
  if (c == circuits_.end() || !c->second.reported) return make_error_code(Errc::no_link);
  const auto type = stream::record_type_of(kind);
  if (body.size() > caps_.mtu) return make_error_code(Errc::too_large);
  if (carrier_.carrier_backlog(c->second.relay) > kMaxCarrierBacklog)
    return make_error_code(Errc::backpressure);
  c->second.link->queue(type, body);
  ++c->second.records_out;
  // Sealed after the current burst: the records the node hands over in one go share Noise frames
  // and data messages (as a TCP link's write loop batches them).
  if (c->second.link->pending_bytes() >= kFlushBytes) return flush(c->second);
  if (!flush_posted_) {
    flush_posted_ = true;
    boost::asio::post(context_.strand, [this, alive = alive_] {
      if (!*alive) return;
      flush_posted_ = false;
      for (auto& [key, circuit] : circuits_)
        if (circuit.link && circuit.reported) flush(circuit);
    });
  }
  return {};
}

std::error_code RelayTransport::flush(Circuit& c) {
  if (!c.link->has_pending()) return {};
  wire_.clear();
  c.link->seal(wire_);
  for (std::size_t at = 0; at < wire_.size();) {
    const std::size_t n = std::min(relay::kMaxRelayData - 64, wire_.size() - at);
    relay::encode_relay_data(message_, RelayType::data, c.id, ByteView(wire_.data() + at, n));
    if (auto ec = carrier_.send_to_relay(c.relay, message_); ec && ec != Errc::backpressure) return ec;
    c.bytes_out += n;
    at += n;
  }
  return {};
}

std::size_t RelayTransport::backlog(const PeerId& peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.live) return 0;
  auto c = circuits_.find(*it->second.live);
  const std::size_t queued = c != circuits_.end() && c->second.link ? c->second.link->pending_bytes() : 0;
  return queued + carrier_.carrier_backlog(it->second.live->relay);
}

void RelayTransport::close(const PeerId& peer, const CloseReason& reason) {
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.live) return;
  const Key key = *it->second.live;
  if (auto c = circuits_.find(key); c != circuits_.end() && c->second.reported) {
    const auto text = reason.text();
    c->second.link->queue(stream::RecordType::close, as_bytes(text));
    flush(c->second);
  }
  drop(key, reason, true);
}

std::optional<SessionInfo> RelayTransport::session_info(const PeerId& peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.live) return std::nullopt;
  auto c = circuits_.find(*it->second.live);
  if (c == circuits_.end() || !c->second.reported) return std::nullopt;
  const auto& circuit = c->second;
  SessionInfo info;
  info.id = circuit.session_id;
  info.initiator = circuit.initiator;
  info.remote_address = "/p2p/" + circuit.relay.to_string() + "/p2p-circuit/p2p/" + peer.to_string();
  info.age_ms = now() - circuit.started_ms;
  info.bytes_in = circuit.bytes_in;
  info.bytes_out = circuit.bytes_out;
  info.records_in = circuit.records_in;
  info.records_out = circuit.records_out;
  info.hops = 2;
  info.next_hop = circuit.relay;
  return info;
}

std::vector<PeerId> RelayTransport::peers_with_sessions() const {
  std::vector<PeerId> out;
  for (const auto& [peer, state] : peers_)
    if (session(peer)) out.push_back(peer);
  return out;
}

std::optional<PeerId> RelayTransport::relay_of(const PeerId& peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.live) return std::nullopt;
  return it->second.live->relay;
}

std::optional<std::string> RelayTransport::observed_address(const PeerId& peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.live) return std::nullopt;
  auto c = circuits_.find(*it->second.live);
  if (c == circuits_.end() || c->second.observed.empty()) return std::nullopt;
  return c->second.observed;
}

std::error_code RelayTransport::add_addresses(const PeerId& peer, const std::vector<std::string>& addresses) {
  std::vector<PeerId> relays;
  for (const auto& a : addresses) {
    auto relay = relay_address(a);
    if (!relay) return make_error_code(Errc::invalid_argument);
    if (*relay != peer && *relay != context_.identity->peer_id()) relays.push_back(*relay);
  }
  if (relays.empty()) return {};
  if (!peers_.contains(peer) && peers_.size() >= kMaxPeers) {
    // Forget a peer without a circuit to make room (addresses come back with its record).
    for (auto it = peers_.begin(); it != peers_.end(); ++it)
      if (!it->second.live && !it->second.dialing) {
        peers_.erase(it);
        break;
      }
    if (peers_.size() >= kMaxPeers) return make_error_code(Errc::backpressure);
  }
  auto& state = peers_[peer];
  for (const auto& r : relays) {
    auto at = std::find(state.relays.begin(), state.relays.end(), r);
    if (at != state.relays.end()) state.relays.erase(at);
    state.relays.insert(state.relays.begin(), r);  // the newest first
  }
  if (state.relays.size() > kMaxRelaysPerPeer) state.relays.resize(kMaxRelaysPerPeer);
  state.next_relay = 0;
  return {};
}

void RelayTransport::connect_soon(const PeerId& peer) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  it->second.next_dial_ms = 0;
  it->second.backoff_ms = 0;
}

void RelayTransport::tick(std::uint64_t) {
  if (!running_) return;
  const auto t = now();
  // Circuits that did not open or finish their handshake in time.
  std::vector<Key> late;
  for (const auto& [key, c] : circuits_)
    if (!c.reported && c.deadline_ms <= t) late.push_back(key);
  for (const auto& key : late) {
    ++circuits_failed_;
    drop(key, {CloseCode::handshake_timeout, "the relayed circuit did not open in time"}, true);
  }
  // Reservations: ask where wanted, renew at half their lifetime, retry refusals later.
  for (const auto& relay : wanted_) {
    auto& held = reserved_[relay];
    if (!carrier_.carrier_up(relay)) {
      if (t >= held.carrier_asked_ms + 1000) {
        held.carrier_asked_ms = t;
        carrier_.want_carrier(relay);
      }
      continue;
    }
    const bool due = held.terms.expires_ms
                         ? t >= held.terms.expires_ms - (held.terms.expires_ms - held.asked_ms) / 2
                         : t >= held.retry_ms;
    if (due && !(held.asked && t < held.asked_ms + 10'000)) ask_reservation(relay, t);
  }
  // Dials: peers the node wants a session with and that have a relay.
  for (auto& [peer, state] : peers_) {
    if (state.live || state.dialing || state.relays.empty() || t < state.next_dial_ms) continue;
    if (!context_.sink->wants_session(*this, peer)) continue;
    dial(peer, state, t);
  }
}

void RelayTransport::ask_reservation(const PeerId& relay, std::uint64_t t) {
  auto& held = reserved_[relay];
  held.asked = true;
  held.asked_ms = t;
  RelayMessage m;
  m.type = RelayType::reserve;
  carrier_.send_to_relay(relay, encode_relay_message(m));
}

void RelayTransport::dial(const PeerId& peer, PeerState& state, std::uint64_t t) {
  if (circuits_.size() >= kMaxCircuits) return;
  // The first relay in turn with a live link; the others are dialed for next time.
  std::optional<PeerId> via;
  for (std::size_t i = 0; i < state.relays.size() && !via; ++i) {
    const auto& r = state.relays[(state.next_relay + i) % state.relays.size()];
    if (carrier_.carrier_up(r)) {
      via = r;
      state.next_relay = (state.next_relay + i + 1) % state.relays.size();
    }
  }
  if (!via) {
    for (const auto& r : state.relays) carrier_.want_carrier(r);
    state.next_dial_ms = t + 500;
    return;
  }
  const std::uint64_t id = next_circuit_++;
  Circuit c;
  c.relay = *via;
  c.remote = peer;
  c.id = id;
  c.initiator = true;
  c.started_ms = t;
  c.deadline_ms = t + context_.handshake_timeout_ms + 5000;
  state.dialing = true;
  state.live = Key{*via, id};
  circuits_.emplace(Key{*via, id}, std::move(c));
  RelayMessage m;
  m.type = RelayType::connect;
  m.circuit = id;
  m.peer = peer;
  log_->debug("transport {}: asking {} for a circuit to {}", context_.name, via->to_string(),
              peer.to_string());
  carrier_.send_to_relay(*via, encode_relay_message(m));
  if (on_circuit_requested) on_circuit_requested(peer);
}

void RelayTransport::dial_failed(const PeerId& peer, std::uint64_t t) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  auto& s = it->second;
  s.dialing = false;
  s.backoff_ms =
      s.backoff_ms ? std::min(s.backoff_ms * 2, context_.reconnect_max_ms) : context_.reconnect_min_ms;
  s.next_dial_ms = t + s.backoff_ms;
}

void RelayTransport::on_relay_message(const PeerId& relay, const RelayMessage& m) {
  if (!running_) return;
  const auto t = now();
  switch (m.type) {
    case RelayType::reserved: {
      auto it = reserved_.find(relay);
      if (it == reserved_.end() || !wanted_.contains(relay)) return;  // not asked for
      const bool fresh = it->second.terms.expires_ms <= t;
      it->second.asked = false;
      it->second.asked_ms = t;
      it->second.terms = Reservation{t + std::max<std::uint64_t>(m.ttl_ms, 1000), m.max_bytes,
                                     m.max_duration_ms, m.max_circuits};
      if (fresh) {
        log_->info("transport {}: reservation at relay {} for {} s", context_.name, relay.to_string(),
                   m.ttl_ms / 1000);
        if (on_reservations_changed) on_reservations_changed();
      }
      return;
    }
    case RelayType::refused: {
      auto it = reserved_.find(relay);
      if (it == reserved_.end()) return;
      log_->warn("transport {}: relay {} refused a reservation: {}", context_.name, relay.to_string(),
                 relay::to_string(m.status));
      const bool had = it->second.terms.expires_ms > t;
      it->second = Held{{}, false, t, t + 60'000};
      if (had && on_reservations_changed) on_reservations_changed();
      return;
    }
    case RelayType::incoming:
      return on_incoming(relay, m, t);
    case RelayType::connected:
      if (auto it = circuits_.find(Key{relay, m.circuit}); it != circuits_.end())
        it->second.observed = m.observed;
      return on_connected(relay, m.circuit);
    case RelayType::relayed:
      return on_data(relay, m.circuit, m.data);
    case RelayType::closed: {
      auto it = circuits_.find(Key{relay, m.circuit});
      if (it == circuits_.end()) return;
      if (!it->second.reported) {
        ++circuits_refused_;
        log_->info("transport {}: circuit to {} via {} refused: {}", context_.name,
                   it->second.remote.to_string(), relay.to_string(), relay::to_string(m.status));
      }
      drop(Key{relay, m.circuit},
           {CloseCode::remote, std::string("relay: ") + std::string(relay::to_string(m.status))}, false);
      return;
    }
    default:
      return;  // store results are the node's
  }
}

void RelayTransport::on_incoming(const PeerId& relay, const RelayMessage& m, std::uint64_t t) {
  const auto refuse = [&] {
    ++circuits_refused_;
    RelayMessage no;
    no.type = RelayType::close;
    no.circuit = m.circuit;
    no.status = RelayStatus::refused_by_target;
    carrier_.send_to_relay(relay, encode_relay_message(no));
  };
  auto held = reserved_.find(relay);
  if (held == reserved_.end() || held->second.terms.expires_ms <= t ||
      !(m.circuit & relay::kRelayCircuitBit) || circuits_.size() >= kMaxCircuits ||
      circuits_.contains(Key{relay, m.circuit}) || *m.peer == context_.identity->peer_id())
    return refuse();
  Circuit c;
  c.relay = relay;
  c.remote = *m.peer;
  c.id = m.circuit;
  c.initiator = false;
  c.observed = m.observed;
  c.started_ms = t;
  c.deadline_ms = t + context_.handshake_timeout_ms;
  // The relay's word for who is calling is checked by the handshake: the remote must prove that PeerId.
  c.link = std::make_unique<stream::LinkSession>(*context_.identity, static_key_, false, *m.peer,
                                                 stream::LinkLimits{context_.max_record_bytes + 64});
  circuits_.emplace(Key{relay, m.circuit}, std::move(c));
  RelayMessage yes;
  yes.type = RelayType::accept;
  yes.circuit = m.circuit;
  carrier_.send_to_relay(relay, encode_relay_message(yes));
}

void RelayTransport::on_connected(const PeerId& relay, std::uint64_t circuit) {
  auto it = circuits_.find(Key{relay, circuit});
  if (it == circuits_.end() || !it->second.initiator || it->second.link) return;
  auto& c = it->second;
  c.link = std::make_unique<stream::LinkSession>(*context_.identity, static_key_, true, c.remote,
                                                 stream::LinkLimits{context_.max_record_bytes + 64});
  const Bytes first = c.link->start();
  relay::encode_relay_data(message_, RelayType::data, c.id, first);
  c.bytes_out += first.size();
  carrier_.send_to_relay(relay, message_);
}

void RelayTransport::on_data(const PeerId& relay, std::uint64_t circuit, ByteView data) {
  const Key key{relay, circuit};
  auto it = circuits_.find(key);
  if (it == circuits_.end() || !it->second.link) return;
  auto& c = it->second;
  c.bytes_in += data.size();
  Bytes to_send;
  bool close_now = false;
  CloseReason why;
  // Records are collected first: the node's handling of one may close this very circuit.
  std::vector<std::pair<stream::RecordType, Bytes>> records;
  auto ec = c.link->on_bytes(data, to_send, [&](const stream::Record& r) {
    if (r.type == stream::RecordType::close) {
      close_now = true;
      why = {CloseCode::remote, std::string(reinterpret_cast<const char*>(r.body.data()), r.body.size())};
      return;
    }
    if (r.type == stream::RecordType::ping || r.type == stream::RecordType::pong) return;
    records.emplace_back(r.type, Bytes(r.body.begin(), r.body.end()));
  });
  if (!to_send.empty()) {
    relay::encode_relay_data(message_, RelayType::data, c.id, to_send);
    c.bytes_out += to_send.size();
    carrier_.send_to_relay(relay, message_);
  }
  if (ec) {
    ++circuits_failed_;
    log_->warn("transport {}: closing the circuit with {} via {}: {}", context_.name, c.remote.to_string(),
               relay.to_string(), ec.message());
    return drop(key, {c.reported ? CloseCode::protocol_error : CloseCode::handshake_failed, ec.message()},
                true);
  }
  if (c.link->established() && !c.reported) established(key, c);
  const PeerId remote = c.remote;
  const std::uint64_t session = c.session_id;
  for (auto& [type, body] : records) {
    auto still = circuits_.find(key);
    if (still == circuits_.end() || !still->second.reported) break;
    ++still->second.records_in;
    if (auto kind = stream::record_kind_of(type))
      context_.sink->on_record(*this, remote, session, *kind, body);
  }
  if (close_now) drop(key, why, false);
}

void RelayTransport::established(const Key& key, Circuit& c) {
  auto& state = peers_[c.remote];
  // Two circuits to one peer (both dialed at once): keep the one dialed by the smaller PeerId, so
  // both ends keep the same one; a circuit replacing an older one from the same side wins.
  if (state.live && !(*state.live == key)) {
    auto other = circuits_.find(*state.live);
    if (other != circuits_.end() && other->second.reported) {
      const PeerId& self = context_.identity->peer_id();
      const bool mine_smaller = self < c.remote;
      const bool keep_new = c.initiator == other->second.initiator || c.initiator == mine_smaller;
      if (!keep_new) {
        c.reported = true;  // so drop() sends close without reporting a session
        c.session_id = 0;
        drop(key, {CloseCode::duplicate, "another circuit to the peer is kept"}, true);
        return;
      }
      drop(*state.live, {CloseCode::duplicate, "replaced by a newer circuit"}, true);
    }
  }
  state.live = key;
  state.dialing = false;
  state.backoff_ms = 0;
  c.reported = true;
  c.session_id = next_session_id();
  ++circuits_opened_;
  log_->info("transport {}: relayed session with {} via {}", context_.name, c.remote.to_string(),
             c.relay.to_string());
  context_.sink->on_session_up(*this, c.remote, c.session_id);
}

void RelayTransport::drop(const Key& key, const CloseReason& reason, bool tell_relay) {
  auto it = circuits_.find(key);
  if (it == circuits_.end()) return;
  Circuit c = std::move(it->second);
  circuits_.erase(it);
  if (tell_relay && carrier_.carrier_up(c.relay)) {
    RelayMessage m;
    m.type = RelayType::close;
    m.circuit = c.id;
    m.status = RelayStatus::closed_by_peer;
    carrier_.send_to_relay(c.relay, encode_relay_message(m));
  }
  auto p = peers_.find(c.remote);
  const bool was_live = p != peers_.end() && p->second.live && *p->second.live == key;
  if (was_live) {
    p->second.live.reset();
    if (!c.session_id) dial_failed(c.remote, now());
  }
  if (was_live && c.session_id) {
    p->second.dialing = false;
    context_.sink->on_session_down(*this, c.remote, c.session_id, reason);
  }
  if (p != peers_.end() && p->second.relays.empty() && !p->second.live) peers_.erase(p);
}

void RelayTransport::on_carrier_up(const PeerId& relay) {
  if (wanted_.contains(relay) && running_) ask_reservation(relay, now());
}

void RelayTransport::on_carrier_down(const PeerId& relay) {
  std::vector<Key> keys;
  for (const auto& [key, c] : circuits_)
    if (key.relay == relay) keys.push_back(key);
  for (const auto& key : keys) drop(key, {CloseCode::io_error, "the link to the relay went down"}, false);
  auto it = reserved_.find(relay);
  if (it != reserved_.end()) {
    const bool had = it->second.terms.expires_ms > now();
    reserved_.erase(it);
    if (had && on_reservations_changed) on_reservations_changed();
  }
}

void RelayTransport::on_carrier_drained(const PeerId& relay) {
  std::vector<PeerId> remotes;
  for (const auto& [key, c] : circuits_)
    if (key.relay == relay && c.reported) remotes.push_back(c.remote);
  for (const auto& r : remotes) context_.sink->on_drained(*this, r);
}

bool RelayTransport::want_relay(const PeerId& relay) {
  if (relay == context_.identity->peer_id() || wanted_.contains(relay) || wanted_.size() >= max_reservations_)
    return false;
  wanted_.insert(relay);
  if (running_ && carrier_.carrier_up(relay)) ask_reservation(relay, now());
  return true;
}

std::vector<PeerId> RelayTransport::reserved_relays() const {
  std::vector<PeerId> out;
  const auto t = now();
  for (const auto& [relay, held] : reserved_)
    if (held.terms.expires_ms > t) out.push_back(relay);
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json RelayTransport::status_json() const {
  auto reservations = nlohmann::json::array();
  const auto t = now();
  for (const auto& [relay, held] : reserved_)
    if (held.terms.expires_ms > t)
      reservations.push_back({{"relay", relay.to_string()},
                              {"expires_in_ms", held.terms.expires_ms - t},
                              {"max_circuit_bytes", held.terms.max_bytes},
                              {"max_circuit_duration_ms", held.terms.max_duration_ms},
                              {"max_circuits", held.terms.max_circuits}});
  return {{"name", context_.name},
          {"type", kType},
          {"available", running_},
          {"sessions", peers_with_sessions().size()},
          {"circuits", circuits_.size()},
          {"circuits_opened", circuits_opened_},
          {"circuits_refused", circuits_refused_},
          {"circuits_failed", circuits_failed_},
          {"reservations", reservations},
          {"capabilities", capabilities_json(caps_)}};
}

}  // namespace hyphae::transport
