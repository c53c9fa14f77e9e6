// bitchat::MeshCore: the relay logic of one BitChat mesh node, sans-IO. Frames come in from links
// with the time; out come packets for this node and frames to send on links at given times. It
// implements the apps' rules (docs/bitchat.md, "Relay"): TTL 7, duplicate suppression (an LRU
// of 1000 keys for 5 minutes), relay jitter by link degree, broadcast fan-out to a subset of about
// log2(n) + 1 links with split horizon (on dense nodes), directed packets towards their recipient
// (by a link to it, or the v2 source route), and rate limits per sender and in total so a flooding
// node cannot take the mesh down (the per-sender table is bounded, and a compressed payload is
// inflated only once both limits took the frame). Two additions cut transmissions without losing coverage: a
// relay waits out its jitter and then skips every neighbour it heard the packet from, and every
// neighbour of those (known from their announces' neighbour lists: they were sent a copy by the
// same rule); and a copy that arrives with a higher TTL than the one relayed is relayed again, so
// the 7-hop horizon is reached along the shortest path.
// Thread-safety: none; one owner calls every method (a transport's strand, or a simulator).
// Ownership: owns copies of everything it holds; outputs are returned by value.
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bitchat/packet.hpp"

namespace hyphae::bitchat {

using LinkId = std::uint32_t;

struct MeshOptions {
  ShortId self{};
  std::size_t dedupe_entries = 1000;      // the apps' LRU size
  std::uint64_t dedupe_ttl_ms = 300'000;  // and expiry
  bool subset_fanout = true;              // broadcasts to ~log2(n)+1 links on dense nodes
  std::size_t subset_min_degree = 10;     // ... with at least this many links (sparse meshes need all)
  bool coverage_pruning = true;           // skip neighbours a heard-from neighbour has covered
  bool ttl_upgrade = true;                // relay again when a copy with a higher TTL arrives
  bool jitter = true;                     // relay after the apps' random delays (false: at once)
  // Cancel a scheduled broadcast relay after hearing this many copies from neighbours during its
  // jitter (0: never cancel). Counter-based suppression: the neighbours have covered the area.
  int cancel_after_copies = 0;
  // iOS's broadcast TTL caps by link degree (5 at degree >= 6, 6 otherwise, the full TTL at degree
  // <= 2). Off by default: in a sparse BLE-like mesh (<= 8 links) they cut the reach to 5 hops.
  bool degree_ttl_caps = false;
  // Token buckets: packets accepted per second (and the burst) from one sender, and in total.
  double per_sender_rate = 50, per_sender_burst = 100;
  double total_rate = 500, total_burst = 1000;
  // Per-sender buckets kept at most (sender IDs are unauthenticated: anyone can make up more).
  std::size_t max_sender_buckets = 4096;
  std::uint64_t seed = 1;  // jitter and tie-breaking randomness (deterministic for tests)
};

struct MeshCounters {
  std::uint64_t received = 0, delivered = 0, duplicates = 0, relayed = 0, frames_sent = 0;
  std::uint64_t dropped_malformed = 0, dropped_ttl = 0, dropped_own = 0, dropped_rate = 0, cancelled = 0;
  std::uint64_t pruned = 0, ttl_upgrades = 0;
  std::uint64_t inflated = 0;  // compressed frames decoded (only once the rate limits took them)
};

class MeshCore {
 public:
  struct Send {
    LinkId link;
    Bytes frame;
    std::uint64_t at_ms;
  };
  struct Delivery {
    Packet packet;
    LinkId from;
  };
  struct Output {
    std::vector<Delivery> deliveries;  // packets for this node (broadcasts and ones addressed to it)
    std::vector<Send> sends;           // frames to put on links, now or at at_ms
    void append(Output&& other);
  };

  explicit MeshCore(MeshOptions options);

  // A link came up; `neighbour` is the peer at its other end once known (from its announce).
  void link_up(LinkId link, std::optional<ShortId> neighbour = std::nullopt);
  void set_neighbour(LinkId link, ShortId neighbour);
  // The neighbour's own neighbours, from its announce (TLV 0x04): used for coverage pruning.
  void set_neighbour_links(LinkId link, std::vector<ShortId> their_neighbours);
  void link_down(LinkId link);
  std::size_t degree() const { return links_.size(); }

  // A frame from `link`. Malformed frames are counted and dropped (the caller may close the link).
  Output on_frame(LinkId link, ByteView frame, std::uint64_t now_ms);
  // Sends this node's own packet: broadcast to every link, directed towards its recipient.
  Output originate(const Packet& packet, std::uint64_t now_ms);
  // Frames whose relay time has come.
  Output tick(std::uint64_t now_ms);
  // The earliest time tick() has something to do (nullopt: nothing scheduled).
  std::optional<std::uint64_t> next_due() const;

  const MeshCounters& counters() const { return counters_; }
  // Per-sender rate-limit buckets held now (at most MeshOptions::max_sender_buckets).
  std::size_t sender_bucket_count() const { return sender_buckets_.size(); }
  // Directed packets (relayed or our own) that found no link to go out on since the last call,
  // TTL already decremented: the caller may hold them for a while (RelaySpool).
  std::vector<Packet> take_undeliverable() { return std::exchange(undeliverable_, {}); }

 private:
  struct Seen {
    std::list<std::string>::iterator order;
    std::uint64_t at_ms;
    std::uint8_t best_ttl;  // the highest TTL a copy arrived with
  };
  struct Dedupe {
    std::list<std::string> order;  // oldest first
    std::unordered_map<std::string, Seen> seen;
  };
  struct Pending {
    std::uint64_t at_ms;
    std::string key;
    Packet packet;  // TTL already decremented
    std::optional<LinkId> ingress;
    std::vector<LinkId> heard_from;  // links a copy came in on while it waited
    bool cancellable = false;
  };
  struct Bucket {
    double tokens = 0;
    std::uint64_t last_ms = 0;
    bool init = false;
  };
  // A sender's bucket, and its place in the index by the time it is full again. Every bucket
  // refills at the same rate, so that order is also "fullest first" at any moment.
  struct SenderBucket {
    Bucket bucket;
    std::multimap<double, std::uint64_t>::iterator by_full;
  };

  static std::string dedupe_key(const Packet& p);
  Seen* find_seen(const std::string& key, std::uint64_t now_ms);  // expires old keys first
  void remember(const std::string& key, std::uint8_t ttl, std::uint64_t now_ms);
  bool take_token(Bucket& bucket, double rate, double burst, std::uint64_t now_ms);
  // The sender's token, then one of the total bucket: false (and counted) when either is empty.
  // A table full of senders first forgets buckets that are full again (the same as no bucket),
  // then evicts the fullest one: a flood of fresh IDs evicts its own, not an abuser's empty bucket.
  bool charge(const ShortId& sender, std::uint64_t now_ms);
  void index_bucket(std::uint64_t key, SenderBucket& b);
  std::vector<LinkId> targets(const Packet& p, std::optional<LinkId> ingress, const std::string& key,
                              const std::vector<LinkId>& heard_from);
  void fire(Pending& pending, std::uint64_t now_ms, Output& out);
  std::uint64_t jitter_ms(const Packet& p);
  Output relay(Packet p, LinkId ingress, const std::string& key, std::uint64_t now_ms);

  MeshOptions options_;
  std::map<LinkId, std::optional<ShortId>> links_;
  std::map<LinkId, std::vector<ShortId>> two_hop_;
  Dedupe dedupe_;
  std::multimap<std::uint64_t, Pending> pending_;                   // by due time
  std::unordered_map<std::string, std::uint64_t> pending_at_;       // key -> due time (one per key)
  std::unordered_map<std::uint64_t, SenderBucket> sender_buckets_;  // by sender ID (big-endian)
  std::multimap<double, std::uint64_t> buckets_by_full_;            // when each is full again (ms)
  Bucket total_bucket_;
  std::mt19937_64 rng_;
  MeshCounters counters_;
  std::vector<Packet> undeliverable_;
};

}  // namespace hyphae::bitchat
