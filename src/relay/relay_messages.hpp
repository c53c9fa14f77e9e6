// Relay messages: what a node and a relay (a node with role RELAY or SUPER_PEER) say to each other
// on their direct link, in relay records (link record type 9; RecordKind::relay). Modelled on
// libp2p circuit relay v2: a client reserves a slot, a source opens a circuit to a reserved target,
// and the relay forwards the circuit's bytes without reading them (the two ends run their own Noise
// session inside). A relay also holds signed, sealed envelopes for an offline reserved peer.
//
//   type (1 byte) | protobuf fields
//     1 circuit (uint64)  2 peer (bytes, a PeerId)  3 data (bytes)  4 status (uint32)
//     5 reason (string)   6 ttl_ms  7 max_bytes  8 max_duration_ms  9 max_circuits (uint64)
//     10 observed (string: the other end's IP address as the relay sees it)
//
// Types sent by a client to its relay are 1..15, types sent by a relay to a client 16..31, so a node
// that is both knows which side a message is for. Circuit ids chosen by a source are below 2^63;
// ids the relay chooses for the target's side have the top bit set, so the two never collide.
// Thread-safety: pure functions. Ownership: a decoded message views the input buffer.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "core/bytes.hpp"
#include "core/peer_id.hpp"

namespace hyphae::relay {

enum class RelayType : std::uint8_t {
  // client -> relay
  reserve = 1,  // ask for (or renew) a reservation
  connect = 2,  // circuit (the source's id), peer = the target
  accept = 3,   // circuit (the relay's id): the target takes an incoming circuit
  data = 4,     // circuit, data: bytes for the other end
  close = 5,    // circuit, status, reason
  store = 6,    // data = a signed envelope sealed to its recipient, to hold until it comes back
  // relay -> client
  reserved = 16,      // ttl_ms, max_bytes, max_duration_ms, max_circuits: the reservation's terms
  refused = 17,       // status, reason: no reservation
  incoming = 18,      // circuit (the relay's id), peer = the source
  connected = 19,     // circuit (the source's id): the target accepted
  relayed = 20,       // circuit, data: bytes from the other end
  closed = 21,        // circuit, status, reason: the circuit is gone
  store_result = 22,  // data = the message id, status (0: held), reason
};

// Why a circuit, a reservation or a held message was refused or ended.
enum class RelayStatus : std::uint32_t {
  ok = 0,
  not_a_relay = 1,        // this node does not relay
  reservation_limit = 2,  // too many reservations
  no_reservation = 3,     // the target holds no reservation here
  not_connected = 4,      // the target has no link to the relay now
  circuit_limit = 5,      // too many circuits (for a peer or in all)
  data_limit = 6,         // the circuit carried its maximum bytes
  duration_limit = 7,     // the circuit lasted its maximum time
  refused_by_target = 8,  // the target declined
  timeout = 9,            // the target did not answer
  closed_by_peer = 10,    // the other end closed
  link_lost = 11,         // a link under the circuit went down
  malformed = 12,         // a message the relay could not use
  storage_full = 13,      // held-message quota reached
  bad_envelope = 14,      // not a signed, sealed envelope for a reserved peer
  rate_limited = 15,      // too many requests
};
std::string_view to_string(RelayStatus status) noexcept;

inline constexpr std::uint64_t kRelayCircuitBit = std::uint64_t{1} << 63;  // relay-chosen ids
inline constexpr std::size_t kMaxRelayData = 64 * 1024 + 64;               // a circuit's bytes per message
inline constexpr std::size_t kMaxReasonBytes = 256;

struct RelayMessage {
  RelayType type = RelayType::reserve;
  std::uint64_t circuit = 0;
  std::optional<PeerId> peer;
  ByteView data;  // views the decoded buffer (or the caller's bytes when encoding)
  RelayStatus status = RelayStatus::ok;
  std::string reason;
  std::uint64_t ttl_ms = 0, max_bytes = 0, max_duration_ms = 0, max_circuits = 0;
  // incoming / connected: the other end's IP address as the relay sees its link (for hole punching).
  std::string observed;
};

// Whether the type is one a client sends to a relay (else a relay sends it to a client).
constexpr bool to_relay(RelayType type) noexcept {
  return static_cast<std::uint8_t>(type) < 16;
}

Bytes encode_relay_message(const RelayMessage& m);
// The same for the hot path: a circuit's bytes, appended to `out` (cleared first).
void encode_relay_data(Bytes& out, RelayType type, std::uint64_t circuit, ByteView data);
// Errc::malformed: an unknown type, a field of the wrong wire type, a missing field the type needs
// (a PeerId for connect/incoming, data for data/relayed/store), data over kMaxRelayData (store:
// over `max_store_bytes`), a reason over kMaxReasonBytes.
std::expected<RelayMessage, std::error_code> decode_relay_message(ByteView bytes,
                                                                  std::size_t max_store_bytes = 1u << 20);

}  // namespace hyphae::relay
