// bitchat::MeshNode: one Hyphae node's whole BitChat mesh presence, sans-IO. Above the relay core
// (MeshCore) it keeps the peer table from signed announces, runs a Noise session per mesh peer,
// carries the node's records inside those sessions (a Hyphae Noise payload type), fragments
// frames to the links' MTU and reassembles them, paces its own transmissions under the relays'
// rate limits, sends and answers gossip sync (REQUEST_SYNC with a Golomb-coded set) over recent
// public packets, and sends public broadcasts and channel messages. Links are only ids here: the
// caller reports neighbours and frames and puts the returned frames on the wire (BitChatTransport
// with a LanLink in the product; the radio simulator in tests, on a simulated clock).
// Time: every call takes now_ms, Unix milliseconds (packet timestamps and announce freshness use
// it), which the caller keeps non-decreasing.
// A peer is "up" (a transport session) when it is reachable (a packet heard from it within
// peer_timeout_ms), its announce verified and the Noise session with it is established with the
// static key that announce names. Records are only sent and delivered while up.
// Thread-safety: none; one owner calls every method. Ownership: owns its state; outputs by value.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bitchat/announce.hpp"
#include "bitchat/fragmenter.hpp"
#include "bitchat/gcs.hpp"
#include "bitchat/mesh_core.hpp"
#include "bitchat/noise_session.hpp"
#include "bitchat/store_forward.hpp"
#include "core/identity.hpp"
#include "core/peer_id.hpp"
#include "transport/close_reason.hpp"

namespace hyphae::bitchat {

// Noise payload type (inside noiseEncrypted) for one Hyphae record: data = kind byte || body.
// The apps ignore payload types they do not know.
inline constexpr std::uint8_t kHyphaeRecordPayload = 0x48;
// Packet type of a Hyphae channel message: payload = u8 name length || name || UTF-8 text, signed
// like a public message. The apps relay packet types they do not know and show nothing.
inline constexpr std::uint8_t kChannelMessageType = 0x48;
inline constexpr std::size_t kMaxChannelName = 64;

struct MeshNodeOptions {
  std::string nickname = "hyphae";
  std::uint64_t announce_interval_ms = 10'000;
  std::uint64_t peer_timeout_ms = 35'000;   // unreachable after this long unheard
  std::uint64_t sync_interval_ms = 15'000;  // REQUEST_SYNC to every neighbour (0: never)
  std::uint64_t handshake_timeout_ms = 10'000;
  std::size_t eager_sessions = 32;  // handshake at once with up to this many reachable peers
  std::size_t mtu = 512;            // frames longer than this are fragmented
  // Own transmissions: kept under the relays' per-sender limit (MeshOptions::per_sender_rate).
  double own_rate = 40, own_burst = 80;
  std::size_t own_queue_bytes = 4u << 20;  // own frames waiting for the pacer, at most
  std::size_t history_entries = 300;       // public packets kept for gossip sync
  std::uint64_t history_ms = 15 * 60 * 1000;
  std::size_t sync_filter_bytes = kGcsMaxBytesIos;
  std::size_t max_sync_replies = 64;  // packets sent back for one REQUEST_SYNC
  // Bytes sent back for one REQUEST_SYNC at most, and the budgets that pace answers: per requester
  // (the link it came in on; burst: one whole answer) and in total (burst: four answers), bytes/s.
  std::size_t max_sync_reply_bytes = 64 * 1024;
  double sync_reply_rate = 8 * 1024;
  double sync_reply_total_rate = 64 * 1024;
  // Announced peers kept; when full, a new one evicts the least recently heard without a session.
  std::size_t max_known_peers = 4096;
  // Handshake message 1s answered (each costs key work), per second for the whole node; burst 2x.
  double handshake_reply_rate = 50;
  bool source_routes = true;  // v2 routes for directed packets when the path is known
  MeshOptions mesh;           // self is set from the Noise key
  ReassemblyLimits reassembly;
  RelaySpool::Options spool;
  std::function<std::uint64_t()> next_session_id;  // unset: a counter of its own
  // Whether the owner wants a session with a peer now (the node's pool and idle policy). Eager
  // handshakes ask it; unset: always. A peer the owner closed waits closed_backoff_ms before the
  // next eager handshake (connect() does not wait).
  std::function<bool(const PeerId&)> wants_session;
  std::uint64_t closed_backoff_ms = 30'000;
};

struct MeshBroadcast {
  ShortId sender{};
  std::optional<PeerId> peer;  // set when the sender's announce is known and the signature verified
  std::string nickname;
  std::string channel;  // empty: the public channel (the apps' type-0x02 message)
  std::string text;
  std::uint64_t timestamp_ms = 0;
  bool verified = false;
};

struct MeshEvent {
  enum class Kind : std::uint8_t { peer_up, peer_down, record, broadcast };
  Kind kind{};
  ShortId mesh_id{};
  PeerId peer;
  std::uint64_t session = 0;
  transport::CloseReason reason;  // peer_down
  std::uint8_t record_kind = 0;   // record
  Bytes body;                     // record
  MeshBroadcast broadcast;        // broadcast
};

struct MeshNodeCounters {
  std::uint64_t announces_sent = 0, announces_verified = 0, announces_rejected = 0;
  std::uint64_t handshakes_started = 0, sessions_established = 0, handshake_errors = 0;
  std::uint64_t handshakes_answered = 0, handshakes_refused = 0;  // message 1s given key work, or not
  std::uint64_t records_sent = 0, records_received = 0, decrypt_errors = 0;
  std::uint64_t fragments_sent = 0, reassembled = 0, fragment_errors = 0;
  std::uint64_t broadcasts_sent = 0, broadcasts_received = 0, bad_signatures = 0;
  std::uint64_t syncs_sent = 0, sync_replies = 0, app_private_messages = 0;
  std::uint64_t sync_reply_bytes = 0, sync_refused = 0;  // answers' bytes; requests over budget
  std::uint64_t own_queue_drops = 0;
  std::uint64_t spooled = 0, unspooled = 0;  // directed packets held for an unreachable next hop
};

class MeshNode {
 public:
  struct Output {
    std::vector<MeshCore::Send> sends;
    std::vector<MeshEvent> events;
    void append(Output&& other);
    void append(MeshCore::Output&& core);  // its sends only (deliveries are handled inside)
  };

  MeshNode(const Identity& identity, MeshNodeOptions options);
  ~MeshNode();
  MeshNode(const MeshNode&) = delete;
  MeshNode& operator=(const MeshNode&) = delete;

  const ShortId& self() const { return self_; }
  const Key32& noise_public() const;

  // Sends the first announce. Call once.
  Output start(std::uint64_t now_ms);
  // Says goodbye (a leave packet) and reports every up peer down.
  Output stop(std::uint64_t now_ms);

  Output link_up(LinkId link, std::optional<ShortId> claimed, std::uint64_t now_ms);
  Output link_down(LinkId link, std::uint64_t now_ms);
  // A frame from a link. Sets `malformed` when it did not decode (the caller may drop the link).
  Output on_frame(LinkId link, ByteView frame, std::uint64_t now_ms, bool* malformed = nullptr);
  Output tick(std::uint64_t now_ms);
  // The earliest time tick() has work (announce, sync, pacing, relay jitter, timeouts).
  std::uint64_t next_due(std::uint64_t now_ms) const;

  // The peer's current session id, 0 unless up.
  std::uint64_t session(const PeerId& peer) const;
  std::vector<PeerId> peers_up() const;
  struct PeerPath {
    std::uint8_t hops = 0;           // from its last announce's TTL
    std::optional<PeerId> next_hop;  // the neighbour that announce came through, when known
    std::uint64_t age_ms = 0;        // since the session came up
  };
  std::optional<PeerPath> path(const PeerId& peer, std::uint64_t now_ms) const;
  // A record to an up peer: Errc::no_link when not up, too_large beyond v2 limits.
  std::expected<Output, std::error_code> send_record(const PeerId& peer, std::uint8_t kind, ByteView body,
                                                     std::uint64_t now_ms);
  // Handshake with the peer now if it is reachable and has no session (the node has data for it).
  Output connect(const PeerId& peer, std::uint64_t now_ms);
  // Drops the session with the peer (the next handshake makes a new one).
  Output close(const PeerId& peer, const transport::CloseReason& reason, std::uint64_t now_ms);
  // A public message (empty channel) or a channel message, signed, to the whole mesh.
  std::expected<Output, std::error_code> broadcast(const std::string& channel, const std::string& text,
                                                   std::uint64_t now_ms);

  // Own frames waiting for the pacer, in bytes.
  std::size_t backlog() const { return own_queue_bytes_; }
  const MeshCore& core() const { return core_; }
  const MeshNodeCounters& counters() const { return counters_; }
  // Neighbours, peers (hops, next hop, session state) and counters.
  nlohmann::json status_json(std::uint64_t now_ms) const;

 private:
  struct Peer;
  struct Queued {
    Packet packet;
    std::size_t bytes;
    bool handshake = false;
  };
  struct ByteBudget {  // a token bucket (of bytes for sync answers)
    double tokens = 0;
    std::uint64_t at_ms = 0;
    bool init = false;
    double refill(double rate, double burst, std::uint64_t now_ms);  // the tokens now
  };
  struct HistoryEntry {
    SyncPacketId id;
    Packet packet;
    std::uint64_t held_ms;
  };

  Peer& peer_at(const ShortId& id);
  Peer* find(const PeerId& peer);
  const Peer* find(const PeerId& peer) const;
  void handle(const Packet& packet, LinkId from, std::uint64_t now_ms, Output& out);
  void handle_announce(const Packet& packet, LinkId from, std::uint64_t now_ms, Output& out);
  void handle_handshake(const Packet& packet, std::uint64_t now_ms, Output& out);
  void handle_encrypted(const Packet& packet, std::uint64_t now_ms, Output& out);
  void handle_public(const Packet& packet, std::uint64_t now_ms, Output& out);
  void handle_sync(const Packet& packet, LinkId from, std::uint64_t now_ms, Output& out);
  void heard(Peer& peer, std::uint64_t now_ms, Output& out);
  void update_up(Peer& peer, std::uint64_t now_ms, Output& out);
  void go_down(Peer& peer, const transport::CloseReason& reason, Output& out);
  // A record (kind byte || body, non-empty) from an up peer, handed up.
  void deliver_record(const Peer& peer, ByteView data, Output& out);
  // Drops the session, any re-handshake and everything held for it (reporting the peer down).
  void reset_session(Peer& peer, const transport::CloseReason& reason, Output& out);
  void hold_undecrypted(Peer& peer, const Packet& packet);
  void replay_undecrypted(Peer& peer, std::uint64_t now_ms, Output& out);
  void start_handshake(Peer& peer, std::uint64_t now_ms, Output& out);
  void send_handshake(const Peer& peer, Bytes message, std::uint64_t now_ms, Output& out);
  // When the table is full: forgets the peer heard from least recently among those with no
  // established session (one still handshaking goes last); false when every peer has a session.
  bool evict_a_peer();
  // Queues our own packet (fragmented to the MTU) for the pacer, all of it or nothing: false when
  // the pacer's queue has no room. Handshake messages have a share of their own (so records do not
  // starve them, nor they records) and only the newest one to each peer waits: a newer handshake
  // replaces the state the older message belonged to.
  bool send_own(Packet packet, std::uint64_t now_ms, Output& out);
  void drop_queued_handshake(const ShortId& to);
  std::size_t handshake_share() const;  // bytes of the pacer's queue handshakes may use
  void pace(std::uint64_t now_ms, Output& out);
  Output announce(std::uint64_t now_ms);
  Output request_sync(std::uint64_t now_ms);
  bool remember_public(const Packet& packet, std::uint64_t now_ms);  // false: already held
  std::vector<ShortId> route_to(const ShortId& target) const;
  std::uint64_t stamp(std::uint64_t now_ms);
  std::uint64_t new_session_id();

  const Identity& identity_;
  void spool_undeliverable(std::uint64_t now_ms);
  void unspool(const std::vector<Bytes>& frames, std::uint64_t now_ms, Output& out);

  MeshNodeOptions options_;
  noise::KeyPair noise_static_;
  ShortId self_{};
  MeshCore core_;
  Reassembler reassembler_;
  RelaySpool spool_;  // directed packets with no way on: 60 s, retried every 5 s and on reappearance
  std::map<ShortId, std::unique_ptr<Peer>> peers_;
  std::map<LinkId, std::optional<ShortId>> links_;    // the neighbour, once its announce came in on it
  std::map<LinkId, std::optional<ShortId>> claimed_;  // what the link layer says is there
  // Handshake message 1s from senders whose announce has not come yet (answered once it does).
  std::map<ShortId, std::pair<Packet, std::uint64_t>> pending_m1_;
  std::list<Queued> own_queue_;
  std::size_t own_queue_bytes_ = 0, handshake_bytes_ = 0;  // all queued; the handshakes among them
  std::map<ShortId, std::vector<std::list<Queued>::iterator>> queued_handshakes_;  // by recipient
  std::map<LinkId, ByteBudget> sync_budgets_;  // answer bytes per requester (its link)
  ByteBudget sync_total_budget_;
  ByteBudget responder_budget_;  // message 1s answered (tokens are handshakes, not bytes)
  double own_tokens_ = 0;
  std::uint64_t own_tokens_at_ = 0;
  std::deque<HistoryEntry> history_;
  std::size_t history_bytes_ = 0;
  std::uint64_t next_announce_ms_ = 0, next_sync_ms_ = 0, next_sweep_ms_ = 0;
  std::uint64_t last_stamp_ = 0, session_counter_ = 0;
  bool started_ = false;
  MeshNodeCounters counters_;
};

}  // namespace hyphae::bitchat
