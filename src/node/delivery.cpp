// Delivery: outbox, acks, retries on reconnect, inbox with replay protection, group commit.
// A durable message leaves the outbox only when the receiver's ack returns; the receiver acks an
// id only after committing it, and hands each id to the application once.
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <bit>
#include <boost/asio/post.hpp>
#include <cstring>

#include "core/error.hpp"
#include "node/node_impl.hpp"
#include "node/sealing.hpp"

namespace hyphae {

namespace asio = boost::asio;

namespace {
constexpr std::uint64_t kMaxTtlMs = 7ull * 24 * 3600 * 1000;

Bytes peer_bytes(const PeerId& p) {
  return Bytes(p.bytes().begin(), p.bytes().end());
}

// 8 random bytes from MessageId's buffered generator (one getrandom per 256 ids, not per message).
std::uint64_t random_u64() {
  auto r = MessageId::generate();
  std::uint64_t v = 0;
  std::memcpy(&v, r.bytes.data(), sizeof v);
  return v;
}

// Memory a received message holds until committed besides its bytes: the row, the pending entry,
// the dedupe keys.
constexpr std::size_t kHeldOverheadBytes = 256;
// An envelope's bytes beyond its payload: sealing plus the header with a signature.
constexpr std::size_t kEnvelopeAllowance = kSealedPayloadOverhead + 256;
// Ephemeral sends fail with Errc::backpressure beyond this much unsent data on the transport.
constexpr std::size_t kMaxLinkBacklog = 64u << 20;
// Copies of a message that arrive while its first copy is being committed, waiting for their ack.
constexpr std::size_t kMaxExtraAckWaiters = 4096;

// Time policy: a timestamp more than `window` in the future is refused; in the past, a message with
// a TTL is accepted until ts + ttl (+ window of clock skew), one without a TTL only within the window.
std::error_code check_time(const Envelope& env, std::uint64_t now, std::uint64_t window) {
  if (env.timestamp_ms > now + window) return Errc::stale;
  std::uint64_t ttl = std::min<std::uint64_t>(std::uint64_t{env.ttl_s} * 1000, kMaxTtlMs);
  if (now > env.timestamp_ms + ttl + window) return Errc::stale;
  return {};
}
}  // namespace

// Ids first seen before this are no longer needed: check_time refuses envelopes that old.
static std::uint64_t seen_cutoff(std::uint64_t now, std::uint64_t window) {
  return now - std::min(now, kMaxTtlMs + 2 * window);
}

MessageId dedupe_key(const DedupeSecret& secret, ByteView from, const MessageId& id) {
  // SipHash-2-4 with 128-bit output over (length, sender, id), keyed with the node's secret: a
  // sender cannot aim for another's key without it, and it is several times cheaper than BLAKE2b
  // on the per-message path. The keys never leave memory, so the secret is made at each start.
  std::array<std::uint8_t, 1 + 255 + 16> input;
  const std::uint8_t len = static_cast<std::uint8_t>(std::min<std::size_t>(from.size(), 255));
  input[0] = len;
  std::copy_n(from.begin(), len, input.begin() + 1);
  std::copy(id.bytes.begin(), id.bytes.end(), input.begin() + 1 + len);
  MessageId key;
  static_assert(sizeof(key.bytes) == crypto_shorthash_siphashx24_BYTES);
  crypto_shorthash_siphashx24(key.bytes.data(), input.data(), 1u + len + id.bytes.size(), secret.data());
  return key;
}

// The store keeps received (sender, id) pairs (inbox rows) until a replay could no longer pass the
// time check; memory keeps those still inside the window. App-acked rows older than that go.
void Node::Impl::prune_seen(std::uint64_t now) {
  auto cutoff = seen_cutoff(now, config.timestamp_window_ms);
  std::unordered_set<MessageId> kept(awaiting_commit.begin(), awaiting_commit.end());
  for (const auto& key : store->seen_since(cutoff)) {
    MessageId id;
    id.bytes = key.id;
    kept.insert(dedupe_key(dedupe_secret, key.from, id));
  }
  seen.swap(kept);
  if (cutoff > 0) {
    store::WriteBatch prune;
    prune.inbox_prune_acked_before_ms = cutoff;
    stage_lazily(std::move(prune));
  }
}

void Node::Impl::load_from_store() {
  auto now = clock->wall_ms();
  last_prune_ms = now;
  for (const auto& key : store->seen_since(seen_cutoff(now, config.timestamp_window_ms))) {
    MessageId id;
    id.bytes = key.id;
    seen.insert(dedupe_key(dedupe_secret, key.from, id));
  }
  for (const auto& row : store->inbox_unacked_senders()) {
    auto from = PeerId::from_bytes(row.from);
    if (!from) continue;
    MessageId id;
    id.bytes = row.id;
    count_unacked(id, *from, false);  // the app's backlog from before: counted, never refused
  }
  for (const auto& row : store->routes()) {  // the local route cache
    auto dest = PeerId::from_bytes(row.destination);
    auto hop = PeerId::from_bytes(row.next_hop);
    if (!dest || !hop) continue;
    router::Route r{*dest,    *hop,           row.transport, router::RouteKind::cached,
                    row.hops, row.updated_ms, row.expires_ms};
    if (auto ec = routing.add_cached(r, now))
      log->warn("ignoring a cached route to {}: {}", dest->to_string(), ec.message());
  }
  for (const auto& row : store->peers()) {
    auto peer = PeerId::from_bytes(row.id);
    if (!peer) continue;
    auto& state = peers[*peer];
    state.known = true;
    state.addresses = row.addresses;
    state.last_seen_ms = row.last_seen_ms;
  }
  std::size_t loaded = 0;
  for (auto& row : store->pending_outbox_all(std::numeric_limits<std::size_t>::max())) {
    auto env = decode_envelope(row.envelope, nullptr,
                               EnvelopeLimits{config.max_message_bytes + kSealedPayloadOverhead});
    auto to = PeerId::from_bytes(row.to);
    if (!env || !to) {
      log->error("outbox row {} cannot be decoded; leaving it in the store", to_hex(row.id));
      continue;
    }
    MessageId id;
    id.bytes = row.id;
    OutMsg m;
    m.to = *to;
    m.sealed = env->is_sealed();
    m.wire = env->is_signed() ? std::move(row.envelope) : encode_envelope(*env, true);
    m.state = store::OutboxState::queued;
    m.created_ms = row.created_ms;
    m.updated_ms = row.updated_ms;
    m.expires_ms = row.expires_ms;
    m.attempts = row.attempts;
    m.stored_attempts = row.attempts;
    m.priority = static_cast<std::uint8_t>(std::clamp(row.priority, 0, 3));
    m.redundancy = static_cast<std::uint8_t>(std::clamp<int>(row.redundancy, 1, 8));
    m.privacy = static_cast<std::uint8_t>(std::clamp(row.privacy & 3, 0, 2));
    m.mix_mode = static_cast<std::uint8_t>((row.privacy >> 2) & 3);
    if (!row.preference.empty() && !known_transport(row.preference))
      log->warn("outbox message {} asked for transport '{}', which this node no longer has: routed freely",
                to_hex(row.id), row.preference);
    else
      m.preference = row.preference;
    delivery.add(id, std::move(m));
    ++loaded;
  }
  if (loaded) log->info("{} unacknowledged messages reloaded from the outbox", loaded);
}

void Node::Impl::send_many(const PeerId& to, std::vector<Bytes> payloads, const SendOptions& options,
                           std::function<void(std::expected<std::vector<MessageId>, std::error_code>)> done) {
  assert_on_strand();
  if (to.empty() || to == identity.peer_id() || payloads.empty() || !known_transport(options.transport) ||
      options.redundancy < 1 || options.redundancy > 8 || options.privacy > Privacy::anonymous ||
      options.mix_mode > MixMode::performance)
    return done(std::unexpected(make_error_code(Errc::invalid_argument)));
  // A forced transport must be anonymous when only an anonymous one may carry the message.
  if (options.privacy == Privacy::anonymous && !options.transport.empty() &&
      !slot(find_transport(options.transport)).transport->capabilities().anonymous())
    return done(std::unexpected(make_error_code(Errc::invalid_argument)));
  // The recipient's X25519 key (for sealing) costs a field inversion to derive: do it once per peer.
  auto cached = x25519_keys.find(to);
  if (cached == x25519_keys.end()) {
    auto key = Identity::x25519_public_of(to);
    if (!key) return done(std::unexpected(make_error_code(Errc::invalid_argument)));
    cached = x25519_keys.emplace(to, *key).first;
  }
  const auto& recipient_key = cached->second;
  if (options.redundancy > transports.size())
    return done(std::unexpected(make_error_code(Errc::invalid_argument)));
  // A forced transport must be able to carry it at all (a clear error, no silent fallback).
  const std::size_t limit =
      options.transport.empty()
          ? config.max_message_bytes
          : std::min<std::size_t>(
                config.max_message_bytes,
                slot(find_transport(options.transport)).transport->capabilities().max_message_size);
  std::size_t incoming_bytes = 0;
  for (const auto& p : payloads) {
    if (p.size() > config.max_message_bytes) return done(std::unexpected(make_error_code(Errc::too_large)));
    // The transport sees the envelope: payload, sealing and header (kEnvelopeAllowance at most).
    if (!options.transport.empty() && p.size() + kEnvelopeAllowance > limit)
      return done(std::unexpected(make_error_code(Errc::too_large)));
    incoming_bytes += p.size();
  }
  // Back-pressure instead of unbounded memory: the API answers 429 and the caller retries later.
  if (delivery.pending_count() + payloads.size() > config.max_pending_messages ||
      delivery.pending_bytes() + incoming_bytes > config.max_pending_bytes) {
    meters.err_backpressure->inc();
    return done(std::unexpected(make_error_code(Errc::backpressure)));
  }

  const bool live = any_session(to);
  const auto now = clock->wall_ms();
  std::uint32_t ttl = options.ttl_s ? options.ttl_s : config.default_ttl_s;
  store::WriteBatch batch;
  batch.outbox_inserts.reserve(payloads.size());
  std::vector<MessageId> ids;
  ids.reserve(payloads.size());
  for (auto& payload : payloads) {
    Envelope env;
    env.id = MessageId::generate();
    env.from = identity.peer_id();
    env.to = to;
    env.timestamp_ms = now;
    env.nonce = random_u64();
    env.ttl_s = ttl;
    env.priority = options.priority;
    env.type = options.type;
    env.flags = envelope_flags::ack_requested;
    OutMsg m;
    m.preference = options.transport;
    m.redundancy = options.redundancy;
    m.privacy = static_cast<std::uint8_t>(options.privacy);
    m.mix_mode = static_cast<std::uint8_t>(options.mix_mode);
    m.priority = static_cast<std::uint8_t>(options.priority);
    if (!live) {
      // Nobody to hand it to now: seal the payload to the recipient and sign the envelope, so the
      // stored copy is end-to-end encrypted and verifiable wherever it travels later.
      auto sealed = seal_payload(seal_keys, recipient_key, payload);
      if (!sealed) return done(std::unexpected(sealed.error()));
      env.payload = std::move(*sealed);
      env.flags |= envelope_flags::sealed;
      sign_envelope(env, identity);
      m.sealed = true;
    } else {
      env.payload = std::move(payload);
    }
    store::OutboxRow row;
    row.id = env.id.bytes;
    row.to = peer_bytes(to);
    row.envelope = encode_envelope(env);
    row.priority = static_cast<int>(options.priority);
    row.preference = options.transport;
    row.redundancy = options.redundancy;
    row.privacy = static_cast<int>(options.privacy) + 4 * static_cast<int>(options.mix_mode);
    row.created_ms = now;
    row.updated_ms = now;
    row.expires_ms = now + std::uint64_t{ttl} * 1000;
    m.to = to;
    m.wire = env.is_signed() ? row.envelope : encode_envelope(env, true);
    m.created_ms = now;
    m.updated_ms = now;
    m.expires_ms = row.expires_ms;
    batch.outbox_inserts.push_back(std::move(row));
    delivery.add(env.id, std::move(m));
    ids.push_back(env.id);
  }
  counters.sent += ids.size();
  // Hand the messages to a transport first, so the socket write is not queued behind the commit.
  if (live)
    pump(to);
  else
    discover(to);  // nobody to hand them to: look for the peer (docs/discovery.md)
  stage(std::move(batch), [self = shared_from_this(), ids, done = std::move(done)](std::error_code ec) {
    if (ec) {
      self->log->error("outbox commit failed: {}; {} sends fail", ec.message(), ids.size());
      self->meters.err_store->inc();
      for (const auto& id : ids) self->delivery.fail(id, "store: " + ec.message());
      done(std::unexpected(ec));
      return;
    }
    done(ids);
  });
}

void Node::Impl::send_ephemeral(const PeerId& to, Bytes payload, const SendOptions& options,
                                SendHandler done) {
  assert_on_strand();
  if (payload.size() > config.max_message_bytes)
    return done(std::unexpected(make_error_code(Errc::too_large)));
  if (!known_transport(options.transport))
    return done(std::unexpected(make_error_code(Errc::invalid_argument)));
  // Real-time traffic over the one live session there is needs no selection (the common case).
  Route route;
  auto ps = peers.find(to);
  if (ps != peers.end() && ps->second.sessions.single() && options.transport.empty() &&
      options.privacy == Privacy::standard) {
    const auto only = ps->second.sessions.first();
    const auto& t = *transports[only.index()].transport;
    if (t.available() && payload.size() <= t.capabilities().max_message_size) route.primary = only;
  }
  if (!route.ok())
    route = route_for(to, payload.size(), static_cast<int>(options.priority), options.transport, 1, {},
                      static_cast<std::uint8_t>(options.privacy));
  if (!route.ok()) return done(std::unexpected(make_error_code(Errc::no_link)));
  auto& slot = transports[route.primary.index()];
  if (slot.transport->backlog(to) > kMaxLinkBacklog)
    return done(std::unexpected(make_error_code(Errc::backpressure)));
  Envelope env;
  env.id = MessageId::generate();
  env.timestamp_ms = clock->wall_ms();
  env.nonce = random_u64();
  env.priority = options.priority;
  env.type = options.type;
  env.payload = std::move(payload);
  Bytes body;
  body.reserve(env.payload.size() + 48);
  encode_envelope(env, body, true);
  if (auto ec = send_record(route.primary, to, RecordKind::ephemeral, body,
                            transport::RecordHints{static_cast<std::uint8_t>(options.mix_mode)}))
    return done(std::unexpected(ec));
  ++counters.ephemeral_sent;
  slot.sent_ephemeral->inc();
  done(env.id);
}

void Node::Impl::on_data(TransportIndex transport, const PeerId& peer, std::uint64_t session, ByteView body,
                         bool ephemeral) {
  auto& slot = this->slot(transport);
  auto decoded =
      decode_envelope(body, nullptr, EnvelopeLimits{config.max_message_bytes + kSealedPayloadOverhead});
  if (!decoded) {
    ++counters.rejected;
    meters.err_rejected->inc();
    log->warn("closing {} session to {}: malformed envelope: {}", slot.name, peer.to_string(),
              decoded.error().message());
    slot.transport->close(peer, {transport::CloseCode::malformed, "envelope: " + decoded.error().message()});
    return;
  }
  Envelope& env = *decoded;
  const auto reject = [&](std::string_view why) {
    ++counters.rejected;
    meters.err_rejected->inc();
    log->warn("rejected message {} from {} over {}: {}", env.id.to_hex(), peer.to_string(), slot.name, why);
  };
  if (env.flags & envelope_flags::addresses_implied) {
    env.from = peer;
    env.to = identity.peer_id();
  } else if (env.to != identity.peer_id()) {
    return reject("addressed to another peer (relaying is not enabled)");
  }
  if (env.is_signed()) {
    if (auto ec = verify_envelope_signature(env)) return reject(ec.message());
  } else if (env.from != peer) {
    return reject("unsigned envelope from a peer other than the session's");
  }
  auto now = clock->wall_ms();
  if (auto ec = check_time(env, now, config.timestamp_window_ms)) return reject(ec.message());
  if (env.is_sealed()) {
    auto opened = open_payload(seal_keys, env.payload);
    auto sender_key = Identity::x25519_public_of(env.from);
    if (!opened || !sender_key || opened->sender_pub != *sender_key)
      return reject("sealed payload does not open");
    env.payload = std::move(opened->payload);
    env.flags &= static_cast<std::uint8_t>(~envelope_flags::sealed);
  }
  if (ephemeral) {
    ++counters.ephemeral_received;
    deliver_to_app(
        InboundMessage{env.id, env.from, env.timestamp_ms, env.type, true, std::move(env.payload)});
    return;
  }
  const MessageId key = dedupe_key(dedupe_secret, env.from.bytes(), env.id);
  if (seen.contains(key)) {
    // A retransmission (our ack was lost) or a replay: never delivered twice, acked again once committed.
    ++counters.duplicates;
    if (awaiting_commit.contains(key)) {
      // Acked once its commit is done; past the cap a copy goes unacked (its sender tries again).
      if (extra_ack_waiters.size() < kMaxExtraAckWaiters)
        extra_ack_waiters.push_back(ExtraAck{key, env.id, AckTarget{transport, peer, session}});
    } else {
      send_acks(AckTarget{transport, peer, session}, env.id.bytes);
    }
    return;
  }
  const auto known = peers.find(env.from);
  const bool stranger = known == peers.end() || !known->second.known;
  if (!inbox_has_room(env.from, stranger)) {
    // No ack: the sender keeps the message and offers it again later; nothing is lost.
    ++counters.inbox_full;
    // The session closes, like after a failed commit: the sender offers everything unacknowledged
    // again when it reconnects (an ack that never comes alone does not make it resend).
    slot.transport->close(peer, {transport::CloseCode::inbox_full, "resend later"});
    if (now >= last_inbox_full_log_ms + 10'000) {
      last_inbox_full_log_ms = now;
      log->warn(
          "not taking message {} from {}: inbox quota reached ({} unacknowledged from it, {} in all; "
          "max_inbox_per_peer {}, max_inbox_messages {})",
          env.id.to_hex(), env.from.to_string(),
          inbox_unacked_by_peer.contains(env.from) ? inbox_unacked_by_peer.at(env.from) : 0,
          inbox_unacked.size(), config.max_inbox_per_peer, config.max_inbox_messages);
    }
    return;
  }
  seen.insert(key);
  awaiting_commit.insert(key);
  store::WriteBatch batch;
  auto& row = batch.inbox_inserts.emplace_back();
  row.id = env.id.bytes;
  row.from = peer_bytes(env.from);
  row.received_ms = now;
  row.envelope = encode_envelope(env);
  // Held twice until committed (the row's envelope and the message for the app), plus bookkeeping.
  const std::size_t held = row.envelope.size() + env.payload.size() + kHeldOverheadBytes;
  stage(std::move(batch), nullptr);
  stage_inbound(PendingInbound{
      InboundMessage{env.id, env.from, env.timestamp_ms, env.type, false, std::move(env.payload)},
      AckTarget{transport, peer, session}, stranger, held, key});
  hold_inbound(transport, peer, held);
}

void Node::Impl::on_inbound_committed(std::vector<PendingInbound> batch, std::error_code ec) {
  // Released per peer, not per message (a commit holds thousands from one or a few peers).
  std::vector<std::pair<PeerId, std::size_t>> held;
  for (const auto& p : batch) {
    if (held.empty() || !(held.back().first == p.ack.peer)) {
      auto it = std::find_if(held.begin(), held.end(), [&](const auto& h) { return h.first == p.ack.peer; });
      if (it == held.end()) {
        held.emplace_back(p.ack.peer, p.held_bytes);
        continue;
      }
      std::rotate(it, it + 1, held.end());  // most recent last
    }
    held.back().second += p.held_bytes;
  }
  for (const auto& [peer, bytes] : held) release_inbound(peer, bytes);
  if (ec) {
    // Not committed: forget the ids so the sender's retransmission is accepted; no ack goes out.
    log->error("inbox commit failed: {}; {} messages will be retransmitted by their senders", ec.message(),
               batch.size());
    meters.err_store->inc();
    for (const auto& p : batch) {
      seen.erase(p.key);
      awaiting_commit.erase(p.key);
    }
    // Close the sessions they came in on: their senders resend everything unacknowledged when the
    // session is made again (an ack timeout alone does not resend on the only transport).
    for (const auto& p : batch)
      if (p.ack.transport && slot(p.ack.transport).transport->session(p.ack.peer) == p.ack.session)
        slot(p.ack.transport).transport->close(p.ack.peer, {transport::CloseCode::store_failed, "resend"});
    std::erase_if(extra_ack_waiters, [&](const ExtraAck& w) { return !awaiting_commit.contains(w.key); });
    return;
  }
  // One ack record per session for the whole commit.
  std::vector<std::pair<AckTarget, Bytes>> acks;
  auto add_ack = [&](const AckTarget& target, const MessageId& id) {
    auto it = std::find_if(acks.begin(), acks.end(), [&](const auto& a) {
      return a.first.session == target.session && a.first.peer == target.peer;
    });
    if (it == acks.end()) it = acks.insert(acks.end(), {target, Bytes{}});
    it->second.insert(it->second.end(), id.bytes.begin(), id.bytes.end());
  };
  for (const auto& p : batch) {
    awaiting_commit.erase(p.key);
    count_unacked(p.message.id, p.message.from, p.stranger);  // before the app sees (and may ack) it
    add_ack(p.ack, p.message.id);
  }
  if (!extra_ack_waiters.empty()) {
    std::erase_if(extra_ack_waiters, [&](const ExtraAck& w) {
      if (awaiting_commit.contains(w.key)) return false;
      add_ack(w.target, w.id);
      return true;
    });
  }
  for (const auto& [target, ids] : acks) send_acks(target, ids);
  counters.received += batch.size();
  for (const auto& p : batch)
    if (p.ack.transport) slot(p.ack.transport).received->inc();
  for (const auto& p : batch) deliver_to_app(p.message);
}

void Node::Impl::on_ack(TransportIndex transport, const PeerId& peer, ByteView body) {
  auto& slot = this->slot(transport);
  if (body.size() % 16 != 0) {
    log->warn("closing {} session to {}: malformed ack record ({} bytes)", slot.name, peer.to_string(),
              body.size());
    slot.transport->close(peer, {transport::CloseCode::malformed, "ack record"});
    return;
  }
  held_acked(peer, body);  // messages this node held for the peer as its relay
  store::WriteBatch batch;
  const auto now = clock->wall_ms();
  for (std::size_t off = 0; off < body.size(); off += 16) {
    MessageId id;
    std::copy_n(body.begin() + static_cast<std::ptrdiff_t>(off), 16, id.bytes.begin());
    auto delivered = delivery.acked(id, peer, transport);
    if (!delivered) continue;
    const auto& m = *delivered->message;
    if (delivered->redundant) ++slot.wins;  // the first ack wins: credit the transport it came over
    ++counters.delivered;
    slot.delivered->inc();
    slot.latency->observe(static_cast<double>(now - std::min(now, m.created_ms)) / 1000.0);
    if (delivered_observer) delivered_observer(id);
    auto& update = batch.outbox_updates.emplace_back();
    update.id = id.bytes;
    update.state = store::OutboxState::delivered;
    update.transport = slot.name;
    update.transport_reason = transport_reason_of(m);
    update.updated_ms = m.updated_ms;
    update.add_attempts = m.attempts - m.stored_attempts;
  }
  if (batch.empty()) return;
  persist_delivered(std::move(batch.outbox_updates));
}

void Node::Impl::persist_delivered(std::vector<store::OutboxUpdate> updates) {
  // The callback keeps the ids only: on success they leave memory; on failure the updates are made
  // again from the entries (still in memory, as delivered) and retried.
  std::vector<store::MessageKey> ids;
  ids.reserve(updates.size());
  for (const auto& u : updates) ids.push_back(u.id);
  store::WriteBatch batch;
  batch.outbox_updates = std::move(updates);
  stage(std::move(batch), [self = shared_from_this(), ids = std::move(ids)](std::error_code ec) {
    if (ec) {
      // Not durable: the entries stay in memory (as delivered) and the update is tried again, so
      // neither a resend nor a restart can lose track of them.
      self->log->warn("could not record {} deliveries: {}; trying again", ids.size(), ec.message());
      for (const auto& bytes : ids) {
        MessageId id;
        id.bytes = bytes;
        const auto* found = self->delivery.find(id);
        if (!found) continue;
        const auto& m = *found;
        auto& u = self->delivered_unsaved.emplace_back();
        u.id = bytes;
        u.state = store::OutboxState::delivered;
        if (m.via) u.transport = self->transports[m.via.index()].name;
        u.transport_reason = self->transport_reason_of(m);
        u.updated_ms = m.updated_ms;
        u.add_attempts = m.attempts - m.stored_attempts;
      }
      return;
    }
    // Once the delivered state is durable the in-memory copy is no longer needed.
    for (const auto& bytes : ids) {
      MessageId id;
      id.bytes = bytes;
      self->delivery.erase(id);
    }
  });
}

void Node::Impl::deliver_to_app(const InboundMessage& message) {
  if (message.type == files::kFileMessageType) {  // the node's own: file transfers
    if (files) files->on_message(message.from, message.payload);
    if (!message.ephemeral) app_acked(message.id);
    return;
  }
  for (auto& [token, sub] : subscribers) {
    if (!sub.replayed.empty() &&
        sub.replayed.erase(dedupe_key(dedupe_secret, message.from.bytes(), message.id)))
      continue;
    sub.handler(message);
  }
}

void Node::Impl::for_each_unacked_inbox(const std::function<void(Envelope&)>& visit) {
  std::uint64_t after = 0;
  for (;;) {
    auto rows = store->inbox_after(after, true, 1000);
    if (rows.empty()) break;
    for (const auto& row : rows) {
      after = row.seq;
      auto env = decode_envelope(row.envelope, nullptr,
                                 EnvelopeLimits{config.max_message_bytes + kSealedPayloadOverhead});
      // Acknowledged by the app, its commit still on the way: not handed out again.
      if (!env || app_acks_uncommitted.contains(env->id)) continue;
      visit(*env);
    }
  }
}

std::uint64_t Node::Impl::subscribe(InboundHandler handler) {
  auto token = next_subscriber++;
  auto& sub = subscribers[token];
  sub.handler = std::move(handler);
  // Hand out what the app has not acknowledged yet, oldest first. File messages are the node's own
  // (replay_file_messages).
  for_each_unacked_inbox([&](Envelope& env) {
    if (env.type == files::kFileMessageType) return;
    sub.replayed.insert(dedupe_key(dedupe_secret, env.from.bytes(), env.id));
    sub.handler(InboundMessage{env.id, env.from, env.timestamp_ms, env.type, false, std::move(env.payload)});
  });
  // Ids whose commit is already in DB but whose callback has not run yet stay in `replayed`; the rest go.
  std::erase_if(sub.replayed, [&](const MessageId& id) { return !awaiting_commit.contains(id); });
  return token;
}

std::optional<MessageStatus> Node::Impl::status(const MessageId& id) const {
  if (const auto* found = delivery.find(id)) {
    const auto& m = *found;
    MessageStatus s;
    s.id = id;
    s.direction = "out";
    s.state = std::string(store::to_string(m.state));
    s.peer = m.to;
    if (m.via) {
      s.transport = transports[m.via.index()].name;
      s.transport_reason = transport_reason_of(m);
    } else if (m.privacy == static_cast<std::uint8_t>(Privacy::anonymous)) {
      s.transport_reason =
          "waiting: privacy anonymous allows only an anonymous transport (the mixnet), and none reaches the "
          "peer now; no other transport is used";
    }
    s.reason = m.reason;
    s.created_ms = m.created_ms;
    s.updated_ms = m.updated_ms;
    s.attempts = m.attempts;
    return s;
  }
  if (auto row = store->outbox_get(id.bytes)) {
    MessageStatus s;
    s.id = id;
    s.direction = "out";
    s.state = std::string(store::to_string(row->state));
    if (auto p = PeerId::from_bytes(row->to)) s.peer = *p;
    s.transport = row->transport;
    s.transport_reason = row->transport_reason;
    s.reason = row->reason;
    s.created_ms = row->created_ms;
    s.updated_ms = row->updated_ms;
    s.attempts = row->attempts;
    return s;
  }
  if (auto row = store->inbox_get(id.bytes)) {
    MessageStatus s;
    s.id = id;
    s.direction = "in";
    s.state = row->app_acked ? "acknowledged" : "received";
    if (auto p = PeerId::from_bytes(row->from)) s.peer = *p;
    s.created_ms = row->received_ms;
    s.updated_ms = row->received_ms;
    return s;
  }
  return std::nullopt;
}

void Node::Impl::add_peer(const PeerId& peer, std::vector<std::string> addresses,
                          std::function<void(std::error_code)> done) {
  if (peer == identity.peer_id()) return done(Errc::invalid_argument);
  if (auto ec = give_addresses(peer, addresses)) return done(ec);
  auto& state = peers[peer];
  state.known = true;
  for (auto& a : addresses)
    if (std::find(state.addresses.begin(), state.addresses.end(), a) == state.addresses.end())
      state.addresses.push_back(a);
  store::WriteBatch batch;
  batch.peer_upserts.push_back(store::PeerRow{peer_bytes(peer), std::move(addresses), state.last_seen_ms});
  stage(std::move(batch), std::move(done));
  if (running)
    for (auto& t : transports) t.transport->connect_soon(peer);
}

std::vector<InboxEntry> Node::inbox(std::uint64_t after_seq, std::size_t limit) const {
  std::vector<InboxEntry> out;
  // File messages are the node's own: skipped, and the next rows read in their place.
  for (;;) {
    auto rows = impl_->store->inbox_after(after_seq, false, limit);
    for (auto& row : rows) {
      after_seq = row.seq;
      auto env = decode_envelope(row.envelope, nullptr,
                                 EnvelopeLimits{impl_->config.max_message_bytes + kSealedPayloadOverhead});
      if (!env || env->type == files::kFileMessageType || out.size() >= limit) continue;
      out.push_back(InboxEntry{row.seq, env->id, env->from, env->timestamp_ms, env->type, row.app_acked,
                               std::move(env->payload)});
    }
    if (rows.size() < limit || out.size() >= limit) return out;
  }
}

}  // namespace hyphae
