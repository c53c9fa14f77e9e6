#include "router/connection_pool.hpp"

#include <algorithm>

namespace hyphae::router {

ConnectionPool::Admission ConnectionPool::admit(const PeerId& peer, std::string_view transport,
                                                std::uint64_t now_ms) {
  Key key{peer, std::string(transport)};
  if (auto it = entries_.find(key); it != entries_.end()) {
    it->second.last_active_ms = now_ms;
    return {true, std::nullopt};
  }
  Admission out;
  if (entries_.size() >= options_.max_connections) {
    auto lru = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (lru == entries_.end() || it->second.last_active_ms < lru->second.last_active_ms) lru = it;
    if (lru == entries_.end() || now_ms < lru->second.last_active_ms + options_.min_idle_to_evict_ms)
      return {false, std::nullopt};
    out.evict = lru->first;
    entries_.erase(lru);
  }
  entries_.emplace(key, PoolEntry{peer, std::string(transport), now_ms, now_ms});
  out.admitted = true;
  return out;
}

void ConnectionPool::touch(const PeerId& peer, std::string_view transport, std::uint64_t now_ms) {
  auto it = entries_.find(Key{peer, std::string(transport)});
  if (it != entries_.end()) it->second.last_active_ms = std::max(it->second.last_active_ms, now_ms);
}

void ConnectionPool::release(const PeerId& peer, std::string_view transport) {
  entries_.erase(Key{peer, std::string(transport)});
}

std::vector<ConnectionPool::Key> ConnectionPool::idle(std::uint64_t now_ms) const {
  std::vector<std::pair<std::uint64_t, Key>> found;
  if (options_.idle_timeout_ms == 0) return {};
  for (const auto& [key, e] : entries_)
    if (now_ms >= e.last_active_ms + options_.idle_timeout_ms) found.emplace_back(e.last_active_ms, key);
  std::sort(found.begin(), found.end());
  std::vector<Key> out;
  out.reserve(found.size());
  for (auto& [t, key] : found) out.push_back(std::move(key));
  return out;
}

std::vector<PoolEntry> ConnectionPool::entries() const {
  std::vector<PoolEntry> out;
  out.reserve(entries_.size());
  for (const auto& [key, e] : entries_) out.push_back(e);
  return out;
}

}  // namespace hyphae::router
