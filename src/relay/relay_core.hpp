// RelayCore: the relay side of circuit relaying, without I/O. A node with role RELAY or SUPER_PEER
// feeds it the relay messages its peers send (relay_messages.hpp), the loss of a peer's link, and the
// time; it answers with messages to send. It keeps
//   - reservations: a peer asks, gets a slot for `reservation_ttl_ms` (renewed by asking again),
//     dropped with its link; at most `max_reservations`;
//   - circuits: a source connects to a reserved, connected target; the target accepts within
//     `accept_timeout_ms`; then every data message is passed to the other end unread. A circuit ends
//     after `max_circuit_bytes` (both ways together) or `max_circuit_duration_ms`, when either end
//     closes or loses its link; at most `max_circuits_per_peer` per peer (as source or target) and
//     `max_circuits` in all;
//   - a token bucket per peer for reservations and connects.
// Thread-safety: none (the node's strand). Ownership: plain values; `connected` is called inline.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "core/bytes.hpp"
#include "core/peer_id.hpp"
#include "relay/relay_limits.hpp"
#include "relay/relay_messages.hpp"

namespace hyphae::relay {

class RelayCore {
 public:
  struct Send {
    PeerId to;
    Bytes message;  // an encoded relay message
  };
  using Out = std::vector<Send>;
  // `connected(peer)`: whether this node has a direct link to the peer now. `observed(peer)`: the IP
  // address its link comes from (told to the other end of a circuit for hole punching; may be empty).
  RelayCore(RelayLimits limits, std::function<bool(const PeerId&)> connected,
            std::function<std::string(const PeerId&)> observed = {});

  // A message a client sent (to_relay(m.type)); store messages are not the core's and are ignored.
  void on_message(const PeerId& from, const RelayMessage& m, std::uint64_t now_ms, Out& out);
  // The peer's link is gone: its reservation and its circuits end (the other ends hear `closed`).
  void on_peer_down(const PeerId& peer, Out& out);
  // Expires reservations, unanswered circuits and circuits past their duration.
  void tick(std::uint64_t now_ms, Out& out);

  bool has_reservation(const PeerId& peer, std::uint64_t now_ms) const;
  // The other end of an open circuit, for flow control: the peer whose link carries (from, id)'s data.
  const PeerId* other_end(const PeerId& from, std::uint64_t circuit) const;
  RelayStats stats() const;
  const RelayLimits& limits() const { return limits_; }
  // Bytes of state per circuit (both index entries and the circuit), for the benchmark's estimate.
  static std::size_t bytes_per_circuit();

 private:
  struct Circuit {
    PeerId source, target;
    std::uint64_t source_id = 0, target_id = 0;  // as each end names it
    bool open = false;
    std::uint64_t deadline_ms = 0;  // accept timeout, then the duration limit
    std::uint64_t bytes = 0;
  };
  struct EndKey {
    PeerId peer;
    std::uint64_t id;
    friend bool operator==(const EndKey&, const EndKey&) = default;
  };
  struct EndHash {
    std::size_t operator()(const EndKey& k) const noexcept {
      return hash_value(k.peer) ^ (std::hash<std::uint64_t>{}(k.id) * 0x9e3779b97f4a7c15ull);
    }
  };
  struct Bucket {
    double tokens = 0;
    std::uint64_t at_ms = 0;
  };

  void reserve(const PeerId& from, std::uint64_t now, Out& out);
  void connect(const PeerId& from, const RelayMessage& m, std::uint64_t now, Out& out);
  void accept(const PeerId& from, std::uint64_t circuit, std::uint64_t now, Out& out);
  void data(const PeerId& from, const RelayMessage& m, Out& out);
  // Ends a circuit: `closed` with the status to each end named (not to `except`, the end that asked).
  void end(std::uint64_t key, RelayStatus status, const PeerId* except, Out& out);
  bool take_token(const PeerId& peer, std::uint64_t now);
  static void send_closed(Out& out, const PeerId& to, std::uint64_t circuit, RelayStatus status);

  RelayLimits limits_;
  std::function<bool(const PeerId&)> connected_;
  std::function<std::string(const PeerId&)> observed_;
  std::unordered_map<PeerId, std::uint64_t> reservations_;   // expiry
  std::unordered_map<std::uint64_t, Circuit> circuits_;      // by internal key
  std::unordered_map<EndKey, std::uint64_t, EndHash> ends_;  // (peer, its circuit id) -> key
  std::unordered_map<PeerId, std::size_t> per_peer_;
  std::unordered_map<PeerId, Bucket> buckets_;  // peers with a link only (dropped with it)
  std::uint64_t next_key_ = 1;
  std::uint64_t next_target_id_ = 1;
  RelayStats stats_;
};

}  // namespace hyphae::relay
