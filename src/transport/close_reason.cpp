// CloseReason texts (see close_reason.hpp).
#include "transport/close_reason.hpp"

namespace hyphae::transport {

std::string_view to_string(CloseCode code) {
  switch (code) {
    case CloseCode::other:
      return "closed";
    case CloseCode::stopping:
      return "stopping";
    case CloseCode::replaced:
      return "replaced by a newer session";
    case CloseCode::duplicate:
      return "duplicate session";
    case CloseCode::idle:
      return "idle";
    case CloseCode::evicted:
      return "evicted";
    case CloseCode::handshake_failed:
      return "handshake failed";
    case CloseCode::handshake_timeout:
      return "handshake timed out";
    case CloseCode::keepalive_timeout:
      return "keepalive timed out";
    case CloseCode::remote:
      return "closed by the peer";
    case CloseCode::io_error:
      return "i/o error";
    case CloseCode::not_reading:
      return "peer is not reading";
    case CloseCode::protocol_error:
      return "protocol error";
    case CloseCode::malformed:
      return "malformed record";
    case CloseCode::inbox_full:
      return "inbox quota reached";
    case CloseCode::store_failed:
      return "store commit failed";
    case CloseCode::fault_injected:
      return "fault injected";
  }
  return "closed";
}

std::string CloseReason::text() const {
  std::string out(to_string(code));
  if (!detail.empty()) out += ": " + detail;
  return out;
}

}  // namespace hyphae::transport
