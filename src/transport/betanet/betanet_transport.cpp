#include "transport/betanet/betanet_transport.hpp"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include "betanet/route/route_chooser.hpp"
#include "core/clock.hpp"
#include "core/envelope.hpp"
#include "core/error.hpp"
#include "transport/betanet/betanet_record.hpp"
#include "transport/betanet/betanet_type.hpp"

namespace hyphae::transport {

namespace {

constexpr std::uint64_t kTopologyCheckMs = 250;

std::optional<betanet::PrivacyMode> mode_of(std::uint8_t mix_mode) {
  switch (mix_mode) {
    case 1:
      return betanet::PrivacyMode::strict;
    case 2:
      return betanet::PrivacyMode::balanced;
    case 3:
      return betanet::PrivacyMode::performance;
    default:
      return std::nullopt;
  }
}

std::uint8_t mode_code(std::string_view text) {
  if (text == "strict") return 1;
  if (text == "performance" || text == "false") return 3;
  return 2;  // balanced, true
}

betanet::MessageId random_id() {
  betanet::MessageId id{};
  randombytes_buf(id.data(), id.size());
  return id;
}

}  // namespace

std::expected<std::unique_ptr<Transport>, std::string> BetanetTransport::make(TransportContext context) {
  const auto schema = betanet_transport_type();
  const auto& o = context.options;
  betanet::MixnetEndpointOptions options;
  options.registry_url = schema.options.text(o, "registry");
  options.registry_peer = schema.options.text(o, "registry_peer");
  if (options.registry_url.empty() || options.registry_peer.empty())
    return std::unexpected("transport '" + context.name + "' (betanet) needs registry and registry_peer");
  options.token = schema.options.text(o, "token");
  options.network = schema.options.text(o, "network");
  options.group = schema.options.text(o, "group");
  options.listen = schema.options.text(o, "listen");
  if (!o.contains("listen") && o.contains("port")) options.listen = "127.0.0.1:" + o.at("port");
  const auto integer = [&](std::string_view key, std::uint64_t fallback) {
    return schema.options.integer(o, key, fallback);
  };
  auto epoch_s = integer("epoch_s", 3600);
  auto min_mixes = integer("min_mixes", 0);
  auto max_hops = integer("max_hops", 4);
  auto retry_min = integer("retry_min_ms", 2000);
  auto retry_max = integer("retry_max_ms", 6000);
  auto attempts = integer("max_attempts", 8);
  auto outstanding = integer("max_outstanding", 1024);
  for (const auto* v : {&epoch_s, &min_mixes, &max_hops, &retry_min, &retry_max, &attempts, &outstanding})
    if (!*v) return std::unexpected(v->error());
  if (*retry_max < *retry_min) return std::unexpected("retry_max_ms must not be below retry_min_ms");
  const auto mode = mode_code(schema.options.text(o, "privacy_mode"));
  const auto needed = betanet::min_mixes(*mode_of(mode));
  if (needed > *max_hops)
    return std::unexpected("transport '" + context.name + "': privacy_mode needs " + std::to_string(needed) +
                           " mixes but max_hops is " + std::to_string(*max_hops));
  auto loop_rate = schema.options.number(o, "loop_rate", 0.5);
  if (!loop_rate) return std::unexpected(loop_rate.error());
  options.loop_rate = *loop_rate;
  auto drop_rate = schema.options.number(o, "drop_rate", 0.5);
  if (!drop_rate) return std::unexpected(drop_rate.error());
  options.drop_rate = *drop_rate;
  options.epoch_ms = *epoch_s * 1000;
  options.min_mixes = *min_mixes;
  options.mixes_per_route = needed;
  options.delivery.retry_min_ms = *retry_min;
  options.delivery.retry_max_ms = *retry_max;
  options.delivery.max_attempts = static_cast<std::uint32_t>(*attempts);
  options.delivery.max_outstanding = *outstanding;
  options.delivery.auto_acknowledge = false;  // the node acks after its store committed

  auto caps = router::Capabilities::betanet_preset();
  caps.broadcast = caps.multicast = true;  // one private copy per endpoint
  caps.max_message_size = 64 * 1024;       // fragments: at most ~46 private messages
  caps.mtu = static_cast<std::uint32_t>(betanet::kMaxPrivatePayload - 3 - PeerId::kMaxSize -
                                        betanet_record::kSignatureBytes);
  auto applied = apply_capability_options(caps, o);
  if (!applied) return std::unexpected(applied.error());
  return std::unique_ptr<Transport>(
      new BetanetTransport(std::move(context), *applied, std::move(options), mode));
}

BetanetTransport::BetanetTransport(TransportContext context, router::Capabilities caps,
                                   betanet::MixnetEndpointOptions options, std::uint8_t default_mode)
    : context_(std::move(context)),
      caps_(caps),
      options_(std::move(options)),
      default_mode_(default_mode),
      log_(logger_for(context_)) {}

BetanetTransport::~BetanetTransport() {
  *alive_ = false;
  if (endpoint_) endpoint_->stop();
}

std::uint64_t BetanetTransport::now() const {
  return SystemClock().monotonic_ms();
}

std::error_code BetanetTransport::start() {
  if (running_) return {};
  betanet::MixnetEndpointCallbacks callbacks;
  std::weak_ptr<bool> alive = alive_;
  callbacks.on_delivered = [this, alive](const betanet::MessageId& id, Bytes payload) {
    if (auto a = alive.lock(); a && *a) on_delivered(id, std::move(payload));
  };
  callbacks.on_acked = [this, alive](const betanet::MessageId& id) {
    if (auto a = alive.lock(); a && *a) on_acked(id);
  };
  callbacks.on_given_up = [this, alive](const betanet::MessageId& id) {
    if (auto a = alive.lock(); a && *a) on_given_up(id);
  };
  endpoint_ = std::make_unique<betanet::MixnetEndpoint>(context_.strand, *context_.identity, options_,
                                                        std::move(callbacks), log_);
  if (auto started = endpoint_->start(); !started) {
    log_->error("{}: the mixnet endpoint did not start: {}", name(), started.error());
    endpoint_.reset();
    return Errc::unsupported;
  }
  running_ = true;
  log_->info("{}: mixnet endpoint up, directory {} network {}, {} mixes per route by default", name(),
             options_.registry_url, options_.network, options_.mixes_per_route);
  return {};
}

void BetanetTransport::stop() {
  if (!running_) return;
  running_ = false;
  for (auto& [peer, state] : peers_) {
    if (!state.session) continue;
    const auto id = std::exchange(state.session, 0);
    context_.sink->on_session_down(*this, peer, id, {CloseCode::stopping, "the transport stopped"});
  }
  if (endpoint_) endpoint_->stop();
  if (available_) {
    available_ = false;
    context_.sink->on_availability(*this, false, "stopped");
  }
}

std::uint64_t BetanetTransport::session(const PeerId& peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.session;
}

std::size_t BetanetTransport::mixes_for(std::uint8_t mix_mode) const {
  const auto mode = mode_of(mix_mode ? mix_mode : default_mode_);
  return mode ? betanet::min_mixes(*mode) : options_.mixes_per_route;
}

std::error_code BetanetTransport::send(const PeerId& peer, RecordKind kind, ByteView body) {
  return send_hinted(peer, kind, body, {});
}

std::error_code BetanetTransport::send_hinted(const PeerId& peer, RecordKind kind, ByteView body,
                                              const RecordHints& hints) {
  if (!running_ || !endpoint_) return Errc::closed;
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.session) return Errc::no_link;
  if (kind == RecordKind::relay) return Errc::unsupported;  // relays need a direct link
  const std::size_t mixes = mixes_for(hints.mix_mode);
  std::optional<betanet::MessageId> id;
  if (kind == RecordKind::ack) {
    if (body.empty() || body.size() % betanet::kMessageIdBytes != 0) return Errc::invalid_argument;
    // Acks of messages whose reply block this node holds go back through it; the rest as a record.
    Bytes rest;
    for (std::size_t at = 0; at < body.size(); at += betanet::kMessageIdBytes) {
      betanet::MessageId acked{};
      std::copy_n(body.begin() + static_cast<std::ptrdiff_t>(at), acked.size(), acked.begin());
      if (endpoint_->acknowledge(acked))
        ++counters_.acks_by_reply_block;
      else
        rest.insert(rest.end(), acked.begin(), acked.end());
    }
    if (rest.empty()) return {};
    ++counters_.acks_as_records;
    return send_private(peer, static_cast<std::uint8_t>(kind), rest, mixes, std::nullopt);
  }
  if (body.size() > caps_.mtu) return Errc::too_large;
  if (kind == RecordKind::data) {
    // Its private id is its envelope id: the recipient's ack names it, and a resend while the
    // mixnet still carries it is the mixnet's to retransmit.
    if (auto env = decode_envelope(body, nullptr, EnvelopeLimits{body.size()})) {
      std::copy(env->id.bytes.begin(), env->id.bytes.end(), id.emplace().begin());
      if (endpoint_->in_flight(*id)) {
        ++counters_.resends_absorbed;
        return {};
      }
    }
  }
  return send_private(peer, static_cast<std::uint8_t>(kind), body, mixes, id);
}

std::error_code BetanetTransport::send_private(const PeerId& peer, std::uint8_t kind, ByteView body,
                                               std::size_t mixes,
                                               const std::optional<betanet::MessageId>& id) {
  auto& state = remember(peer);
  if (endpoint_->outstanding() >= options_.delivery.max_outstanding) {
    state.refused = true;
    return Errc::backpressure;
  }
  const auto private_id = id.value_or(random_id());
  const Bytes record = betanet_record::encode(*context_.identity, peer, private_id, kind, body);
  if (record.size() > betanet::kMaxPrivatePayload) return Errc::too_large;
  auto sent = endpoint_->send(private_id, peer, record, mixes);
  if (!sent) {
    log_->warn("{}: a record for {} was not sent: {}", name(), peer.to_string(), sent.error());
    return Errc::closed;
  }
  if (id && kind == static_cast<std::uint8_t>(RecordKind::data)) awaiting_ack_[private_id] = peer;
  ++counters_.records_sent;
  ++state.records_out;
  state.bytes_out += body.size();
  state.last_used_ms = now();
  return {};
}

BetanetTransport::PeerState& BetanetTransport::remember(const PeerId& peer) {
  auto it = peers_.find(peer);
  if (it != peers_.end()) return it->second;
  if (peers_.size() >= kMaxPeers) {
    // The least recently used peer without a session makes room.
    auto victim = peers_.end();
    for (auto p = peers_.begin(); p != peers_.end(); ++p)
      if (!p->second.session &&
          (victim == peers_.end() || p->second.last_used_ms < victim->second.last_used_ms))
        victim = p;
    if (victim != peers_.end()) peers_.erase(victim);
  }
  auto& state = peers_[peer];
  state.last_used_ms = now();
  return state;
}

void BetanetTransport::open_session(const PeerId& peer) {
  auto& state = remember(peer);
  if (state.session) return;
  state.session = context_.session_ids ? context_.session_ids->next() : own_ids_.next();
  state.opened_ms = now();
  state.bytes_in = state.bytes_out = state.records_in = state.records_out = 0;
  context_.sink->on_session_up(*this, peer, state.session);
}

void BetanetTransport::close(const PeerId& peer, const CloseReason& reason) {
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.session) return;
  const auto id = std::exchange(it->second.session, 0);
  context_.sink->on_session_down(*this, peer, id, reason);
}

std::optional<SessionInfo> BetanetTransport::session_info(const PeerId& peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.session) return std::nullopt;
  const auto& s = it->second;
  SessionInfo info;
  info.id = s.session;
  info.remote_address = "mixnet:" + options_.network;
  info.age_ms = now() - s.opened_ms;
  info.bytes_in = s.bytes_in;
  info.bytes_out = s.bytes_out;
  info.records_in = s.records_in;
  info.records_out = s.records_out;
  info.hops = static_cast<std::uint8_t>(mixes_for(0) + 1);
  return info;
}

std::vector<PeerId> BetanetTransport::peers_with_sessions() const {
  std::vector<PeerId> out;
  for (const auto& [peer, state] : peers_)
    if (state.session) out.push_back(peer);
  return out;
}

std::error_code BetanetTransport::add_addresses(const PeerId& peer,
                                                const std::vector<std::string>& addresses) {
  for (const auto& a : addresses)
    if (a.empty() || a.size() > 256) return Errc::invalid_argument;
  remember(peer);
  return {};
}

void BetanetTransport::connect_soon(const PeerId& peer) {
  if (peer == context_.identity->peer_id()) return;
  remember(peer).last_used_ms = now();
  last_check_ms_ = 0;  // look at the topology on the next tick
}

void BetanetTransport::tick(std::uint64_t now_ms) {
  if (!running_ || now_ms < last_check_ms_ + kTopologyCheckMs) return;
  last_check_ms_ = now_ms;
  check_topology();
}

void BetanetTransport::check_topology() {
  const bool usable = endpoint_->topology_epoch().has_value();
  if (usable != available_) {
    available_ = usable;
    context_.sink->on_availability(*this, usable,
                                   usable ? "the mix directory's topology arrived" : "no usable topology");
  }
  std::vector<PeerId> up, down;
  for (const auto& [peer, state] : peers_) {
    const bool reachable = usable && endpoint_->can_reach(peer);
    if (state.session && !reachable)
      down.push_back(peer);
    else if (!state.session && reachable && context_.sink->wants_session(*this, peer))
      up.push_back(peer);
  }
  for (const auto& peer : down) close(peer, {CloseCode::other, "the mix directory no longer lists the peer"});
  for (const auto& peer : up) open_session(peer);
}

void BetanetTransport::on_delivered(const betanet::MessageId& id, Bytes payload) {
  auto record = betanet_record::decode(payload, context_.identity->peer_id(), id);
  if (!record) {
    ++counters_.rejected;
    log_->warn("{}: a private message was refused: {}", name(), record.error());
    return;
  }
  const auto& sender = record->sender;
  if (sender == context_.identity->peer_id()) {
    ++counters_.rejected;
    return;
  }
  ++counters_.records_received;
  if (record->kind == betanet_record::kBroadcast) {
    endpoint_->acknowledge(id);
    auto body = betanet_record::decode_broadcast_body(record->body);
    if (!body) {
      ++counters_.rejected;
      log_->warn("{}: a broadcast from {} was refused: {}", name(), sender.to_string(), body.error());
      return;
    }
    ++counters_.broadcasts_received;
    BroadcastMessage m;
    m.channel = std::move(body->channel);
    m.payload = std::move(body->payload);
    m.sender = sender;
    m.verified = true;
    m.timestamp_ms = body->timestamp_ms;
    context_.sink->on_broadcast(*this, m);
    return;
  }
  const auto kind = static_cast<RecordKind>(record->kind);
  switch (kind) {
    case RecordKind::data:
      break;  // acknowledged when the node acks it
    case RecordKind::ack:
    case RecordKind::ephemeral:
    case RecordKind::fragment:
    case RecordKind::discovery:
      endpoint_->acknowledge(id);
      break;
    default:  // relay messages need a direct link; unknown kinds are a later version's
      endpoint_->acknowledge(id);
      ++counters_.rejected;
      log_->warn("{}: a record of kind {} from {} was dropped", name(), record->kind, sender.to_string());
      return;
  }
  // A peer that wrote to this node has a session: the node answers over it.
  open_session(sender);
  auto& state = peers_[sender];
  if (!state.session) return;  // the node refused the session
  ++state.records_in;
  state.bytes_in += record->body.size();
  state.last_used_ms = now();
  context_.sink->on_record(*this, sender, state.session, kind, record->body);
}

void BetanetTransport::on_acked(const betanet::MessageId& id) {
  auto it = awaiting_ack_.find(id);
  if (it != awaiting_ack_.end()) {
    const PeerId peer = it->second;
    awaiting_ack_.erase(it);
    // The recipient's node committed it: the ack record it would have sent, from its reply block.
    context_.sink->on_record(*this, peer, session(peer), RecordKind::ack, ByteView(id.data(), id.size()));
  }
  wake_refused();
}

void BetanetTransport::on_given_up(const betanet::MessageId& id) {
  ++counters_.given_up;
  if (auto it = awaiting_ack_.find(id); it != awaiting_ack_.end()) {
    log_->info("{}: message {} to {} went unacknowledged through the mixnet; the outbox keeps it", name(),
               to_hex(ByteView(id.data(), id.size())), it->second.to_string());
    awaiting_ack_.erase(it);
  }
  wake_refused();
}

void BetanetTransport::wake_refused() {
  if (endpoint_->outstanding() >= options_.delivery.max_outstanding) return;
  std::vector<PeerId> refused;
  for (auto& [peer, state] : peers_)
    if (std::exchange(state.refused, false)) refused.push_back(peer);
  for (const auto& peer : refused) context_.sink->on_drained(*this, peer);
}

std::error_code BetanetTransport::broadcast(std::string_view channel, ByteView payload) {
  if (!running_ || !endpoint_ || !available_) return Errc::no_link;
  if (channel.size() > betanet_record::kMaxChannel) return Errc::invalid_argument;
  const Bytes body = betanet_record::encode_broadcast_body(channel, SystemClock().wall_ms(), payload);
  if (body.size() > caps_.mtu) return Errc::too_large;
  const auto endpoints = endpoint_->endpoints();
  if (endpoints.empty()) return Errc::no_link;
  if (endpoint_->outstanding() + endpoints.size() > options_.delivery.max_outstanding)
    return Errc::backpressure;
  std::size_t sent = 0;
  for (const auto& peer : endpoints) {
    const auto id = random_id();
    const Bytes record =
        betanet_record::encode(*context_.identity, peer, id, betanet_record::kBroadcast, body);
    if (endpoint_->send(id, peer, record, mixes_for(0))) ++sent;
  }
  if (sent == 0) return Errc::no_link;
  ++counters_.broadcasts_sent;
  return {};
}

nlohmann::json BetanetTransport::status_json() const {
  nlohmann::json j;
  j["name"] = context_.name;
  j["type"] = kType;
  j["available"] = available_;
  std::size_t sessions = 0;
  for (const auto& [peer, state] : peers_) sessions += state.session ? 1 : 0;
  j["sessions"] = sessions;
  j["peers"] = peers_.size();
  j["network"] = options_.network;
  j["mixes_per_route"] = options_.mixes_per_route;
  if (endpoint_) {
    j["mixnet"] = endpoint_->status();
    if (auto e = endpoint_->topology_epoch()) j["topology_epoch"] = *e;
  }
  j["records_sent"] = counters_.records_sent;
  j["records_received"] = counters_.records_received;
  j["rejected"] = counters_.rejected;
  j["resends_absorbed"] = counters_.resends_absorbed;
  j["acks_by_reply_block"] = counters_.acks_by_reply_block;
  j["acks_as_records"] = counters_.acks_as_records;
  j["broadcasts_sent"] = counters_.broadcasts_sent;
  j["broadcasts_received"] = counters_.broadcasts_received;
  j["given_up"] = counters_.given_up;
  j["capabilities"] = capabilities_json(caps_);
  return j;
}

}  // namespace hyphae::transport
