// RelayTransport: sessions with peers that cannot be dialed, through a relay both have a direct
// link to (circuit relay, src/relay/relay_messages.hpp). The two ends run the same Noise XX session
// with libp2p PeerIds as the TCP mesh inside the circuit, so the relay forwards ciphertext only and a
// relayed session is as authenticated as a direct one.
//   - As a target: it holds reservations at relays the node chooses (want_relay), renews them at half
//     their lifetime, and takes incoming circuits only through a relay it holds one at.
//   - As a source: a peer's "addresses" here are the PeerIds of relays it is reserved at (from its
//     record's coordinators, or the neighbour that answered a query with can_relay); when the node
//     wants a session it asks a relay with a live link for a circuit, in turn, with backoff.
// The relay messages travel on the node's direct links to the relay: the node passes what arrives
// (on_relay_message) and the state of those links (on_carrier_up/down/drained) in, and the transport
// sends through the RelayCarrier.
// Thread-safety: everything on the node's strand. Ownership: owned by the node; the carrier is the
// node and outlives it.
#pragma once

#include <spdlog/logger.h>

#include <functional>
#include <memory>
#include <set>
#include <unordered_map>

#include "crypto/noise/noise.hpp"
#include "relay/relay_messages.hpp"
#include "transport/stream/link_session.hpp"
#include "transport/transport.hpp"

namespace hyphae::transport {

// What the relay transport needs from the node's direct links.
class RelayCarrier {
 public:
  virtual ~RelayCarrier() = default;
  virtual bool carrier_up(const PeerId& relay) const = 0;  // a direct session to the relay
  // Sends a relay message on that session; errors as Transport::send.
  virtual std::error_code send_to_relay(const PeerId& relay, ByteView message) = 0;
  virtual std::size_t carrier_backlog(const PeerId& relay) const = 0;  // bytes not yet written
  virtual void want_carrier(const PeerId& relay) = 0;                  // dial the relay soon
};

class RelayTransport final : public Transport {
 public:
  static constexpr std::string_view kType = "relay";
  // A relay's terms for this node, as granted.
  struct Reservation {
    std::uint64_t expires_ms = 0;  // monotonic
    std::uint64_t max_bytes = 0, max_duration_ms = 0, max_circuits = 0;
  };
  RelayTransport(TransportContext context, RelayCarrier& carrier, std::size_t max_reservations);
  ~RelayTransport() override;

  std::string_view name() const override { return context_.name; }
  std::string_view type() const override { return kType; }
  const router::Capabilities& capabilities() const override { return caps_; }
  std::error_code start() override;
  void stop() override;
  bool available() const override { return running_; }
  std::uint64_t session(const PeerId& peer) const override;
  std::error_code send(const PeerId& peer, RecordKind kind, ByteView body) override;
  std::size_t backlog(const PeerId& peer) const override;
  void close(const PeerId& peer, const CloseReason& reason) override;
  std::optional<SessionInfo> session_info(const PeerId& peer) const override;
  std::vector<PeerId> peers_with_sessions() const override;
  // Addresses are relay PeerIds (base58), or "/p2p/<relay>/p2p-circuit".
  std::error_code add_addresses(const PeerId& peer, const std::vector<std::string>& addresses) override;
  void connect_soon(const PeerId& peer) override;
  void tick(std::uint64_t now_ms) override;
  std::uint16_t listen_port() const override { return 0; }
  nlohmann::json status_json() const override;

  // ---- from the node
  void on_relay_message(const PeerId& relay, const relay::RelayMessage& m);
  void on_carrier_up(const PeerId& relay);
  void on_carrier_down(const PeerId& relay);
  void on_carrier_drained(const PeerId& relay);
  // Keep a reservation at `relay` (up to max_reservations relays; false when full or already kept).
  bool want_relay(const PeerId& relay);
  bool wants_relay(const PeerId& relay) const { return wanted_.contains(relay); }
  // Relays holding a live reservation for this node (what its record lists as coordinators).
  std::vector<PeerId> reserved_relays() const;
  // Called when reserved_relays() changes.
  std::function<void()> on_reservations_changed;
  // Called when a circuit to `peer` is requested from a relay (its session is being set up there).
  std::function<void(const PeerId&)> on_circuit_requested;
  // The relay a peer's live session goes through.
  std::optional<PeerId> relay_of(const PeerId& peer) const;
  // The peer's IP address as that relay sees it (for hole punching), if it said.
  std::optional<std::string> observed_address(const PeerId& peer) const;

 private:
  struct Circuit {
    PeerId relay, remote;
    std::uint64_t id = 0;  // as the relay and this node name it
    bool initiator = false;
    bool established = false, reported = false;
    std::unique_ptr<stream::LinkSession> link;
    std::uint64_t session_id = 0;
    std::uint64_t started_ms = 0, deadline_ms = 0;
    std::uint64_t bytes_in = 0, bytes_out = 0, records_in = 0, records_out = 0;
    std::string observed;  // the remote's IP as the relay sees it
  };
  struct Key {
    PeerId relay;
    std::uint64_t id;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return hash_value(k.relay) ^ (std::hash<std::uint64_t>{}(k.id) * 0x9e3779b97f4a7c15ull);
    }
  };
  struct PeerState {
    std::vector<PeerId> relays;  // where it is reserved, as learned
    std::size_t next_relay = 0;
    std::optional<Key> live;  // the circuit its session runs on
    bool dialing = false;
    std::uint64_t next_dial_ms = 0, backoff_ms = 0;
  };
  struct Held {
    Reservation terms;
    bool asked = false;
    std::uint64_t asked_ms = 0, retry_ms = 0, carrier_asked_ms = 0;
  };

  void dial(const PeerId& peer, PeerState& state, std::uint64_t now);
  void ask_reservation(const PeerId& relay, std::uint64_t now);
  void on_incoming(const PeerId& relay, const relay::RelayMessage& m, std::uint64_t now);
  void on_connected(const PeerId& relay, std::uint64_t circuit);
  void on_data(const PeerId& relay, std::uint64_t circuit, ByteView data);
  // Seals what the circuit's session holds and sends it to the relay in data messages.
  std::error_code flush(Circuit& c);
  void established(const Key& key, Circuit& c);
  // Removes a circuit; tells the relay unless it said so itself; reports the session down if it was up.
  void drop(const Key& key, const CloseReason& reason, bool tell_relay);
  void dial_failed(const PeerId& peer, std::uint64_t now);
  std::uint64_t now() const;
  std::uint64_t next_session_id() {
    return context_.session_ids ? context_.session_ids->next() : own_ids_.next();
  }

  TransportContext context_;
  RelayCarrier& carrier_;
  router::Capabilities caps_;
  std::shared_ptr<spdlog::logger> log_;
  SessionIds own_ids_;
  noise::KeyPair static_key_;
  std::size_t max_reservations_;
  bool running_ = false;
  std::unordered_map<Key, Circuit, KeyHash> circuits_;
  std::unordered_map<PeerId, PeerState> peers_;
  std::set<PeerId> wanted_;                    // relays to hold a reservation at
  std::unordered_map<PeerId, Held> reserved_;  // relays asked or holding one
  std::uint64_t next_circuit_ = 1;
  std::uint64_t circuits_refused_ = 0, circuits_failed_ = 0, circuits_opened_ = 0;
  Bytes wire_, message_;  // scratch
  bool flush_posted_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false once destroyed
  static constexpr std::size_t kFlushBytes = 256 * 1024;        // seal at once past this much queued
  static constexpr std::size_t kMaxCircuits = 1024;             // live and opening, both directions
  static constexpr std::size_t kMaxRelaysPerPeer = 4;
  static constexpr std::size_t kMaxPeers = 4096;
  static constexpr std::size_t kMaxCarrierBacklog = 4u << 20;
};

}  // namespace hyphae::transport
