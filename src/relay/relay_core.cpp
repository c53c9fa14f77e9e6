// RelayCore: reservations, circuits and their limits (see the header).
#include "relay/relay_core.hpp"

#include <algorithm>

namespace hyphae::relay {

RelayCore::RelayCore(RelayLimits limits, std::function<bool(const PeerId&)> connected,
                     std::function<std::string(const PeerId&)> observed)
    : limits_(limits), connected_(std::move(connected)), observed_(std::move(observed)) {}

std::size_t RelayCore::bytes_per_circuit() {
  // The circuit and two index entries, each a hash node (next pointer, cached hash) plus the bucket slot.
  constexpr std::size_t node = 2 * sizeof(void*);
  return sizeof(std::pair<const std::uint64_t, Circuit>) + node + sizeof(void*) +
         2 * (sizeof(std::pair<const EndKey, std::uint64_t>) + node + sizeof(void*));
}

void RelayCore::send_closed(Out& out, const PeerId& to, std::uint64_t circuit, RelayStatus status) {
  RelayMessage m;
  m.type = RelayType::closed;
  m.circuit = circuit;
  m.status = status;
  out.push_back(Send{to, encode_relay_message(m)});
}

bool RelayCore::take_token(const PeerId& peer, std::uint64_t now) {
  auto [it, fresh] = buckets_.try_emplace(peer);
  auto& b = it->second;
  if (fresh) {
    b.tokens = limits_.request_burst;
  } else if (now > b.at_ms) {
    b.tokens = std::min(limits_.request_burst,
                        b.tokens + static_cast<double>(now - b.at_ms) / 1000.0 * limits_.requests_per_second);
  }
  b.at_ms = std::max(b.at_ms, now);
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

void RelayCore::on_message(const PeerId& from, const RelayMessage& m, std::uint64_t now, Out& out) {
  switch (m.type) {
    case RelayType::reserve:
      return reserve(from, now, out);
    case RelayType::connect:
      return connect(from, m, now, out);
    case RelayType::accept:
      return accept(from, m.circuit, now, out);
    case RelayType::data:
      return data(from, m, out);
    case RelayType::close: {
      auto it = ends_.find(EndKey{from, m.circuit});
      if (it == ends_.end()) return;
      return end(it->second, RelayStatus::closed_by_peer, &from, out);
    }
    default:
      ++stats_.dropped;  // store is the node's; the rest are not for a relay
      return;
  }
}

void RelayCore::reserve(const PeerId& from, std::uint64_t now, Out& out) {
  RelayMessage reply;
  const bool renewal = reservations_.contains(from);
  if (!take_token(from, now)) {
    reply.type = RelayType::refused;
    reply.status = RelayStatus::rate_limited;
  } else if (!renewal && reservations_.size() >= limits_.max_reservations) {
    reply.type = RelayType::refused;
    reply.status = RelayStatus::reservation_limit;
  } else {
    reservations_[from] = now + limits_.reservation_ttl_ms;
    reply.type = RelayType::reserved;
    reply.ttl_ms = limits_.reservation_ttl_ms;
    reply.max_bytes = limits_.max_circuit_bytes;
    reply.max_duration_ms = limits_.max_circuit_duration_ms;
    reply.max_circuits = limits_.max_circuits_per_peer;
  }
  if (reply.type == RelayType::refused) ++stats_.reservations_refused;
  out.push_back(Send{from, encode_relay_message(reply)});
}

void RelayCore::connect(const PeerId& from, const RelayMessage& m, std::uint64_t now, Out& out) {
  const auto refuse = [&](RelayStatus status) {
    ++stats_.circuits_refused;
    send_closed(out, from, m.circuit, status);
  };
  if ((m.circuit & kRelayCircuitBit) || m.circuit == 0) return refuse(RelayStatus::malformed);
  if (ends_.contains(EndKey{from, m.circuit})) return refuse(RelayStatus::malformed);  // id in use
  if (!take_token(from, now)) return refuse(RelayStatus::rate_limited);
  const PeerId& target = *m.peer;
  if (target == from) return refuse(RelayStatus::malformed);
  if (!has_reservation(target, now)) return refuse(RelayStatus::no_reservation);
  if (!connected_(target)) return refuse(RelayStatus::not_connected);
  if (circuits_.size() >= limits_.max_circuits) return refuse(RelayStatus::circuit_limit);
  auto& from_count = per_peer_[from];
  auto& target_count = per_peer_[target];
  if (from_count >= limits_.max_circuits_per_peer || target_count >= limits_.max_circuits_per_peer) {
    if (from_count == 0) per_peer_.erase(from);
    if (target_count == 0) per_peer_.erase(target);
    return refuse(RelayStatus::circuit_limit);
  }
  ++from_count;
  ++target_count;
  const std::uint64_t key = next_key_++;
  Circuit c{
      from, target, m.circuit, kRelayCircuitBit | next_target_id_++, false, now + limits_.accept_timeout_ms,
      0};
  ends_.emplace(EndKey{from, c.source_id}, key);
  ends_.emplace(EndKey{target, c.target_id}, key);
  RelayMessage incoming;
  incoming.type = RelayType::incoming;
  incoming.circuit = c.target_id;
  incoming.peer = from;
  if (observed_) incoming.observed = observed_(from);
  out.push_back(Send{target, encode_relay_message(incoming)});
  circuits_.emplace(key, std::move(c));
}

void RelayCore::accept(const PeerId& from, std::uint64_t circuit, std::uint64_t now, Out& out) {
  auto it = ends_.find(EndKey{from, circuit});
  if (it == ends_.end()) return;
  auto& c = circuits_.at(it->second);
  if (c.open || !(c.target == from) || c.target_id != circuit) return;
  c.open = true;
  c.deadline_ms = now + limits_.max_circuit_duration_ms;
  ++stats_.circuits_opened;
  RelayMessage connected;
  connected.type = RelayType::connected;
  connected.circuit = c.source_id;
  if (observed_) connected.observed = observed_(c.target);
  out.push_back(Send{c.source, encode_relay_message(connected)});
}

void RelayCore::data(const PeerId& from, const RelayMessage& m, Out& out) {
  auto it = ends_.find(EndKey{from, m.circuit});
  if (it == ends_.end()) {
    ++stats_.dropped;
    return;
  }
  const std::uint64_t key = it->second;
  auto& c = circuits_.at(key);
  if (!c.open) {
    ++stats_.dropped;
    return;
  }
  c.bytes += m.data.size();
  if (c.bytes > limits_.max_circuit_bytes) return end(key, RelayStatus::data_limit, nullptr, out);
  const bool from_source = c.source == from && c.source_id == m.circuit;
  Send s{from_source ? c.target : c.source, {}};
  encode_relay_data(s.message, RelayType::relayed, from_source ? c.target_id : c.source_id, m.data);
  stats_.bytes_relayed += m.data.size();
  ++stats_.messages_relayed;
  out.push_back(std::move(s));
}

void RelayCore::end(std::uint64_t key, RelayStatus status, const PeerId* except, Out& out) {
  auto it = circuits_.find(key);
  if (it == circuits_.end()) return;
  const Circuit c = std::move(it->second);
  circuits_.erase(it);
  ends_.erase(EndKey{c.source, c.source_id});
  ends_.erase(EndKey{c.target, c.target_id});
  for (const PeerId* p : {&c.source, &c.target}) {
    auto n = per_peer_.find(*p);
    if (n != per_peer_.end() && --n->second == 0) per_peer_.erase(n);
  }
  if (!except || !(*except == c.source)) send_closed(out, c.source, c.source_id, status);
  if (!except || !(*except == c.target)) send_closed(out, c.target, c.target_id, status);
}

void RelayCore::on_peer_down(const PeerId& peer, Out& out) {
  reservations_.erase(peer);
  buckets_.erase(peer);
  if (!per_peer_.contains(peer)) return;
  std::vector<std::uint64_t> keys;
  for (const auto& [key, c] : circuits_)
    if (c.source == peer || c.target == peer) keys.push_back(key);
  for (auto key : keys) end(key, RelayStatus::link_lost, &peer, out);
}

void RelayCore::tick(std::uint64_t now, Out& out) {
  std::erase_if(reservations_, [&](const auto& r) { return r.second <= now; });
  std::vector<std::pair<std::uint64_t, RelayStatus>> due;
  for (const auto& [key, c] : circuits_)
    if (c.deadline_ms <= now)
      due.emplace_back(key, c.open ? RelayStatus::duration_limit : RelayStatus::timeout);
  for (auto [key, status] : due) end(key, status, nullptr, out);
}

bool RelayCore::has_reservation(const PeerId& peer, std::uint64_t now) const {
  auto it = reservations_.find(peer);
  return it != reservations_.end() && it->second > now;
}

const PeerId* RelayCore::other_end(const PeerId& from, std::uint64_t circuit) const {
  auto it = ends_.find(EndKey{from, circuit});
  if (it == ends_.end()) return nullptr;
  const auto& c = circuits_.at(it->second);
  return c.source == from && c.source_id == circuit ? &c.target : &c.source;
}

RelayStats RelayCore::stats() const {
  RelayStats s = stats_;
  s.reservations = reservations_.size();
  s.circuits = circuits_.size();
  s.circuits_open = static_cast<std::size_t>(
      std::count_if(circuits_.begin(), circuits_.end(), [](const auto& c) { return c.second.open; }));
  return s;
}

}  // namespace hyphae::relay
