// Node: one Hyphae peer. It owns the identity, the durable store, the mesh links and the
// delivery state machine (outbox, acks, retries on reconnect, inbox, replay protection).
// Thread-safety: a Node's state lives on one strand of the executor handed to create(); every
// public method except executor() must be called on that strand (post to it from elsewhere).
// Ownership: the caller owns the Node; stop() before destroying it, and keep the executor's
// context alive until the Node is destroyed.
#pragma once

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"
#include "core/envelope.hpp"
#include "core/message_id.hpp"
#include "core/peer_id.hpp"
#include "discovery/peer_record.hpp"
#include "node/config.hpp"

namespace spdlog {
class logger;
}

namespace hyphae {

class Clock;
namespace router {
class Connectivity;
}
namespace power {
struct PowerState;
struct PowerOverrides;
struct PowerPolicy;
}  // namespace power
namespace store {
class WriteFaults;
}
namespace files {
struct Transfer;
struct TransferCounters;
using TransferId = std::array<std::uint8_t, 16>;
}  // namespace files
namespace transport {
class Transport;
class TransportRegistry;
}  // namespace transport

// How private one message must be. standard: any transport. private: an anonymous transport
// (the mixnet) when one reaches the peer, else another encrypted one (the sender allowed it).
// anonymous: only an anonymous transport; without one the message waits.
enum class Privacy : std::uint8_t { standard = 0, private_ = 1, anonymous = 2 };
// How the mixnet routes one message: the transport's configured privacy_mode, or strict (at least
// 3 mixes), balanced (2) or performance (none unless the recipient asks for more).
enum class MixMode : std::uint8_t { configured = 0, strict = 1, balanced = 2, performance = 3 };

struct SendOptions {
  bool ephemeral = false;  // real-time: no outbox, no ack; fails at once without a live link
  Priority priority = Priority::normal;
  std::uint8_t type = 0;    // application-defined message type
  std::uint32_t ttl_s = 0;  // 0 = the configured default
  // The transport preference: empty chooses automatically; a name forces that transport, and
  // a send naming one this node does not have fails with invalid_argument.
  std::string transport;
  // Redundant send: carried over this many transports at once (1..8); the first ack
  // wins and the receiver delivers it once.
  std::uint8_t redundancy = 1;
  Privacy privacy = Privacy::standard;
  MixMode mix_mode = MixMode::configured;
};

struct InboundMessage {
  MessageId id;
  PeerId from;
  std::uint64_t timestamp_ms = 0;
  std::uint8_t type = 0;
  bool ephemeral = false;
  Bytes payload;
};

struct MessageStatus {
  MessageId id;
  std::string direction;  // "out" or "in"
  std::string state;      // queued | sent | delivered | failed | received | acknowledged
  PeerId peer;
  std::string transport;         // which transport carried it ("tcp", "lan", ...)
  std::string transport_reason;  // why that transport was chosen (and any failover)
  std::string reason;            // for failed
  std::uint64_t created_ms = 0;
  std::uint64_t updated_ms = 0;
  std::uint32_t attempts = 0;
};

struct NodeCounters {
  std::uint64_t sent = 0, delivered = 0, received = 0, duplicates = 0, rejected = 0, ephemeral_sent = 0,
                ephemeral_received = 0, links_up = 0, links_down = 0,
                inbox_full =
                    0,     // durable messages not taken (no ack): their sender's inbox quota was used up
      receive_pauses = 0;  // sessions not read from while their messages waited to be committed
};

// Snapshots of a node's state, for the API's views (src/api/node_views.hpp) and for tests. They are
// read on the node's strand and refer to nothing that outlives the call unless said.
struct TransportStatus {
  std::string name;
  const transport::Transport* transport = nullptr;  // its own status (status_json()), read on the strand
  std::size_t degraded_peers = 0;                   // peers for which a timed-out ack degraded it
  std::uint64_t redundant_wins = 0, failovers_to = 0;
  bool fault_injection = false;
};
struct InboxStatus {
  std::size_t unacknowledged = 0, from_strangers = 0, senders = 0, max_per_peer = 0, max_messages = 0;
  std::size_t uncommitted_bytes = 0, uncommitted_peak_bytes = 0, sessions_paused = 0,
              max_uncommitted_bytes = 0;
};
struct NodeStatus {
  PeerId peer_id;
  std::string listen;
  std::uint16_t listen_port = 0;
  bool running = false, has_internet = false;
  std::string connectivity_basis;
  std::vector<TransportStatus> transports;
  std::size_t connections = 0, known_peers = 0, outbox_queued = 0, outbox_in_flight = 0;
  NodeCounters counters;
  InboxStatus inbox;
  std::uint64_t strangers_forgotten = 0;
};
struct PowerView {  // refers into the node: read it on the strand, before the node changes
  const power::PowerState* measured;
  const power::PowerOverrides* overrides;
  const power::PowerState* effective;
  const power::PowerPolicy* policy;
  std::string sysfs_root;
  std::vector<std::string> notes;  // files the readings could not use
};
struct ConnectivityView {
  const router::Connectivity* state;  // refers into the node: read it on the strand
  std::string probe;                  // the configured probe address ("" : none)
};
struct ConnectionView {  // one live session
  PeerId peer;
  std::string transport;
  std::uint64_t session = 0;
  std::string remote_address;
  bool initiator = false;
  std::uint64_t age_ms = 0, bytes_in = 0, bytes_out = 0, records_in = 0, records_out = 0;
  std::uint32_t hops = 1;
  std::optional<PeerId> next_hop;  // for a session that goes through relays
};
struct PeerView {
  PeerId peer;
  std::vector<std::string> addresses;
  bool connected = false;
  std::uint64_t last_seen_ms = 0;
};
struct RouteView {
  PeerId destination, next_hop;
  std::string transport;
  std::string kind;  // direct, mesh, cached
  int hops = 1;
  std::uint64_t updated_ms = 0, expires_ms = 0;
};
struct InboxEntry {  // a received message as stored
  std::uint64_t seq = 0;
  MessageId id;
  PeerId from;
  std::uint64_t timestamp_ms = 0;
  std::uint32_t type = 0;
  bool acknowledged = false;
  Bytes payload;
};
struct RelayView {
  bool serving = false;     // role relay or super_peer
  relay::RelayStats stats;  // as a relay; `dropped` also counts relay messages refused by this node
  std::uint64_t held_messages = 0, held_stored = 0, held_delivered = 0, held_refused = 0;
  std::uint64_t held_at_relays = 0;                       // this node's messages a coordinator took to hold
  std::uint64_t punch_attempts = 0, punch_successes = 0;  // hole punching
  std::vector<PeerId> reserved_at;                        // relays holding a reservation for this node
};
struct LearnedRecord {
  discovery::PeerRecord record;
  std::vector<std::string> addresses;  // the ones this node can dial (as text multiaddrs)
  bool stored = false;                 // false: a repeat of the record already held
};
// How the node looked for a peer (the discovery chain: docs/discovery.md), GET /v1/p2p/peers/{id}.
struct DiscoveryStepView {
  std::string step;             // live_session, cache, peer_query, coordinators, registry, store_and_forward
  std::uint64_t budget_ms = 0;  // when the step starts at the latest, from the start of the search
  std::uint64_t started_after_ms = 0;    // from the start of the search
  std::optional<std::uint64_t> took_ms;  // empty: still out
  std::string outcome;                   // "found", or why the chain moved on
};
struct PeerDiscoveryView {
  PeerId peer;
  std::string
      state;  // DISCONNECTED, DISCOVERING, SIGNALING, CONNECTING, CONNECTED, FAILED, STORE_AND_FORWARD
  std::string found_by;      // the step that found it; empty if none (yet)
  std::uint64_t age_ms = 0;  // since the search started (0: never searched)
  std::vector<DiscoveryStepView> steps;
  std::vector<std::string> sessions;        // transports with a live session to it
  std::vector<std::string> addresses;       // where this node would dial it
  std::uint64_t pending = 0;                // messages waiting for it
  std::optional<std::uint64_t> record_seq;  // the signed record held for it
  std::string record_source;
  std::vector<std::string> record_coordinators;  // the record's coordinators (relays it is reserved at)
};
struct DiscoveryCounters {
  std::uint64_t searches = 0, found = 0, store_and_forward = 0;
  std::uint64_t queries_sent = 0, queries_received = 0, queries_answered = 0, queries_forwarded = 0;
  std::uint64_t queries_dropped = 0;  // duplicates, over the rate, unknown
  std::uint64_t answers_received = 0, answers_unsolicited = 0, answers_passed_back = 0;
  std::uint64_t records_pushed = 0, records_learned = 0, records_refused = 0, malformed = 0;
  // mDNS on the LAN
  bool mdns_running = false;
  std::uint64_t mdns_peers = 0, mdns_queries_sent = 0, mdns_answers_sent = 0, mdns_packets_dropped = 0;
};
struct RegistryCounters {
  std::uint64_t announces = 0, announce_failures = 0, lookups = 0, lookups_found = 0, lookup_failures = 0;
  std::string last_error;
};
struct BroadcastView {  // a broadcast heard or sent
  std::uint64_t seq = 0;
  std::string via;  // the transport
  std::string channel;
  Bytes payload;
  std::optional<PeerId> sender;
  bool verified = false, own = false;
  std::uint64_t sent_ms = 0, received_ms = 0;
  std::vector<std::pair<std::string, std::string>> sender_details;  // as the transport knows the sender
};

// A file transfer (files/transfer_core.hpp) as it stands; `transfer` refers into the node: read it
// on the strand, before the node changes.
struct FileTransferView {
  const files::Transfer* transfer = nullptr;
  double rate_bps = 0;  // recent bytes per second while bytes move
};

class Node {
 public:
  using Executor = boost::asio::any_io_executor;
  using SendHandler = std::function<void(std::expected<MessageId, std::error_code>)>;
  using InboundHandler = std::function<void(const InboundMessage&)>;

  // What a node takes from its host besides its configuration; either may stay empty.
  struct Services {
    std::shared_ptr<const transport::TransportRegistry> transport_types;  // null: the built-in types
    std::shared_ptr<spdlog::logger> log;  // null: one named after the node, on the default sinks
    std::shared_ptr<const Clock> clock;   // null: the system's clocks
    // Drills and tests: arm it to make the store's next commits fail as a full disk would.
    std::shared_ptr<store::WriteFaults> store_faults;
  };
  // Loads or creates the identity in config.data_dir, opens the store and makes the configured
  // transports from the registry in `services`. Errors are readable sentences.
  static std::expected<std::unique_ptr<Node>, std::string> create(Executor executor, NodeConfig config,
                                                                  Services services = {});
  ~Node();

  // Binds the peer listener and starts dialing known peers.
  std::error_code start();
  // Closes every link and the listener; pending work is kept in the store.
  void stop();

  Executor executor() const;
  const PeerId& peer_id() const;
  // The first transport's listening port, or that of the named transport (0 if none).
  std::uint16_t listen_port() const;
  std::uint16_t listen_port(std::string_view transport) const;
  const NodeConfig& config() const;

  // Durable: the envelope is committed to the outbox, then `done` gets its id (or the store error);
  // delivery continues in the background. Ephemeral: `done` gets the id once the message is queued on
  // a live link, or Errc::no_link.
  void send(const PeerId& to, Bytes payload, const SendOptions& options, SendHandler done);
  // Durable sends of many payloads to one peer, committed together.
  void send_many(const PeerId& to, std::vector<Bytes> payloads, const SendOptions& options,
                 std::function<void(std::expected<std::vector<MessageId>, std::error_code>)> done);

  std::optional<MessageStatus> status(const MessageId& id) const;
  // Bytes queued on the live link to `peer` and not yet written to its socket (0 without a link).
  std::size_t link_backlog(const PeerId& peer) const;
  // Called on the strand whenever a durable message's ack arrives (at most once per id).
  void on_delivered(std::function<void(const MessageId&)> observer);
  void add_peer(const PeerId& peer, std::vector<std::string> addresses,
                std::function<void(std::error_code)> done);

  // Received messages: a subscriber first gets every message not yet acknowledged by the app, then
  // new ones as they are committed. ack() marks a message consumed: it is never handed out again.
  std::uint64_t subscribe(InboundHandler handler);
  void unsubscribe(std::uint64_t token);
  void ack(const MessageId& id);

  // Views of the node's state (the API turns them into JSON: src/api/node_views.hpp).
  NodeStatus status_view() const;
  std::vector<ConnectionView> connections() const;
  // The transports this node can send over, in configuration order.
  std::vector<std::string> transport_names() const;
  // Each transport, with the node's counters for it (GET /v1/p2p/transports).
  std::vector<TransportStatus> transport_status() const;
  // Fault injection (config fault_injection: true): makes a transport slow, lossy, offline or dead.
  // mode: none | slow | lossy | offline | dead. Errors: not_found (no such transport),
  // invalid_argument (bad mode), unsupported (fault injection is off).
  std::error_code inject_fault(std::string_view transport, std::string_view mode, std::uint64_t delay_ms,
                               double loss);
  // Whether this node has internet, on what evidence, and the recent switches (router/connectivity.hpp).
  ConnectivityView connectivity_view() const;
  // Manual override (API and config): true/false forces the state, nullopt returns to detection.
  void set_connectivity_override(std::optional<bool> online);
  // Battery, charging and temperature (measured, overridden, effective) and what the power policy
  // decided (GET /v1/p2p/power).
  PowerView power_view() const;
  // Overrides (API and config): a value replaces the measured one, nullopt returns to measuring.
  void set_power_overrides(std::optional<double> battery, std::optional<bool> charging,
                           std::optional<double> temperature_c);
  // Public and channel messages (broadcast and multicast) over every transport that can
  // carry them (the BitChat mesh). Returns the transports used. Errors: invalid_argument (empty or
  // bad channel, empty payload), too_large (payload over 4096 bytes), no_link (no broadcast
  // transport is available). `privacy` anonymous: only anonymous transports (the mixnet);
  // private: those when one is available, else the others.
  std::expected<std::vector<std::string>, std::error_code> broadcast(const std::string& channel,
                                                                     ByteView payload,
                                                                     Privacy privacy = Privacy::standard);
  // Broadcasts heard (and sent) since `after_seq`, oldest first; `channel` "*" for all, "" public.
  std::vector<BroadcastView> broadcasts(std::uint64_t after_seq, const std::string& channel,
                                        std::size_t limit) const;
  std::vector<PeerView> peers() const;
  std::vector<RouteView> routes() const;
  // This node's signed peer record (discovery/peer_record.hpp): its TCP addresses, a sequence
  // number above every earlier one. Call on the strand.
  std::expected<Bytes, std::error_code> signed_record();
  // A peer's signed record, from the peer itself, a query answer, a coordinator or the registry
  // (`source` says which). It is verified, kept if newer than the one held, and its addresses are
  // given to the transports. Errors: malformed, bad_signature, peer_id_mismatch (signed by someone
  // else), replay (older than the one held), stale (expired), invalid_argument (this node's own).
  void learn_record(ByteView envelope, std::string source,
                    std::function<void(std::expected<LearnedRecord, std::error_code>)> done);
  // Looks for a peer through the discovery chain (it is not connected and no search is running) and
  // returns where that stands; a send to an unreachable PeerId starts the same search.
  PeerDiscoveryView find(const PeerId& peer);
  PeerDiscoveryView discovery_view(const PeerId& peer) const;
  const DiscoveryCounters& discovery_counters() const;
  const RegistryCounters& registry_counters() const;
  // Relaying: what this node does as a relay (role relay or super_peer) and as a client of relays.
  RelayView relay_view() const;
  // Received messages after `after_seq` (acknowledged or not), oldest first.
  std::vector<InboxEntry> inbox(std::uint64_t after_seq, std::size_t limit) const;
  const NodeCounters& counters() const;

  // File transfers (docs/files.md): offer a file (read on a worker: its size and SHA-256 first), the
  // answers to an incoming offer, cancel; the transfers this node knows, newest last. Errors of
  // accept/decline/cancel: not_found, invalid_argument (not in a state that allows it), too_large
  // (accept: not enough disk space; the offer is declined).
  void offer_file(const PeerId& to, std::filesystem::path path, std::string name, std::string media_type,
                  std::function<void(std::expected<files::TransferId, std::string>)> done);
  std::error_code accept_file(const files::TransferId& id);
  std::error_code decline_file(const files::TransferId& id, const std::string& reason);
  std::error_code cancel_file(const files::TransferId& id, const std::string& reason);
  std::vector<FileTransferView> file_transfers() const;
  std::optional<FileTransferView> file_transfer(const files::TransferId& id) const;
  const files::TransferCounters& file_counters() const;
  std::filesystem::path download_dir() const;
  // Called on the strand when a transfer changes state or moves (at most ~4 times a second each).
  void on_file_event(std::function<void(const FileTransferView&)> watcher);

  // Prometheus text exposition of the node's metrics.
  std::string metrics_text();

  class Impl;

 private:
  explicit Node(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace hyphae
