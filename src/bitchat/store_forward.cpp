// Store-and-forward outbox and relay spool (see store_forward.hpp).
#include "bitchat/store_forward.hpp"

#include <algorithm>

namespace hyphae::bitchat {

std::optional<std::string> StoreForward::hold(const ShortId& peer, std::string message_id, Bytes payload,
                                              std::uint64_t now_ms) {
  auto& q = queues_[peer];
  if (std::any_of(q.begin(), q.end(), [&](const HeldMessage& m) { return m.message_id == message_id; }))
    return std::nullopt;
  std::optional<std::string> dropped;
  if (options_.per_peer == 0) return message_id;
  if (q.size() >= options_.per_peer) {
    dropped = std::move(q.front().message_id);
    q.pop_front();
  }
  q.push_back(HeldMessage{std::move(message_id), std::move(payload), now_ms, 0});
  return dropped;
}

std::vector<HeldMessage> StoreForward::due(const ShortId& peer, std::uint64_t now_ms,
                                           std::vector<std::string>* gave_up) {
  std::vector<HeldMessage> out;
  auto it = queues_.find(peer);
  if (it == queues_.end()) return out;
  auto& q = it->second;
  std::erase_if(q, [&](const HeldMessage& m) {
    const bool drop = m.attempts >= options_.max_attempts || now_ms >= m.held_since_ms + options_.ttl_ms;
    if (drop && gave_up) gave_up->push_back(m.message_id);
    return drop;
  });
  for (auto& m : q) {
    ++m.attempts;
    out.push_back(m);
  }
  if (q.empty()) queues_.erase(it);
  return out;
}

bool StoreForward::delivered(const ShortId& peer, const std::string& message_id) {
  auto it = queues_.find(peer);
  if (it == queues_.end()) return false;
  const auto before = it->second.size();
  std::erase_if(it->second, [&](const HeldMessage& m) { return m.message_id == message_id; });
  const bool found = it->second.size() != before;
  if (it->second.empty()) queues_.erase(it);
  return found;
}

std::vector<std::string> StoreForward::expire(std::uint64_t now_ms) {
  std::vector<std::string> out;
  for (auto it = queues_.begin(); it != queues_.end();) {
    std::erase_if(it->second, [&](const HeldMessage& m) {
      const bool old = now_ms >= m.held_since_ms + options_.ttl_ms;
      if (old) out.push_back(m.message_id);
      return old;
    });
    it = it->second.empty() ? queues_.erase(it) : std::next(it);
  }
  return out;
}

std::size_t StoreForward::held(const ShortId& peer) const {
  auto it = queues_.find(peer);
  return it == queues_.end() ? 0 : it->second.size();
}

std::size_t StoreForward::total() const {
  std::size_t n = 0;
  for (const auto& [peer, q] : queues_) n += q.size();
  return n;
}

bool RelaySpool::hold(const ShortId& recipient, Bytes frame, std::uint64_t now_ms) {
  expire(now_ms);
  if (entries_.size() >= options_.max_packets || bytes_ + frame.size() > options_.max_bytes) return false;
  bytes_ += frame.size();
  entries_.push_back(Entry{recipient, std::move(frame), now_ms, now_ms + options_.retry_ms});
  return true;
}

std::vector<Bytes> RelaySpool::take(const ShortId& recipient) {
  std::vector<Bytes> out;
  std::erase_if(entries_, [&](Entry& e) {
    if (e.recipient != recipient) return false;
    bytes_ -= e.frame.size();
    out.push_back(std::move(e.frame));
    return true;
  });
  return out;
}

std::vector<std::pair<ShortId, Bytes>> RelaySpool::retry_due(std::uint64_t now_ms) {
  expire(now_ms);
  std::vector<std::pair<ShortId, Bytes>> out;
  for (auto& e : entries_)
    if (now_ms >= e.next_retry_ms) {
      out.emplace_back(e.recipient, e.frame);
      e.next_retry_ms = now_ms + options_.retry_ms;
    }
  return out;
}

std::vector<Bytes> RelaySpool::held_frames() const {
  std::vector<Bytes> out;
  for (const auto& e : entries_) out.push_back(e.frame);
  return out;
}

std::size_t RelaySpool::expire(std::uint64_t now_ms) {
  std::size_t dropped = 0;
  while (!entries_.empty() && now_ms >= entries_.front().held_ms + options_.hold_ms) {
    bytes_ -= entries_.front().frame.size();
    entries_.pop_front();
    ++dropped;
  }
  return dropped;
}

}  // namespace hyphae::bitchat
