#include "betanet/delivery/private_delivery.hpp"

#include <sodium.h>

#include <algorithm>

namespace hyphae::betanet {

using namespace hyphae::sphinx;

namespace {
constexpr std::uint8_t kMessage = 0x01, kAck = 0x02, kLoop = 0x03;
}  // namespace

PrivateDelivery::PrivateDelivery(NodeId self, std::uint64_t epoch, const SecretKey& routing_key,
                                 PrivateRouteFn route, PrivateDeliveryOptions options, std::uint64_t rng_seed)
    : self_(self), route_(std::move(route)), options_(options), rng_(rng_seed) {
  add_key(epoch, routing_key);
}

PrivateDelivery::~PrivateDelivery() = default;

PrivateDelivery::Key::~Key() {
  sodium_memzero(secret.data(), secret.size());
}

void PrivateDelivery::add_key(std::uint64_t epoch, const SecretKey& routing_key) {
  auto& k = keys_[epoch];
  k.secret = routing_key;
  k.public_key = sphinx::routing_public_key(routing_key);
}

void PrivateDelivery::retire_keys_before(std::uint64_t epoch) {
  for (auto it = keys_.begin(); it != keys_.end();) {
    if (it->first < epoch && keys_.size() > 1)
      it = keys_.erase(it);  // ~Key wipes it
    else
      ++it;
  }
}

std::optional<PublicKey> PrivateDelivery::public_key(std::uint64_t epoch) const {
  auto it = keys_.find(epoch);
  if (it == keys_.end()) return std::nullopt;
  return it->second.public_key;
}

PublicKey PrivateDelivery::routing_public_key() const {
  return keys_.rbegin()->second.public_key;
}

bool PrivateDelivery::attempt(const MessageId& id, Pending& p, std::uint64_t now_ms, Result& out) {
  ++p.attempts;
  std::uniform_int_distribution<std::uint64_t> delay(options_.retry_min_ms,
                                                     std::max(options_.retry_min_ms, options_.retry_max_ms));
  p.retry_at_ms = now_ms + delay(rng_);
  auto forward = route_(p.to, p.mixes);
  auto back = route_(self_, p.mixes);
  if (!forward || !back || forward->empty() || back->empty()) {
    ++counters_.no_route;
    return false;
  }
  SurbId surb_id{};
  randombytes_buf(surb_id.data(), surb_id.size());
  auto made = create_surb(*back, Destination{self_, surb_id});
  if (!made) {
    ++counters_.no_route;
    return false;
  }
  Bytes body;
  body.reserve(kBodyBytes);
  body.push_back(kMessage);
  body.insert(body.end(), id.begin(), id.end());
  const auto surb = made->first.serialize();
  body.insert(body.end(), surb.begin(), surb.end());
  body.push_back(static_cast<std::uint8_t>(p.payload.size() >> 8));
  body.push_back(static_cast<std::uint8_t>(p.payload.size()));
  body.insert(body.end(), p.payload.begin(), p.payload.end());
  auto packet = create_packet(*forward, Destination{p.to, std::nullopt}, body);
  if (!packet) {
    ++counters_.no_route;
    return false;
  }
  surbs_.emplace(surb_id, SurbEntry{id, now_ms + options_.surb_lifetime_ms,
                                    std::make_unique<SurbSecrets>(std::move(made->second))});
  out.packets.push_back({forward->front().id, std::move(*packet)});
  ++(p.attempts == 1 ? counters_.sent : counters_.retransmitted);
  return true;
}

std::expected<void, std::string> PrivateDelivery::send(const MessageId& id, const NodeId& to,
                                                       ByteView payload, std::uint64_t now_ms, Result& out,
                                                       std::size_t mixes) {
  if (payload.size() > kMaxPrivatePayload)
    return std::unexpected("a private message carries at most " + std::to_string(kMaxPrivatePayload) +
                           " bytes");
  if (pending_.size() >= options_.max_outstanding)
    return std::unexpected("too many private messages in flight");
  if (pending_.contains(id)) return std::unexpected("that message is already in flight");
  auto& p = pending_[id];
  p.to = to;
  p.payload.assign(payload.begin(), payload.end());
  p.mixes = mixes;
  attempt(id, p, now_ms, out);
  return {};
}

void PrivateDelivery::remember(const MessageId& id) {
  seen_.insert(id);
  seen_order_.push_back(id);
  while (seen_order_.size() > options_.max_seen) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
}

void PrivateDelivery::on_packet(ByteView packet, std::uint64_t now_ms, Result& out) {
  std::expected<Unwrapped, SphinxError> u = std::unexpected(SphinxError::bad_mac);
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
    u = unwrap(it->second.secret, packet);
    if (u || u.error() != SphinxError::bad_mac) break;  // opened, or refused for another reason
  }
  if (!u || u->forward || u->recipient != self_) {
    ++counters_.unreadable;
    return;
  }
  if (u->surb) {
    auto it = surbs_.find(*u->surb);
    if (it == surbs_.end()) {
      ++counters_.stale_acks;
      return;
    }
    auto body = open_reply(*it->second.secrets, u->payload);
    const MessageId message = it->second.message;
    if (!body || body->size() < 1 + kMessageIdBytes || (*body)[0] != kAck ||
        !std::equal(message.begin(), message.end(), body->begin() + 1)) {
      ++counters_.unreadable;
      return;
    }
    // Every reply block of this message is done with.
    std::erase_if(surbs_, [&](const auto& entry) { return entry.second.message == message; });
    if (pending_.erase(message) > 0) {
      ++counters_.acked;
      out.acked.push_back(message);
    } else {
      ++counters_.stale_acks;
    }
    return;
  }
  const auto& b = u->body;
  if (!b.empty() && b[0] == kLoop) {
    ++counters_.loops_returned;
    return;
  }
  constexpr std::size_t header = 1 + kMessageIdBytes + kSurbBytes + 2;
  if (b.size() < header || b[0] != kMessage) {
    ++counters_.unreadable;
    return;
  }
  MessageId id{};
  std::copy_n(b.begin() + 1, kMessageIdBytes, id.begin());
  auto surb = sphinx::Surb::parse(ByteView(b).subspan(1 + kMessageIdBytes, kSurbBytes));
  const std::size_t length = static_cast<std::size_t>(b[header - 2]) << 8 | b[header - 1];
  if (!surb || length > kMaxPrivatePayload || header + length > b.size()) {
    ++counters_.unreadable;
    return;
  }
  Bytes payload(b.begin() + header, b.begin() + static_cast<std::ptrdiff_t>(header + length));
  if (seen_.contains(id)) {
    ++counters_.duplicates;  // taken before; its ack was lost: ack again
    send_ack(id, *surb, out);
    return;
  }
  if (options_.auto_acknowledge) {
    remember(id);
    ++counters_.delivered;
    out.delivered.push_back({id, std::move(payload)});
    send_ack(id, *surb, out);
    return;
  }
  // Held for the owner's acknowledge(); a retransmission replaces the reply block and is offered
  // again (the owner may not have taken the first copy).
  ++(held_.contains(id) ? counters_.redelivered : counters_.delivered);
  hold(id, *surb, now_ms);
  out.delivered.push_back({id, std::move(payload)});
}

void PrivateDelivery::send_ack(const MessageId& id, const Surb& surb, Result& out) {
  Bytes ack;
  ack.push_back(kAck);
  ack.insert(ack.end(), id.begin(), id.end());
  if (auto reply = surb_packet(surb, ack)) {
    out.packets.push_back({surb.first_hop, std::move(*reply)});
    ++counters_.acks_sent;
  }
}

void PrivateDelivery::hold(const MessageId& id, const Surb& surb, std::uint64_t now_ms) {
  auto [it, fresh] = held_.insert_or_assign(id, HeldAck{surb, now_ms + options_.surb_lifetime_ms});
  if (fresh) held_order_.push_back(id);
  // Acknowledged ids leave the order lazily; keep it near the table's size.
  if (held_order_.size() > 2 * held_.size() + 64)
    std::erase_if(held_order_, [&](const MessageId& m) { return !held_.contains(m); });
  while (held_.size() > options_.max_held_acks && !held_order_.empty()) {
    if (held_.erase(held_order_.front()) > 0) ++counters_.held_acks_dropped;
    held_order_.pop_front();
  }
}

bool PrivateDelivery::send_loop(std::size_t mixes, Result& out) {
  auto path = route_(self_, mixes);
  if (!path || path->empty()) return false;
  Bytes body(1 + kMessageIdBytes);
  body[0] = kLoop;
  randombytes_buf(body.data() + 1, kMessageIdBytes);
  auto packet = create_packet(*path, Destination{self_, std::nullopt}, body);
  if (!packet) return false;
  out.packets.push_back({path->front().id, std::move(*packet)});
  ++counters_.loops_sent;
  return true;
}

bool PrivateDelivery::acknowledge(const MessageId& id, Result& out) {
  if (!seen_.contains(id)) remember(id);
  auto it = held_.find(id);
  if (it == held_.end()) return false;
  send_ack(id, it->second.surb, out);
  held_.erase(it);
  return true;
}

void PrivateDelivery::tick(std::uint64_t now_ms, Result& out) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto& p = it->second;
    if (p.retry_at_ms > now_ms) {
      ++it;
      continue;
    }
    if (p.attempts >= options_.max_attempts) {
      const MessageId id = it->first;
      std::erase_if(surbs_, [&](const auto& entry) { return entry.second.message == id; });
      ++counters_.given_up;
      out.given_up.push_back(id);
      it = pending_.erase(it);
      continue;
    }
    attempt(it->first, p, now_ms, out);
    ++it;
  }
  std::erase_if(surbs_, [&](const auto& entry) { return entry.second.expires_ms <= now_ms; });
  std::erase_if(held_, [&](const auto& entry) { return entry.second.expires_ms <= now_ms; });
  while (!held_order_.empty() && !held_.contains(held_order_.front())) held_order_.pop_front();
}

std::optional<std::uint64_t> PrivateDelivery::next_wakeup() const {
  std::optional<std::uint64_t> at;
  for (const auto& [id, p] : pending_)
    if (!at || p.retry_at_ms < *at) at = p.retry_at_ms;
  for (const auto& [id, s] : surbs_)
    if (!at || s.expires_ms < *at) at = s.expires_ms;
  for (const auto& [id, h] : held_)
    if (!at || h.expires_ms < *at) at = h.expires_ms;
  return at;
}

}  // namespace hyphae::betanet
