// CloseReason: why a session ended, as a code the node and the transports can compare, plus a
// detail for people (logs, status). Transports and the node never compare reason strings.
// A value type; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hyphae::transport {

enum class CloseCode : std::uint8_t {
  other = 0,
  stopping,           // this node (or the transport) is shutting down
  replaced,           // a newer session to the same peer took its place
  duplicate,          // both sides dialed; this one lost the tie-break
  idle,               // unused for connection_idle_timeout_ms
  evicted,            // a table was full and this one was the least useful
  handshake_failed,   // the secure channel did not come up (bad keys, wrong peer, bad bytes)
  handshake_timeout,  // the secure channel did not come up in time
  keepalive_timeout,  // the peer went silent
  remote,             // the peer closed it (its reason is the detail)
  io_error,           // the socket failed
  not_reading,        // the peer stopped reading and our queue to it hit its cap
  protocol_error,     // the peer sent something the protocol forbids
  malformed,          // a record the node could not decode
  inbox_full,         // the node cannot take more from this peer now; it resends later
  store_failed,       // a commit failed; the peer resends what was not acknowledged
  fault_injected,     // a test or drill killed it
};

std::string_view to_string(CloseCode code);

struct CloseReason {
  CloseCode code = CloseCode::other;
  std::string detail;

  CloseReason() = default;
  CloseReason(CloseCode c, std::string d = {}) : code(c), detail(std::move(d)) {}  // NOLINT: implicit

  // "code: detail" (or just the code's text).
  std::string text() const;
  // An orderly end, not a failure: stopping, replaced or duplicate.
  bool orderly() const {
    return code == CloseCode::stopping || code == CloseCode::replaced || code == CloseCode::duplicate;
  }
  friend bool operator==(const CloseReason& r, CloseCode c) { return r.code == c; }
};

}  // namespace hyphae::transport
