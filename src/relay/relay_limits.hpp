// RelayLimits: what a node with role RELAY or SUPER_PEER grants its peers (config `relay:`):
// reservations, circuits and the messages it holds for offline peers; RelayStats: what it did.
// Plain values.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hyphae::relay {

struct RelayLimits {
  std::uint64_t reservation_ttl_ms = 3600'000;
  std::size_t max_reservations = 1024;
  std::size_t max_circuits = 16'384;
  std::size_t max_circuits_per_peer = 64;
  std::uint64_t max_circuit_bytes = std::uint64_t{256} << 20;
  std::uint64_t max_circuit_duration_ms = 3600'000;
  std::uint64_t accept_timeout_ms = 10'000;
  double requests_per_second = 20;  // reserve and connect, per peer
  double request_burst = 50;
  // Held messages (STORE): per recipient, in all, and how long one waits.
  std::size_t max_held_per_peer = 1000;
  std::size_t max_held_messages = 100'000;
  std::uint64_t max_held_bytes = std::uint64_t{256} << 20;
  std::uint64_t held_ttl_ms = 7 * 24 * 3600'000ull;
};

// What a relay has granted and carried (RelayCore::stats()).
struct RelayStats {
  std::size_t reservations = 0, circuits = 0, circuits_open = 0;
  std::uint64_t circuits_opened = 0, circuits_refused = 0, reservations_refused = 0;
  std::uint64_t bytes_relayed = 0, messages_relayed = 0, dropped = 0;
};

}  // namespace hyphae::relay
