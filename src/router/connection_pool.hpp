// router::ConnectionPool: the bookkeeping behind the connection pool: which connections are
// live, keyed by (peer, transport), when each last carried traffic, a cap on how many may be live
// (max_connections; at the cap a new one evicts the least recently used connection that has been
// idle for at least min_idle_to_evict_ms, or is refused), and which ones have been idle longer than
// idle_timeout_ms (0: never) so that their owner closes them. The owner opens and closes the real
// connections. Sans-IO and clock-free. Not thread-safe: one owner (the Node's strand).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/peer_id.hpp"

namespace hyphae::router {

struct PoolOptions {
  std::size_t max_connections = 100;  // the connection pool's design default
  std::uint64_t idle_timeout_ms = 0;  // 0: idle connections stay open
  std::uint64_t min_idle_to_evict_ms = 1000;
};

struct PoolEntry {
  PeerId peer;
  std::string transport;
  std::uint64_t opened_ms = 0;
  std::uint64_t last_active_ms = 0;
};

class ConnectionPool {
 public:
  using Key = std::pair<PeerId, std::string>;
  struct Admission {
    bool admitted = false;
    std::optional<Key> evict;  // close this one to make room (already removed from the pool)
  };

  explicit ConnectionPool(PoolOptions options = {}) : options_(options) {}
  // A new cap (the power policy lowers it on a critical battery); live entries above it stay until
  // they close or are evicted.
  void set_max_connections(std::size_t max) { options_.max_connections = max; }

  // A connection to (peer, transport) came up. Re-admitting a live key only refreshes it.
  Admission admit(const PeerId& peer, std::string_view transport, std::uint64_t now_ms);
  void touch(const PeerId& peer, std::string_view transport, std::uint64_t now_ms);
  void release(const PeerId& peer, std::string_view transport);
  // Connections idle for idle_timeout_ms or longer (none when it is 0), least recently used first.
  std::vector<Key> idle(std::uint64_t now_ms) const;

  std::size_t size() const { return entries_.size(); }
  const PoolOptions& options() const { return options_; }
  std::vector<PoolEntry> entries() const;

 private:
  PoolOptions options_;
  std::map<Key, PoolEntry> entries_;
};

}  // namespace hyphae::router
