// Node::Impl: the state behind a Node (internal; include only from src/node/*.cpp).
// Everything here runs on `strand`; store callbacks arrive on the store's writer thread and are
// posted back to the strand through a weak pointer, so a destroyed node ignores them.
#pragma once

#include <spdlog/logger.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <limits>
#include <map>
#include <queue>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/clock.hpp"
#include "core/identity.hpp"
#include "crypto/noise/noise.hpp"
#include "delivery/delivery_core.hpp"
#include "discovery/discovery_chain.hpp"
#include "discovery/mdns_service.hpp"
#include "discovery/peer_query.hpp"
#include "fragment/fragment.hpp"
#include "metrics/registry.hpp"
#include "node/file_service.hpp"
#include "node/node.hpp"
#include "power/policy.hpp"
#include "qos/scheduler.hpp"
#include "relay/relay_core.hpp"
#include "router/connection_pool.hpp"
#include "router/connectivity.hpp"
#include "router/routing_table.hpp"
#include "router/selection.hpp"
#include "store/store.hpp"
#include "transport/relay/relay_transport.hpp"
#include "transport/transport.hpp"

namespace hyphae {

namespace transport {
class FaultTransport;
}

// The built-in TCP mesh's instance name (the transport `listen` configures).
inline constexpr std::string_view kDirectTransport = "tcp";

std::uint64_t now_ms();

// What makes a received message a duplicate: its sender and its id together (a 16-byte keyed hash
// of both), so one peer cannot claim another's message id.
using DedupeSecret = std::array<std::uint8_t, 16>;
MessageId dedupe_key(const DedupeSecret& secret, ByteView from, const MessageId& id);

class Node::Impl : public transport::TransportSink,
                   public transport::RelayCarrier,
                   public delivery::Links,
                   public FileHost,
                   public std::enable_shared_from_this<Node::Impl> {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  using Transport = transport::Transport;
  using RecordKind = transport::RecordKind;
  static constexpr std::size_t kMaxTransports = router::kMaxTransports;
  // Where to ack a received message: the session it came in on.
  struct AckTarget {
    transport::TransportIndex transport;
    PeerId peer;
    std::uint64_t session = 0;
  };

  using TransportIndex = transport::TransportIndex;
  using TransportSet = transport::TransportSet;
  using Route = delivery::Route;
  using OutMsg = delivery::OutboundMessage;

  Impl(Executor executor, NodeConfig config, Identity identity, std::unique_ptr<store::Store> store,
       std::shared_ptr<spdlog::logger> log, std::shared_ptr<const Clock> clock);

  // The one-strand rule, checked in debug builds (and with the CMake option HYPHAE_STRAND_CHECKS,
  // on by default): node state is touched only from `strand`.
  void assert_on_strand() const {
#if !defined(NDEBUG) || defined(HYPHAE_STRAND_CHECKS)
    if (!strand.running_in_this_thread()) on_strand_violation();
#endif
  }
  [[noreturn]] void on_strand_violation() const;

  // ---- lifecycle (node.cpp)
  std::error_code start();
  void stop();
  void tick();

  // ---- transports, selection and failover (transports.cpp)
  // One configured transport instance. Per-transport meters are cached here for the hot paths.
  struct TransportSlot {
    std::unique_ptr<Transport> transport;
    transport::FaultTransport* fault = nullptr;  // set when fault injection is enabled
    std::string name;
    std::uint64_t wins = 0;  // redundant sends whose first ack came back over this transport
    std::uint64_t failovers_to = 0;
    // How long an ack may take over it: ack_timeout_ms; for a multi-hop transport, three of its
    // typical latencies when that is longer (a mesh or a mixnet cannot share a direct link's).
    std::uint64_t ack_timeout_ms = 0;
    metrics::Counter* sent_durable = nullptr;
    metrics::Counter* sent_ephemeral = nullptr;
    metrics::Counter* received = nullptr;
    metrics::Counter* delivered = nullptr;
    metrics::Histogram* latency = nullptr;
    std::array<metrics::Counter*, 64> selections{};  // by router::Reason, created on first use
  };
  std::expected<void, std::string> make_transports();
  transport::TransportContext transport_context(std::string name, std::map<std::string, std::string> options);
  void add_slot(TransportSlot slot);                                    // with its meters and ack timeout
  std::shared_ptr<const transport::TransportRegistry> transport_types;  // null: the built-in types
  transport::SessionIds session_ids;                                    // shared by this node's transports
  TransportIndex index_of(const Transport& t) const;                    // none if not this node's
  TransportIndex find_transport(std::string_view name) const;           // none if no such transport
  TransportSlot& slot(TransportIndex t) {
    return transports[t.index()];
  }
  const TransportSlot& slot(TransportIndex t) const {
    return transports[t.index()];
  }
  // Which transports carry a message now (none ok(): it waits in the outbox), and the rule that
  // decided. Transports in `excluded` are not considered.
  Route route_for(const PeerId& peer, std::size_t size, int priority, std::string_view preference,
                  std::uint8_t redundancy, TransportSet excluded, std::uint8_t privacy = 0);
  // delivery::Links: what the delivery core asks of the transports.
  std::uint64_t session(TransportIndex t, const PeerId& peer) const override;
  Route route(const PeerId& peer, const OutMsg& m, TransportSet excluded) override;
  std::uint64_t ack_timeout_ms(TransportIndex t) const override;
  std::size_t unsent_bytes(TransportIndex t, const PeerId& peer) const override;
  std::string explain_route(const PeerId& peer, std::size_t size, int priority, std::string_view preference,
                            std::uint8_t redundancy) const;
  void count_selection(TransportIndex transport, router::Reason why);
  bool any_session(const PeerId& peer) const;
  int session_transport(const PeerId& peer) const;  // a transport with a live session to peer, or -1
  // Hands a record to transport t, split into fragments when it is larger than the transport's MTU.
  // Errors as Transport::send's (a fragment refused part-way leaves the rest unsent).
  std::error_code send_record(TransportIndex t, const PeerId& peer, RecordKind kind, ByteView body,
                              const transport::RecordHints& hints = {});
  void on_fragment(TransportIndex t, const PeerId& peer, std::uint64_t session, ByteView body);
  fragment::Reassembler reassembler;  // keyed by "transport/peer"
  std::string reassembly_key(TransportIndex t, const PeerId& peer) const;
  // Sends an ack record of ids: on the target's session if still live, else on any live one.
  void send_acks(const AckTarget& target, ByteView ids);
  // Ack deadlines and TTLs due now (the delivery core decides; this logs, counts and resends).
  void advance_delivery();
  // After a change that can alter every route (connectivity, power, availability): every waiting
  // message is looked at again.
  void reroute_all();
  void on_ack_timeout(const delivery::DeliveryCore::AckTimeout& timeout, std::uint64_t now);
  // TransportSink.
  void on_session_up(Transport& t, const PeerId& peer, std::uint64_t session) override;
  void on_session_down(Transport& t, const PeerId& peer, std::uint64_t session,
                       const transport::CloseReason& reason) override;
  void on_record(Transport& t, const PeerId& peer, std::uint64_t session, RecordKind kind,
                 ByteView body) override;
  void on_drained(Transport& t, const PeerId& peer) override;
  void on_availability(Transport& t, bool available, const std::string& reason) override;
  bool wants_session(Transport& t, const PeerId& peer) override;
  void on_broadcast(Transport& t, const transport::BroadcastMessage& message) override;
  void remember_broadcast(const std::string& via, const transport::BroadcastMessage& message, bool own);
  // Addresses of the form "name=address" belong to that transport; the rest to the first one.
  std::error_code give_addresses(const PeerId& peer, const std::vector<std::string>& addresses);

  // ---- peer records (records.cpp)
  std::uint64_t own_record_seq = 0;
  static constexpr std::uint64_t kOwnRecordTtlMs = 3600'000;  // a signed record is valid this long
  std::expected<Bytes, std::error_code> sign_own_record();
  // Verifies, judges and keeps a peer's record (Node::learn_record).
  void learn_record(ByteView envelope, std::string source,
                    std::function<void(std::expected<LearnedRecord, std::error_code>)> done);
  // The record held for `peer` in the store, opened, if it has not expired.
  std::optional<discovery::PeerRecord> held_record(const PeerId& peer, Bytes* envelope = nullptr) const;
  // Gives a record's TCP addresses to the first TCP transport; returns them as text.
  std::vector<std::string> give_record_addresses(const discovery::PeerRecord& record);
  std::vector<std::string> dialable_addresses(const discovery::PeerRecord& record) const;  // as text
  void load_records();

  // ---- delivery (delivery.cpp)
  void load_from_store();
  void send_many(const PeerId& to, std::vector<Bytes> payloads, const SendOptions& options,
                 std::function<void(std::expected<std::vector<MessageId>, std::error_code>)> done);
  void send_ephemeral(const PeerId& to, Bytes payload, const SendOptions& options, SendHandler done);
  void pump(const PeerId& peer);
  void on_data(TransportIndex transport, const PeerId& peer, std::uint64_t session, ByteView body,
               bool ephemeral);
  void on_ack(TransportIndex transport, const PeerId& peer, ByteView body);
  // Records deliveries in the store; the outbox entries leave memory only once that committed.
  void persist_delivered(std::vector<store::OutboxUpdate> updates);
  std::vector<store::OutboxUpdate> delivered_unsaved;  // failed to commit: retried every second
  // Forgets replay-protection ids old enough that their envelopes would be refused as stale anyway.
  void prune_seen(std::uint64_t now);
  void stage(store::WriteBatch batch, std::function<void(std::error_code)> on_commit);
  void commit_staged(bool force = false);
  void deliver_to_app(const InboundMessage& message);
  std::uint64_t subscribe(InboundHandler handler);
  // Each committed received message the app has not acknowledged, oldest first, decoded.
  void for_each_unacked_inbox(const std::function<void(Envelope&)>& visit);
  std::optional<MessageStatus> status(const MessageId& id) const;
  void add_peer(const PeerId& peer, std::vector<std::string> addresses,
                std::function<void(std::error_code)> done);

  // ---- QoS transmit queue (node/qos.cpp): the EMERGENCY / HIGH / NORMAL / LOW queues with
  // capacities (10 / 50 / 200 / 500 by default) between the outbox and the transports. A message
  // enters when a transport can carry it; a full class leaves the rest waiting in the outbox (which
  // is durable); an EMERGENCY message that finds its class full evicts the oldest LOW one back to
  // the outbox. Peers take turns inside a class, and a peer whose transport is busy loses its turn
  // without holding up the others.
  qos::Scheduler transmit_queue;
  std::unordered_map<std::uint64_t, MessageId> queued_items;  // transmit-queue handle -> message
  std::uint64_t next_queue_handle = 1;
  std::unordered_set<std::uint64_t> busy_peers;  // fairness keys of peers whose transport is full
  std::vector<PeerId> waiting_for_room;          // peers with messages a full class turned away
  bool draining = false;
  std::uint64_t qos_evictions = 0;
  static std::uint64_t fairness_key(const PeerId& peer) {
    return std::hash<PeerId>{}(peer);
  }
  // Moves what the peer's lanes hold (and a transport can carry now) into the transmit queue, at
  // most `limit` messages; returns how many.
  std::size_t admit(const PeerId& peer, std::size_t limit);
  void drain();  // hands queued messages to their transports in QoS order
  void transmit(const MessageId& id, OutMsg& m, const Route& route);
  // Re-encodes m.wire signed at origin with a sealed payload (for transports whose sessions do not
  // end at the peer); false, logged, if that cannot be done.
  bool sign_and_seal(OutMsg& m);
  std::optional<Bytes> signed_sealed_wire(const OutMsg& m);  // the same, as a copy (m untouched)

  struct PeerState {
    bool known = false;  // added by the app or stored; otherwise a stranger that dialed us
    std::vector<std::string> addresses;
    std::uint64_t last_seen_ms = 0;
    TransportSet sessions;  // transports with a live session to the peer
    // Per transport: degraded until (a timed-out ack), and the session's record count when the
    // pool last looked.
    std::array<std::uint64_t, kMaxTransports> degraded_until{};
    std::array<std::uint32_t, kMaxTransports> failures{};
    std::array<std::uint64_t, kMaxTransports> records_seen{};
  };
  struct Subscriber {
    InboundHandler handler;
    std::unordered_set<MessageId> replayed;  // ids already handed out during the initial replay
  };

  Strand strand;
  NodeConfig config;
  std::shared_ptr<const Clock> clock;  // monotonic time for timers, wall time for what is stored
  Identity identity;
  noise::KeyPair seal_keys;  // X25519 form of the identity key: opens sealed payloads
  std::unique_ptr<store::Store> store;
  std::shared_ptr<spdlog::logger> log;
  boost::asio::steady_timer tick_timer;
  boost::asio::steady_timer lazy_commit_timer;  // see stage_lazily()

  // Routing table and connection pool (node/routing.cpp). A full pool evicts a link only after it
  // has been idle this long (activity is sampled once a second).
  static constexpr std::uint64_t kMinIdleToEvictMs = 5000;
  router::RoutingTable routing;
  router::ConnectionPool pool;
  std::uint64_t last_pool_tick_ms = 0;
  // Admits a new session to the pool (closing an evicted idle one); false: refused and closed.
  bool admit_session(TransportIndex transport, const PeerId& peer);
  void release_session(TransportIndex transport, const PeerId& peer);
  void tick_routing(std::uint64_t now);
  // Drops the table entries of peers with no session, no known address and nothing pending.
  void forget_strangers();
  std::uint64_t strangers_forgotten = 0;
  bool has_pending(const PeerId& peer) const;

  // Power policy (node/power.cpp).
  power::PowerOverrides power_overrides;
  power::PowerState power_measured, power_state;  // as read; with the overrides applied
  power::PolicyConfig power_config;
  power::PowerPolicy power_policy;
  std::vector<std::string> power_notes;  // files sysfs could not read
  std::uint64_t last_power_poll_ms = 0;
  void init_power();
  void read_power(std::uint64_t now);
  void apply_power();  // after a reading or an override changed
  void tick_power(std::uint64_t now);
  router::Context route_context() const;  // connectivity, device type, battery and thermal
  // transport_priority as Role ranks (used when no device type is configured).
  std::array<std::uint8_t, 4> priority_rank = router::rank_from_priority(config.transport_priority);

  // Connectivity detection (node/connectivity.cpp).
  router::Connectivity connectivity;
  bool probe_in_flight = false;
  void init_connectivity();
  void report_link_connectivity();  // after a link comes up or goes down
  void tick_connectivity(std::uint64_t now);
  void start_probe();
  void after_connectivity_input(std::uint64_t changes_before);  // logs and counts a switch
  bool lazy_commit_armed = false;
  bool running = false;
  std::uint64_t last_expiry_ms = 0;
  std::uint64_t last_prune_ms = 0;
  static constexpr std::uint64_t kSeenPruneIntervalMs = 10 * 60 * 1000;

  // The outbox, its lanes, ack deadlines and failover decisions (src/delivery/delivery_core.hpp).
  delivery::DeliveryCore delivery;
  bool known_transport(std::string_view name) const;  // empty (automatic) or a configured one
  std::unordered_map<PeerId, PeerState> peers;
  std::unordered_map<PeerId, std::array<std::uint8_t, 32>>
      x25519_keys;                     // recipients' sealing keys, derived once
  DedupeSecret dedupe_secret{};        // random, made in the constructor
  std::unordered_set<MessageId> seen;  // dedupe_key(sender, id) of messages received in the window
  // Received messages staged or being committed, with the session to ack each on. Duplicates that
  // arrive meanwhile (a retransmission over a new session) wait in extra_ack_waiters.
  struct PendingInbound {
    InboundMessage message;
    AckTarget ack;
    bool stranger = false;       // its sender was not added by the app (inbox quota)
    std::size_t held_bytes = 0;  // memory it holds until committed (max_uncommitted_inbound_bytes)
    MessageId key;               // dedupe_key(sender, id)
  };
  // Received messages held in memory until their commit, by the peer whose session carried them
  // (max_uncommitted_inbound_bytes), and the (transport, peer) sessions paused for it.
  std::unordered_map<PeerId, std::size_t> uncommitted_by_peer;
  std::size_t uncommitted_bytes = 0, uncommitted_peak_bytes = 0;
  std::vector<std::pair<TransportIndex, PeerId>> receive_paused;
  void hold_inbound(TransportIndex transport, const PeerId& peer, std::size_t bytes);
  void release_inbound(const PeerId& peer, std::size_t bytes);
  void stage_inbound(PendingInbound pending);
  // For writes nobody waits on (app acks): they ride along with the next commit, or go on their own
  // after kLazyCommitMs. Saves a commit per received message when messages keep arriving.
  void stage_lazily(store::WriteBatch batch);  // after stage() of its inbox row: same chunk
  // Keyed by dedupe_key(sender, id): a message is a duplicate only of one from the same sender.
  std::unordered_set<MessageId> awaiting_commit;
  struct ExtraAck {
    MessageId key;  // dedupe_key of the message
    MessageId id;
    AckTarget target;
  };
  std::vector<ExtraAck> extra_ack_waiters;
  // Inbox quotas (max_inbox_per_peer, max_inbox_messages): committed messages the app has not
  // acknowledged, by sender; strangers (peers the app never added) together.
  struct UnackedFrom {
    PeerId from;
    bool stranger = false;
  };
  std::unordered_map<PeerId, std::size_t> inbox_unacked_by_peer;
  std::unordered_multimap<MessageId, UnackedFrom> inbox_unacked;  // by message id
  std::size_t inbox_unacked_strangers = 0;
  bool inbox_has_room(const PeerId& from, bool stranger) const;
  void count_unacked(const MessageId& id, const PeerId& from, bool stranger);
  void uncount_unacked(const MessageId& id, const PeerId* only_from = nullptr);
  void app_acked(const MessageId& id);
  // Acks from the app staged or being committed (by id, with a count): a subscriber's replay skips
  // them, because the store still lists those messages as unacknowledged until the commit lands.
  std::unordered_map<MessageId, std::uint32_t> app_acks_uncommitted;
  std::uint64_t last_inbox_full_log_ms = 0;
  // "why this transport" for a message's status: the selection rule, and any failover.
  std::string transport_reason_of(const OutMsg& m) const;
  void on_inbound_committed(std::vector<PendingInbound> batch, std::error_code ec);
  std::map<std::uint64_t, Subscriber> subscribers;
  std::uint64_t next_subscriber = 1;

  // Writes wait in chunks of at most kMaxStagedRows rows; two chunks at a time are with the store
  // (one committing, the next queued, so its writer never waits for this strand). Acks that arrive
  // for messages of chunks still waiting make those go to the store as delivered, without their
  // envelopes (submit_chunk).
  struct StagedChunk {
    store::WriteBatch batch;
    std::vector<std::function<void(std::error_code)>> callbacks;
    std::vector<PendingInbound> inbound;
    bool urgent = false;  // holds something a caller waits on (not only lazily staged rows)
  };
  bool has_urgent_chunk() const;
  StagedChunk& chunk_for(std::size_t rows);  // the chunk being filled, or a new one when it is full
  void arm_lazy_commit();
  std::deque<StagedChunk> staged_chunks;  // never empty: back() is the one being filled
  bool commit_scheduled = false;
  int commits_in_flight = 0;  // at most kMaxCommitsInFlight: one committing, one queued behind it
  // force: submit every chunk now, even with one in flight (stop()).
  void submit_chunk(StagedChunk chunk);

  NodeCounters counters;
  // Prometheus metrics (GET /metrics); references into `metrics` cached for the hot paths.
  metrics::Registry metrics;
  struct Meters {
    metrics::Counter* err_rejected;
    metrics::Counter* err_link;
    metrics::Counter* err_store;
    metrics::Counter* err_backpressure;
    metrics::Counter* err_timeout;
    metrics::Counter* err_fragment;
    metrics::Counter* fragments_sent;
    metrics::Counter* fragments_received;
  } meters{};
  void init_metrics();
  std::function<void(const MessageId&)> delivered_observer;
  // Broadcasts heard and sent (src/node/broadcast.cpp), the newest kBroadcastRing.
  struct StoredBroadcast {
    std::uint64_t seq;
    std::string via;
    transport::BroadcastMessage message;
    std::uint64_t received_ms;
    bool own;
  };
  static constexpr std::size_t kBroadcastRing = 1000;
  std::deque<StoredBroadcast> broadcasts;
  std::uint64_t broadcast_seq = 0;
  // ---- discovery (discovery.cpp): the chain that looks for unreachable peers, PEER_QUERY and
  // PEER_FOUND on the links, and this node's record pushed to every new session.
  discovery::DiscoveryChain chain;
  discovery::QueryResponder responder;
  boost::asio::steady_timer discovery_timer;
  bool discovery_timer_armed = false;
  struct OwnQuery {
    PeerId target;
    discovery::Step step;
    std::uint64_t sent_ms;
  };
  // Queries this node sent, and queries it passed on (answers go back to `origin`); both bounded
  // (kMaxQueriesOut) and forgotten after kQueryMemoryMs.
  struct ForwardedQuery {
    PeerId origin;
    PeerId target;
    std::uint64_t at_ms;
  };
  static constexpr std::size_t kMaxQueriesOut = 1024, kQueryFanout = 8;
  static constexpr std::uint64_t kQueryMemoryMs = 10'000, kRediscoverAfterMs = 30'000;
  static constexpr std::uint32_t kQueryHops = 2;
  std::unordered_map<std::uint64_t, OwnQuery> own_queries;
  std::unordered_map<std::uint64_t, ForwardedQuery> forwarded_queries;
  Bytes own_record;  // signed, pushed to new sessions; re-signed before it expires
  std::uint64_t own_record_expires_ms = 0;
  DiscoveryCounters discovery_counters;
  // Starts a search for `peer` unless it is connected or being searched for.
  void discover(const PeerId& peer);
  void run_discovery(std::vector<discovery::DiscoveryChain::Action> actions);
  void arm_discovery_timer();
  void tick_discovery();
  std::uint64_t last_rediscover_ms = 0;
  void on_discovery(TransportIndex t, const PeerId& from, std::uint64_t session, ByteView body);
  void on_peer_query(TransportIndex t, const PeerId& from, ByteView body);
  void on_peer_found(TransportIndex t, const PeerId& from, ByteView body);
  void push_own_record(TransportIndex t, const PeerId& peer);
  const Bytes& current_own_record();  // signed again when half its lifetime is over
  // ---- mDNS on the LAN (mdns.cpp): peers heard of, newest first out of a bounded map
  std::unique_ptr<discovery::MdnsService> mdns;

  // ---- file transfers (files.cpp)
  std::unique_ptr<FileService> files;
  void start_files();
  void send_file_message(const PeerId& to, Bytes payload, bool durable,
                         std::function<void(std::error_code)> done) override;
  std::size_t file_link_backlog(const PeerId& peer) const override;
  // The file messages committed before a restart that the service has not taken yet.
  void replay_file_messages();
  struct MdnsPeerEntry {
    std::vector<std::string> addresses;  // text multiaddrs
    std::uint64_t heard_ms = 0;          // monotonic
  };
  static constexpr std::size_t kMaxMdnsPeers = 256;
  std::unordered_map<PeerId, MdnsPeerEntry> mdns_peers;
  void start_mdns();
  void on_mdns_peer(const discovery::MdnsPeer& peer);
  // The LAN addresses mDNS heard for `peer`, given to the TCP transport; false if none.
  bool give_mdns_addresses(const PeerId& peer);
  // ---- the registry (registry_client.cpp)
  void look_up_in_registry(const PeerId& peer);
  void announce_to_registry();
  void tick_registry();
  std::uint64_t next_announce_ms = 0;  // monotonic
  bool announce_in_flight = false;
  RegistryCounters registry_counters;
  // Sends a discovery message to `peer` over a transport with a session to it; false if none can.
  bool send_discovery(const PeerId& peer, std::uint8_t type, ByteView body, TransportIndex prefer = {});
  std::size_t send_query(const PeerId& target, discovery::Step step, const std::vector<PeerId>& to);
  std::vector<PeerId> neighbours(const PeerId& except) const;

  // ---- relaying (relay.cpp): the relay transport's carrier (the direct links to relays), the relay
  // side for a node with role relay or super_peer, and the messages it holds for offline peers.
  transport::RelayTransport* relay_transport = nullptr;  // one of `transports`; null without TCP
  std::unique_ptr<relay::RelayCore> relay_core;          // role relay or super_peer only
  bool carrier_up(const PeerId& relay) const override;
  std::error_code send_to_relay(const PeerId& relay, ByteView message) override;
  std::size_t carrier_backlog(const PeerId& relay) const override;
  void want_carrier(const PeerId& relay) override;
  TransportIndex carrier_of(const PeerId& peer) const;  // a direct transport with a session to peer
  bool is_relay_transport(TransportIndex t) const;
  void init_relay();
  void on_relay(TransportIndex t, const PeerId& from, ByteView body);
  void send_relay_out(relay::RelayCore::Out& out);
  void tick_relay(std::uint64_t now);
  // A direct session to `peer` came up / went down / drained: the relay transport and core hear it.
  void carrier_session_up(TransportIndex t, const PeerId& peer);
  void carrier_session_down(TransportIndex t, const PeerId& peer);
  void carrier_drained(const PeerId& peer);
  // A peer's record says it relays: keep a reservation there (relay_reservations).
  void consider_relay(const discovery::PeerRecord& record);
  // Gives the relay transport the peer's relays (its record's coordinators).
  void give_relays(const PeerId& peer, const std::vector<PeerId>& relays);
  void own_relays_changed();
  // Hole punching (DCUtR-like): a peer reached over a relay is dialed directly from the listening
  // port at the address the relay saw, while it does the same; a direct session replaces the relayed one.
  struct PunchState {
    std::uint32_t attempts = 0;
    std::uint64_t next_ms = 0;
  };
  std::unordered_map<PeerId, PunchState> punches;  // peers with a relayed session only
  static constexpr std::uint32_t kMaxPunchAttempts = 3;
  static constexpr std::uint64_t kPunchRetryMs = 10'000;
  std::uint64_t punch_attempts = 0, punch_successes = 0;
  void tick_punch(std::uint64_t mono);
  // Flow control of relayed bytes: sources not read from while the destination's link is full.
  static constexpr std::size_t kRelayBacklogBytes = 1u << 20;
  std::unordered_map<PeerId, std::vector<PeerId>> paused_for;  // destination -> sources paused
  std::uint64_t relay_dropped = 0;
  // ---- held messages (held.cpp). As a relay: what it holds per recipient (counts and bytes, with
  // a key per message), what it handed over and waits for acks of. As a sender: messages a
  // coordinator holds for their recipient.
  struct HeldQuota {
    std::uint64_t messages = 0, bytes = 0;
  };
  std::unordered_map<PeerId, HeldQuota> held_by_recipient;
  std::unordered_set<MessageId> held_keys;  // dedupe_key(recipient, id)
  std::unordered_map<PeerId, std::unordered_map<MessageId, std::size_t>> held_in_flight;  // -> bytes
  std::uint64_t held_count = 0, held_bytes = 0, held_stored = 0, held_delivered = 0, held_refused = 0;
  std::unordered_map<MessageId, PeerId> handed_to_relay;  // message -> the coordinator asked to hold it
  std::uint64_t held_at_relays = 0;
  std::uint64_t last_held_expiry_ms = 0;
  static constexpr std::size_t kHeldHandOverBatch = 256, kMaxHandedToRelay = 10'000;
  static constexpr std::uint64_t kHeldExpiryIntervalMs = 600'000;  // expired held messages go this often
  void load_held();
  void on_store(TransportIndex t, const PeerId& from, const relay::RelayMessage& m);
  void hand_over_held(const PeerId& recipient);
  void held_acked(const PeerId& from, ByteView ids);
  void held_link_down(const PeerId& peer);
  void expire_held();
  void store_at_coordinators(const PeerId& peer);
  void on_store_result(const PeerId& relay, const relay::RelayMessage& m);
  // Relays a circuit waits for: their direct links are wanted until then (monotonic ms), at most
  // kMaxCarriersWanted.
  std::unordered_map<PeerId, std::uint64_t> carriers_wanted;
  static constexpr std::size_t kMaxCarriersWanted = 256;
  std::uint64_t last_relay_tick_ms = 0;
  relay::RelayCore::Out relay_out;  // scratch

  // Last, so it is destroyed first: a transport's callbacks may touch every member above.
  std::vector<TransportSlot> transports;
};

}  // namespace hyphae
