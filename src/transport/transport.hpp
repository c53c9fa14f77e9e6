// Transport: one way of carrying records between this node and its peers (the TCP mesh today;
// BitChat and BetaNet later). The node owns its transports through this interface only and knows
// none of them by name: they are made by a TransportRegistry from the configuration.
// A transport delivers authenticated sessions: every record it hands the sink comes from the peer
// named with it, and every session has an id unique among the node's transports (an epoch: a new session to
// the same peer gets a new id). Thread-safety: a transport runs on the strand it was created with (the
// node's); every method and every sink callback runs there. Ownership: the node owns the transports and the
// sink outlives them.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"
#include "core/peer_id.hpp"
#include "router/capabilities.hpp"
#include "transport/close_reason.hpp"
#include "transport/option_schema.hpp"

namespace hyphae {
class Identity;
}
namespace spdlog {
class logger;
}

namespace hyphae::transport {

// What a record carries, as the node sees it (each transport maps these onto its own framing).
enum class RecordKind : std::uint8_t {
  data = 1,       // a durable envelope: the receiver commits it, then acks its id
  ack = 2,        // n x 16-byte message ids committed by the receiver
  ephemeral = 3,  // an envelope for real-time delivery: no store, no ack
  // One fragment (src/fragment) of a data or ephemeral record larger than the transport's MTU:
  // the reassembled bytes are the record kind (one byte) and the record body.
  fragment = 4,
  // A discovery message (src/discovery/link_messages.hpp): a peer's own signed record, a
  // PEER_QUERY or a PEER_FOUND. Never stored, never acked.
  discovery = 5,
  // A relay message (src/relay/relay_messages.hpp) between a node and a relay it has a direct
  // link to: reservations, circuits and their bytes, held messages. Direct transports only.
  relay = 6,
};

struct SessionInfo {
  std::uint64_t id = 0;  // unique among the node's transports; 0 never names a session
  bool initiator = false;
  std::string remote_address;
  std::uint64_t age_ms = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0, records_in = 0, records_out = 0;
  // Multi-hop transports (the BitChat mesh): hops to the peer and the neighbour on the way.
  std::uint8_t hops = 1;
  std::optional<PeerId> next_hop;
};

class Transport;

// What the sender of one record asked for that a transport may honour; others ignore it.
struct RecordHints {
  // The privacy mixnet's mode for this record: 0 the transport's own default, 1 strict,
  // 2 balanced, 3 performance (docs/betanet.md).
  std::uint8_t mix_mode = 0;
};

// A public or channel message heard on a transport with the broadcast capability: bytes on a
// channel. What a transport knows about the sender beyond its PeerId (the BitChat mesh: its
// nickname and mesh id) comes as named details, shown as they are.
struct BroadcastMessage {
  std::string channel;  // empty: the public channel
  Bytes payload;
  std::optional<PeerId> sender;  // when its signature verified against a known identity
  bool verified = false;
  std::uint64_t timestamp_ms = 0;                                   // the sender's clock
  std::vector<std::pair<std::string, std::string>> sender_details;  // e.g. {"nickname", "alice"}
};

// The node's side of a transport's events, called on the strand.
class TransportSink {
 public:
  virtual ~TransportSink() = default;
  virtual void on_session_up(Transport& transport, const PeerId& peer, std::uint64_t session) = 0;
  // The session is gone; `reason` says why. Records already handed to send() may be lost.
  virtual void on_session_down(Transport& transport, const PeerId& peer, std::uint64_t session,
                               const CloseReason& reason) = 0;
  virtual void on_record(Transport& transport, const PeerId& peer, std::uint64_t session, RecordKind kind,
                         ByteView body) = 0;
  // Everything queued for `peer` so far has been written out: a good moment to queue more.
  virtual void on_drained(Transport& transport, const PeerId& peer) = 0;
  virtual void on_availability(Transport& transport, bool available, const std::string& reason) = 0;
  // Whether the node wants a session with `peer` now (transports that dial ask before dialing).
  virtual bool wants_session(Transport& transport, const PeerId& peer) = 0;
  // A broadcast or channel message from the transport's network.
  virtual void on_broadcast(Transport& transport, const BroadcastMessage& message) {}
};

// Session ids: a node hands one source to all its transports, so their ids never collide (a
// redundant send compares sessions across transports). Not thread-safe: it lives on the strand.
class SessionIds {
 public:
  std::uint64_t next() { return ++last_; }

 private:
  std::uint64_t last_ = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // The instance's name ("tcp", "lan", ...): what statuses, metrics and SendOptions::transport use.
  virtual std::string_view name() const = 0;
  // The family it was made from ("tcp"): several instances may share one.
  virtual std::string_view type() const = 0;
  virtual const router::Capabilities& capabilities() const = 0;

  virtual std::error_code start() = 0;
  virtual void stop() = 0;  // closes every session; the sink hears each close
  virtual bool available() const = 0;

  // The live session to `peer`, or 0.
  virtual std::uint64_t session(const PeerId& peer) const = 0;
  // Queues a record on the live session to `peer`. On error nothing was queued, and the code says
  // why: Errc::no_link (no live session), Errc::backpressure (the transport's own queue to the
  // peer is full: try again after on_drained), Errc::too_large (over the MTU) or Errc::closed (the
  // session is closing or the transport stopped).
  virtual std::error_code send(const PeerId& peer, RecordKind kind, ByteView body) = 0;
  // The same with the sender's wishes for this record; by default they are ignored.
  virtual std::error_code send_hinted(const PeerId& peer, RecordKind kind, ByteView body,
                                      const RecordHints& hints) {
    (void)hints;
    return send(peer, kind, body);
  }
  // Bytes queued for `peer` and not yet written out (0 without a session).
  virtual std::size_t backlog(const PeerId& peer) const = 0;
  // Of those, the bytes that have not reached the socket (a record counted here is not on the
  // network yet, so its ack cannot be due). The same as backlog() unless the transport holds records
  // that stand for ones already in flight (the fault injector's delayed records).
  virtual std::size_t unsent_bytes(const PeerId& peer) const { return backlog(peer); }
  // Closes the session to `peer`, if any, for `reason`.
  virtual void close(const PeerId& peer, const CloseReason& reason) = 0;
  // Stops (true) or resumes (false) reading records from the live session to `peer`; the node holds
  // back a peer whose messages wait to be committed. A transport without flow control may ignore
  // it: its own rate limits bound what a peer can send.
  virtual void pause_receiving(const PeerId& peer, bool paused) {}
  virtual std::optional<SessionInfo> session_info(const PeerId& peer) const = 0;
  virtual std::vector<PeerId> peers_with_sessions() const = 0;

  // Addresses this transport can dial `peer` at (its own syntax, e.g. host:port). Invalid ones are
  // an invalid_argument error and nothing is kept.
  virtual std::error_code add_addresses(const PeerId& peer, const std::vector<std::string>& addresses) = 0;
  // A hint that the node has something for `peer`: dial now rather than after the backoff.
  virtual void connect_soon(const PeerId& peer) = 0;
  // Hole punching: dials `address` from the transport's own listening port while the peer does the
  // same toward this node (both NATs then hold a mapping for the pair, and the two SYNs cross: a
  // TCP simultaneous open). The secure channel's initiator is the smaller PeerId, on both sides.
  // Errc::unsupported for transports that cannot.
  virtual std::error_code punch(const PeerId& peer, const std::string& address);
  // Called every ~50 ms on the strand: timers, dialing.
  virtual void tick(std::uint64_t now_ms) = 0;

  // The power policy's keepalive period for sessions made from now on (longer on a low
  // battery). Transports without keepalives ignore it.
  virtual void set_keepalive_interval(std::uint64_t ms) {}

  // Sends a public message (empty channel) or a channel message to everyone the transport reaches.
  // Errc::unsupported for transports without broadcast.
  virtual std::error_code broadcast(std::string_view channel, ByteView payload);

  // The listening endpoint's port (0 when the transport does not listen).
  virtual std::uint16_t listen_port() const = 0;
  // JSON for GET /v1/p2p/transports: at least name, type, available and sessions.
  virtual nlohmann::json status_json() const = 0;
};

// What a factory gets: the instance's name, its options from the configuration (validated text),
// and what every transport needs from the node.
struct TransportContext {
  std::string name;
  std::map<std::string, std::string> options;
  boost::asio::strand<boost::asio::any_io_executor> strand;  // build the context with designated
                                                             // initializers: it needs an executor
  const Identity* identity = nullptr;
  TransportSink* sink = nullptr;
  // The node's id source, shared by its transports; null: the transport keeps its own.
  SessionIds* session_ids = nullptr;
  // Where the transport logs; null: a logger named after the transport on the default sinks.
  std::shared_ptr<spdlog::logger> log;
  // Node-wide limits and timers a transport may honour.
  std::size_t max_record_bytes = 0;
  std::uint64_t handshake_timeout_ms = 5000;
  std::uint64_t keepalive_interval_ms = 15000;
  std::uint64_t reconnect_min_ms = 100;
  std::uint64_t reconnect_max_ms = 5000;
};

using TransportFactory =
    std::function<std::expected<std::unique_ptr<Transport>, std::string>(TransportContext context)>;

// One transport type, as its folder exports it: its name, what it is, the options it takes, and its
// factory. A type without a factory is known to the configuration (its options are checked) but
// cannot run yet.
struct TransportType {
  std::string type;
  std::string summary;
  OptionSchema options;
  TransportFactory factory;
};

// Transport types by name. The configuration loader checks a transport section against its type's
// schema, and the node asks the registry for each configured instance; an unknown type is a
// readable error. Nothing here is process-wide: a node and a configuration load take the registry
// they use (builtin_registry() for the types this build has; tests make their own).
// Thread-safety: fill it before use; reads are then safe from any thread.
class TransportRegistry {
 public:
  void add(TransportType type);
  // Shorthand for a type without options of its own (tests' toy transports).
  void add(std::string type, TransportFactory factory);
  bool has(std::string_view type) const;
  const TransportType* find(std::string_view type) const;
  std::vector<std::string> types() const;
  // Checks `context.options` against the type's schema, then calls its factory.
  std::expected<std::unique_ptr<Transport>, std::string> make(std::string_view type,
                                                              TransportContext context) const;

 private:
  std::map<std::string, TransportType, std::less<>> types_;
};

// A registry with every transport type this build has (src/transport/builtin.cpp).
TransportRegistry builtin_registry();
// The same, made once: what a configuration load or a node uses when given none.
const TransportRegistry& default_registry();

// `context.log`, or a logger named after the transport on the default sinks.
std::shared_ptr<spdlog::logger> logger_for(const TransportContext& context);

// Reads capability overrides from a transport's options ("caps.requires_internet": "false", ...)
// over `base`. Unknown capability names and bad values are errors naming the key.
std::expected<router::Capabilities, std::string> apply_capability_options(
    router::Capabilities base, const std::map<std::string, std::string>& options);
// Every capability field by name, for status views.
nlohmann::json capabilities_json(const router::Capabilities& caps);

}  // namespace hyphae::transport
