// Node::Impl's held messages (docs/discovery.md, "Relays"): a sender whose search for a peer ends
// in store-and-forward hands its messages, signed at origin and sealed to the recipient, to a
// coordinator of that peer (STORE); a relay or super peer keeps them in its store within quotas and
// hands them over when the peer's direct link comes back, deleting each once the peer has acked it
// (so a message is handed over until acked, and the peer's replay protection keeps it from being
// delivered twice). The sender's own copy stays in its outbox until the peer acks it end to end.
#include <spdlog/spdlog.h>

#include "core/envelope.hpp"
#include "core/error.hpp"
#include "node/node_impl.hpp"
#include "node/sealing.hpp"

namespace hyphae {

using relay::RelayMessage;
using relay::RelayStatus;
using relay::RelayType;

namespace {

Bytes bytes_of(const PeerId& p) {
  return Bytes(p.bytes().begin(), p.bytes().end());
}

}  // namespace

void Node::Impl::load_held() {
  if (!relay_core) return;
  for (const auto& c : store->held_counts()) {
    auto peer = PeerId::from_bytes(c.recipient);
    if (!peer) continue;
    held_by_recipient[*peer] = HeldQuota{c.messages, c.bytes};
    held_count += c.messages;
    held_bytes += c.bytes;
    for (const auto& row : store->held_for(c.recipient, SIZE_MAX)) {
      MessageId id;
      if (row.id.size() != id.bytes.size()) continue;
      std::copy(row.id.begin(), row.id.end(), id.bytes.begin());
      held_keys.insert(dedupe_key(dedupe_secret, peer->bytes(), id));
    }
  }
  if (held_count) log->info("holding {} messages for {} offline peers", held_count, held_by_recipient.size());
}

void Node::Impl::on_store(TransportIndex t, const PeerId& from, const RelayMessage& m) {
  const auto reply = [&](const MessageId& id, RelayStatus status) {
    RelayMessage r;
    r.type = RelayType::store_result;
    r.data = id.bytes;
    r.status = status;
    if (status != RelayStatus::ok) ++held_refused;
    slot(t).transport->send(from, RecordKind::relay, encode_relay_message(r));
  };
  auto env =
      decode_envelope(m.data, nullptr, EnvelopeLimits{config.max_message_bytes + kSealedPayloadOverhead});
  if (!env) return reply(MessageId{}, RelayStatus::bad_envelope);
  if (!relay_core) return reply(env->id, RelayStatus::not_a_relay);
  // Only the sender's own message, signed and sealed, for a peer this relay serves (it holds a
  // reservation now, or its record names this node as a coordinator).
  if (!env->is_signed() || !env->is_sealed() || env->from != from || verify_envelope_signature(*env))
    return reply(env->id, RelayStatus::bad_envelope);
  const PeerId recipient = env->to;
  const auto mono = clock->monotonic_ms();
  bool serves = relay_core->has_reservation(recipient, mono);
  if (!serves)
    if (auto record = held_record(recipient))
      serves = std::find(record->coordinators.begin(), record->coordinators.end(), identity.peer_id()) !=
               record->coordinators.end();
  if (!serves) return reply(env->id, RelayStatus::bad_envelope);
  const auto now = clock->wall_ms();
  const std::uint64_t ttl_end = env->ttl_s ? env->timestamp_ms + std::uint64_t{env->ttl_s} * 1000
                                           : env->timestamp_ms + config.timestamp_window_ms;
  if (ttl_end <= now) return reply(env->id, RelayStatus::bad_envelope);
  const auto key = dedupe_key(dedupe_secret, recipient.bytes(), env->id);
  if (held_keys.contains(key)) return reply(env->id, RelayStatus::ok);  // held already
  const auto& limits = config.relay_limits;
  auto& quota = held_by_recipient[recipient];
  if (quota.messages >= limits.max_held_per_peer || held_count >= limits.max_held_messages ||
      held_bytes + m.data.size() > limits.max_held_bytes) {
    if (quota.messages == 0) held_by_recipient.erase(recipient);
    return reply(env->id, RelayStatus::storage_full);
  }
  ++quota.messages;
  quota.bytes += m.data.size();
  ++held_count;
  held_bytes += m.data.size();
  held_keys.insert(key);
  store::WriteBatch batch;
  batch.held_inserts.push_back(
      store::HeldRow{bytes_of(recipient), Bytes(env->id.bytes.begin(), env->id.bytes.end()), bytes_of(from),
                     Bytes(m.data.begin(), m.data.end()), now, std::min(ttl_end, now + limits.held_ttl_ms)});
  const MessageId id = env->id;
  stage(std::move(batch), [self = shared_from_this(), t, from, id, recipient](std::error_code ec) {
    RelayMessage r;
    r.type = RelayType::store_result;
    r.data = id.bytes;
    r.status = ec ? RelayStatus::storage_full : RelayStatus::ok;
    if (ec) {
      self->log->error("could not hold a message for {}: {}", recipient.to_string(), ec.message());
      ++self->held_refused;
    } else {
      ++self->held_stored;
    }
    if (auto c = self->carrier_of(from))
      self->slot(c).transport->send(from, RecordKind::relay, encode_relay_message(r));
    if (!ec && self->carrier_of(recipient)) self->hand_over_held(recipient);  // it came back meanwhile
  });
}

void Node::Impl::hand_over_held(const PeerId& recipient) {
  auto quota = held_by_recipient.find(recipient);
  if (!relay_core || quota == held_by_recipient.end() || quota->second.messages == 0) return;
  const auto t = carrier_of(recipient);
  if (!t) return;
  auto& in_flight = held_in_flight[recipient];
  if (!in_flight.empty()) return;  // the next round starts once these are acked
  const auto now = clock->wall_ms();
  for (auto& row : store->held_for(bytes_of(recipient), kHeldHandOverBatch)) {
    MessageId id;
    if (row.id.size() != id.bytes.size() || row.expires_ms <= now) continue;
    std::copy(row.id.begin(), row.id.end(), id.bytes.begin());
    if (slot(t).transport->send(recipient, RecordKind::data, row.envelope)) break;
    in_flight.emplace(id, row.envelope.size());
  }
  if (in_flight.empty()) {
    held_in_flight.erase(recipient);
  } else {
    log->info("handing {} held messages over to {}", in_flight.size(), recipient.to_string());
  }
}

void Node::Impl::held_acked(const PeerId& from, ByteView ids) {
  auto it = held_in_flight.find(from);
  if (it == held_in_flight.end()) return;
  store::WriteBatch batch;
  std::uint64_t bytes = 0;
  for (std::size_t off = 0; off + 16 <= ids.size(); off += 16) {
    MessageId id;
    std::copy_n(ids.begin() + static_cast<std::ptrdiff_t>(off), 16, id.bytes.begin());
    auto handed = it->second.find(id);
    if (handed == it->second.end()) continue;
    bytes += handed->second;
    it->second.erase(handed);
    batch.held_deletes.push_back(store::HeldKey{bytes_of(from), Bytes(id.bytes.begin(), id.bytes.end())});
    held_keys.erase(dedupe_key(dedupe_secret, from.bytes(), id));
  }
  if (batch.held_deletes.empty()) return;
  const std::size_t done = batch.held_deletes.size();
  const bool round_over = it->second.empty();
  if (round_over) held_in_flight.erase(it);
  stage(std::move(batch), [self = shared_from_this(), from, done, bytes, round_over](std::error_code ec) {
    if (ec) return;  // still in the store: handed over again next time (the peer dedupes)
    self->held_delivered += done;
    auto q = self->held_by_recipient.find(from);
    if (q != self->held_by_recipient.end()) {
      q->second.messages -= std::min<std::uint64_t>(done, q->second.messages);
      q->second.bytes -= std::min(q->second.bytes, bytes);
      if (q->second.messages == 0) self->held_by_recipient.erase(q);
    }
    self->held_count -= std::min<std::uint64_t>(self->held_count, done);
    self->held_bytes -= std::min(self->held_bytes, bytes);
    if (round_over) self->hand_over_held(from);
  });
}

void Node::Impl::held_link_down(const PeerId& peer) {
  held_in_flight.erase(peer);  // handed over again when it returns
}

void Node::Impl::expire_held() {
  if (!relay_core || held_count == 0) return;
  const auto now = clock->wall_ms();
  store::WriteBatch batch;
  batch.held_expire_before_ms = now;
  stage(std::move(batch), [self = shared_from_this()](std::error_code ec) {
    if (ec) return;
    // Recount from the store (expiries are rare; the counts stay exact).
    self->held_by_recipient.clear();
    self->held_keys.clear();
    self->held_count = self->held_bytes = 0;
    self->load_held();
  });
}

// ---- the sender's side

void Node::Impl::store_at_coordinators(const PeerId& peer) {
  if (!relay_transport) return;
  auto record = held_record(peer);
  if (!record || record->coordinators.empty()) return;
  std::optional<PeerId> via;
  for (const auto& c : record->coordinators)
    if (c != identity.peer_id() && carrier_of(c)) {
      via = c;
      break;
    }
  if (!via) {
    for (const auto& c : record->coordinators)
      if (c != identity.peer_id()) want_carrier(c);
    return;
  }
  std::size_t handed = 0;
  for (const auto& [id, m] : delivery.messages()) {
    if (!(m.to == peer) || !m.pending() || handed_to_relay.contains(id)) continue;
    if (handed_to_relay.size() >= kMaxHandedToRelay || handed == kHeldHandOverBatch) break;
    auto wire = signed_sealed_wire(m);
    if (!wire) continue;
    RelayMessage s;
    s.type = RelayType::store;
    s.data = *wire;
    if (send_to_relay(*via, encode_relay_message(s))) break;
    handed_to_relay.emplace(id, *via);
    ++handed;
  }
  if (handed)
    log->info("handed {} messages for {} to its coordinator {}", handed, peer.to_string(), via->to_string());
}

void Node::Impl::on_store_result(const PeerId& relay, const RelayMessage& m) {
  MessageId id;
  std::copy(m.data.begin(), m.data.end(), id.bytes.begin());
  auto it = handed_to_relay.find(id);
  if (it == handed_to_relay.end() || it->second != relay) return;
  if (m.status == RelayStatus::ok) {
    ++held_at_relays;
    return;
  }
  log->warn("coordinator {} would not hold message {}: {}", relay.to_string(), id.to_hex(),
            relay::to_string(m.status));
  handed_to_relay.erase(it);  // tried again at the next store-and-forward
}

}  // namespace hyphae
