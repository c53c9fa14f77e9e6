// PEER_QUERY and PEER_FOUND: asking connected peers whether they know a PeerId, and their answer.
//   PeerQuery { bytes looking_for = 1; uint64 request_id = 2; uint32 hops_left = 3; }
//   PeerFound { uint64 request_id = 1; bytes looking_for = 2; bytes record = 3; bool can_relay = 4; }
// `record` is the peer's signed record (peer_record.hpp), so an answer cannot lie about where the
// peer is; `can_relay` says the answering node will relay to it.
//
// QueryResponder decides, without I/O, what to do with a query from a peer: answer it (it knows a
// record or has a session to the peer), pass it on with one hop fewer, or drop it. Each request
// id is handled once (a bounded memory of recent ids), each sender has a token bucket, and a query
// is passed on to at most `max_forward` peers, so one query costs a bounded number of messages
// (no amplification).
// Thread-safety: none (the node's strand). Ownership: values.
#pragma once

#include <cstdint>
#include <deque>
#include <expected>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/bytes.hpp"
#include "core/peer_id.hpp"

namespace hyphae::discovery {

inline constexpr std::uint32_t kMaxQueryHops = 3;

struct PeerQuery {
  PeerId looking_for;
  std::uint64_t request_id = 0;
  std::uint32_t hops_left = 1;
  friend bool operator==(const PeerQuery&, const PeerQuery&) = default;
};
struct PeerFound {
  std::uint64_t request_id = 0;
  PeerId looking_for;
  Bytes record;  // signed envelope
  bool can_relay = false;
  friend bool operator==(const PeerFound&, const PeerFound&) = default;
};

Bytes encode_peer_query(const PeerQuery& q);
// Errc::malformed: not a query, no PeerId, hops_left 0 or above kMaxQueryHops.
std::expected<PeerQuery, std::error_code> decode_peer_query(ByteView bytes);
Bytes encode_peer_found(const PeerFound& f);
// Errc::malformed: not an answer, no PeerId, an empty or oversized record.
std::expected<PeerFound, std::error_code> decode_peer_found(ByteView bytes);

struct ResponderOptions {
  std::size_t remembered_requests = 4096;  // recent request ids (duplicates are dropped)
  double queries_per_second = 5;           // per sender
  double burst = 10;
  std::size_t max_forward = 3;     // peers a query is passed on to
  std::size_t max_senders = 1024;  // token buckets kept; the oldest is dropped past this
};

class QueryResponder {
 public:
  explicit QueryResponder(ResponderOptions options = {}) : options_(options) {}

  enum class Verdict { answer, forward, drop_duplicate, drop_rate, drop_unknown };
  struct Decision {
    Verdict verdict;
    PeerQuery forwarded;             // for forward: hops_left one fewer
    std::vector<PeerId> forward_to;  // for forward: at most max_forward, never the sender or the target
  };
  // A query from `from` at `now_ms` (monotonic). `known`: this node holds the target's record or a
  // session to it. `neighbours`: the peers it has sessions with.
  Decision on_query(const PeerId& from, const PeerQuery& query, bool known,
                    const std::vector<PeerId>& neighbours, std::uint64_t now_ms);
  std::uint64_t dropped() const { return dropped_; }
  std::size_t remembered_requests() const { return seen_.size(); }
  std::size_t senders() const { return buckets_.size(); }

 private:
  bool take_token(const PeerId& from, std::uint64_t now_ms);
  struct Bucket {
    double tokens;
    std::uint64_t at_ms;
  };
  ResponderOptions options_;
  std::unordered_set<std::uint64_t> seen_;
  std::deque<std::uint64_t> seen_order_;
  std::unordered_map<PeerId, Bucket> buckets_;
  std::deque<PeerId> bucket_order_;
  std::uint64_t dropped_ = 0;
};

}  // namespace hyphae::discovery
