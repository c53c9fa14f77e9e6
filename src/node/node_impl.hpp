// Node::Impl: the state behind a Node (internal; include only from src/node/*.cpp).
// Everything here runs on `strand`; store callbacks arrive on the store's writer thread and are
// posted back to the strand through a weak pointer, so a destroyed node ignores them.
#pragma once

#include <spdlog/logger.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/identity.hpp"
#include "crypto/noise/noise.hpp"
#include "metrics/registry.hpp"
#include "node/node.hpp"
#include "router/connection_pool.hpp"
#include "router/connectivity.hpp"
#include "router/routing_table.hpp"
#include "store/store.hpp"
#include "transport/mesh/tcp_link.hpp"

namespace hyphae {

// The TCP mesh's name wherever the node records or reports a transport (statuses, routes, pool).
inline constexpr std::string_view kDirectTransport = "tcp";

std::uint64_t now_ms();

class Node::Impl : public mesh::LinkOwner, public std::enable_shared_from_this<Node::Impl> {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  using LinkPtr = std::shared_ptr<mesh::TcpLink>;

  Impl(Executor executor, NodeConfig config, Identity identity, std::unique_ptr<store::Store> store);

  // ---- lifecycle and links (node.cpp)
  std::error_code start();
  void stop();
  void on_link_up(const LinkPtr& link) override;
  void on_link_record(const LinkPtr& link, const mesh::Record& record) override;
  void on_link_down(const LinkPtr& link, bool was_up, const std::string& reason) override;
  void on_link_drained(const LinkPtr& link) override;
  void tick();
  void dial(const PeerId& peer);
  void accept_next();
  LinkPtr live_link(const PeerId& peer) const;
  mesh::TcpLinkOptions link_options() const;

  // ---- delivery (delivery.cpp)
  void load_from_store();
  void send_many(const PeerId& to, std::vector<Bytes> payloads, const SendOptions& options,
                 std::function<void(std::expected<std::vector<MessageId>, std::error_code>)> done);
  void send_ephemeral(const PeerId& to, Bytes payload, const SendOptions& options, SendHandler done);
  void pump(const PeerId& peer);
  void on_data(const LinkPtr& link, ByteView body, bool ephemeral);
  void on_ack(const LinkPtr& link, ByteView body);
  void expire_outbox();
  // Forgets replay-protection ids old enough that their envelopes would be refused as stale anyway.
  void prune_seen(std::uint64_t now);
  void stage(store::WriteBatch batch, std::function<void(std::error_code)> on_commit);
  void commit_staged(bool force = false);
  void deliver_to_app(const InboundMessage& message);
  std::uint64_t subscribe(InboundHandler handler);
  std::optional<MessageStatus> status(const MessageId& id) const;
  void add_peer(const PeerId& peer, std::vector<std::string> addresses,
                std::function<void(std::error_code)> done);

  struct OutMsg {
    PeerId to;
    Bytes wire;  // record body as sent on a link
    bool sealed = false;
    store::OutboxState state = store::OutboxState::queued;
    std::uint64_t created_ms = 0, updated_ms = 0, expires_ms = 0;
    std::uint32_t attempts = 0;
    std::uint64_t sent_on_link = 0;
    std::string reason;
  };
  // One lane per priority (EMERGENCY, HIGH, NORMAL, LOW): the pump empties higher lanes first, so
  // an urgent message overtakes a backlog of ordinary ones to the same peer.
  struct Lane {
    std::deque<MessageId> ids;  // send order within the lane; delivered ids are popped lazily
    std::size_t cursor = 0;     // ids[0, cursor) were sent on the current link
  };
  struct PeerQueue {
    std::array<Lane, 4> lanes;
    Lane& lane(int priority) { return lanes[static_cast<std::size_t>(std::clamp(priority, 0, 3))]; }
    void rewind() {  // a new link: everything unacknowledged goes out again
      for (auto& l : lanes) l.cursor = 0;
    }
  };
  struct PeerState {
    std::vector<std::string> addresses;
    LinkPtr link;
    bool dialing = false;
    std::uint64_t next_dial_ms = 0;
    std::uint64_t backoff_ms = 0;
    std::uint64_t last_seen_ms = 0;
    std::uint64_t link_records_seen = 0;  // the link's record count when the pool last looked
  };
  struct Subscriber {
    InboundHandler handler;
    std::unordered_set<MessageId> replayed;  // ids already handed out during the initial replay
  };

  Strand strand;
  NodeConfig config;
  Identity identity;
  noise::KeyPair link_static;  // this process's Noise static key for links (bound by a signature)
  noise::KeyPair seal_keys;    // X25519 form of the identity key: opens sealed payloads
  std::unique_ptr<store::Store> store;
  std::shared_ptr<spdlog::logger> log;
  boost::asio::ip::tcp::acceptor acceptor;
  boost::asio::steady_timer tick_timer;
  boost::asio::steady_timer lazy_commit_timer;  // see stage_lazily()

  // Routing table and connection pool (node/routing.cpp). A full pool evicts a link only after it
  // has been idle this long (activity is sampled once a second).
  static constexpr std::uint64_t kMinIdleToEvictMs = 5000;
  router::RoutingTable routing;
  router::ConnectionPool pool;
  std::uint64_t last_pool_tick_ms = 0;
  // Admits a new link to the pool (closing an evicted idle one); false: refused, already closed.
  bool admit_link(const LinkPtr& link);
  void release_link(const LinkPtr& link);
  void tick_routing(std::uint64_t now);
  bool has_pending(const PeerId& peer) const;
  bool should_dial(const PeerId& peer, const PeerState& state, std::uint64_t now) const;

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
  // No pending message expires before this (expire_outbox skips its scan until then).
  std::uint64_t next_expiry_ms = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t last_prune_ms = 0;
  static constexpr std::uint64_t kSeenPruneIntervalMs = 10 * 60 * 1000;

  std::unordered_map<MessageId, OutMsg> outbox;
  // Queued and sent messages in `outbox` and their wire bytes (bounded by max_pending_*).
  std::size_t pending_count = 0, pending_bytes = 0;
  void leave_pending(OutMsg& m);
  static bool known_transport(std::string_view name);  // empty (automatic) or a registered one  // before a
                                                       // message's state becomes delivered or failed
  std::unordered_map<PeerId, PeerQueue> queues;
  std::unordered_map<PeerId, PeerState> peers;
  std::unordered_map<PeerId, std::array<std::uint8_t, 32>>
      x25519_keys;                                   // recipients' sealing keys, derived once
  std::set<LinkPtr> links;                           // every link, handshaking or up
  std::unordered_map<std::uint64_t, PeerId> dialed;  // link id -> the peer it was dialed for
  std::unordered_set<MessageId> seen;
  // Received messages staged or being committed, with the link to ack each on. Duplicates that arrive
  // meanwhile (a retransmission over a new link) wait in extra_ack_waiters.
  struct PendingInbound {
    InboundMessage message;
    std::weak_ptr<mesh::TcpLink> link;
  };
  void stage_inbound(PendingInbound pending);
  // For writes nobody waits on (app acks): they ride along with the next commit, or go on their own
  // after kLazyCommitMs. Saves a commit per received message when messages keep arriving.
  void stage_lazily(store::WriteBatch batch);  // after stage() of its inbox row: same chunk
  std::unordered_set<MessageId> awaiting_commit;
  std::vector<std::pair<MessageId, std::weak_ptr<mesh::TcpLink>>> extra_ack_waiters;
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
    metrics::Counter* sent_durable;
    metrics::Counter* sent_ephemeral;
    metrics::Counter* received;
    metrics::Counter* delivered;
    metrics::Counter* err_rejected;
    metrics::Counter* err_link;
    metrics::Counter* err_store;
    metrics::Counter* err_backpressure;
    metrics::Histogram* latency;
  } meters{};
  void init_metrics();
  std::function<void(const MessageId&)> delivered_observer;
};

}  // namespace hyphae
