// MixCore: the sans-IO heart of a mix node. Packets come in with `now`; each is unwrapped with the
// mix's routing key for the current key epoch (or the previous one, for packets in flight across
// the boundary), checked against that key's replay cache, held for an exponentially distributed
// delay (Poisson mixing: the order packets leave in says nothing about the order they came in) and
// handed back to the caller to send to the next hop when due. The mix also makes its own cover
// traffic: loop packets that travel a route back to itself and drop packets that end at another
// mix, each a Poisson process of a configured rate; the caller supplies the routes.
//
// Forward secrecy: set_epoch() wipes (sodium_memzero) every routing key older than the previous
// epoch together with its replay cache, so a key seized later opens no recorded packet.
// Bounds: held packets (max_held: newer ones are dropped and counted), replay tags per key (a full
// cache refuses new packets under that key until the key retires: replays are never let through).
// Thread-safety: none; one owner (the mix node's strand). Ownership: owns its keys and packets.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <unordered_set>
#include <vector>

#include "betanet/sphinx/sphinx.hpp"

namespace hyphae::mix {

struct MixOptions {
  double mean_delay_ms = 50;                // mean of the exponential per-packet delay; 0: no delay
  double loop_cover_per_s = 0.5;            // loop cover packets a second (0: none)
  double drop_cover_per_s = 0.5;            // drop cover packets a second (0: none)
  std::size_t max_held = 20'000;            // packets waiting for their delay
  std::size_t max_replay_tags = 1'000'000;  // per routing key (one key epoch), ~40 bytes each
};

struct MixCounters {
  std::uint64_t received = 0, forwarded = 0, replays = 0, bad_mac = 0, malformed = 0, tagged = 0,
                held_full = 0, replay_cache_full = 0, not_for_a_mix = 0, loops_sent = 0, loops_returned = 0,
                drops_sent = 0, drops_received = 0, previous_key_used = 0, keys_retired = 0;
};

// A packet to send now.
struct Outgoing {
  sphinx::NodeId next_hop;
  Bytes packet;
  bool cover = false;
};

// Kinds of cover a route is asked for.
enum class CoverKind { loop, drop };
// A route for cover traffic: the hops (the last one is the destination) or nullopt when the
// topology has none yet.
using CoverRoute = std::function<std::optional<std::vector<sphinx::Hop>>(CoverKind)>;

class MixCore {
 public:
  MixCore(sphinx::NodeId self, MixOptions options, std::uint64_t rng_seed);
  ~MixCore();
  MixCore(const MixCore&) = delete;
  MixCore& operator=(const MixCore&) = delete;

  // Installs the routing key of `epoch` (published ahead of it).
  void add_key(std::uint64_t epoch, const sphinx::SecretKey& secret);
  // Moves to `epoch`: keys and replay caches of epochs before epoch - 1 are wiped.
  void set_epoch(std::uint64_t epoch);
  std::uint64_t epoch() const { return epoch_; }
  bool has_key(std::uint64_t epoch) const { return keys_.contains(epoch); }

  // A packet from a link. Cover that returns to this mix ends here; everything else is held.
  void on_packet(ByteView packet, std::uint64_t now_ms);
  // Packets whose delay has passed, and cover packets that are due (made through `route`).
  std::vector<Outgoing> poll(std::uint64_t now_ms, const CoverRoute& route);
  // When poll() next has something to do (a held packet or cover), for the caller's timer.
  std::optional<std::uint64_t> next_wakeup() const;

  std::size_t held() const { return held_.size(); }
  std::size_t replay_tags(std::uint64_t epoch) const;
  const MixCounters& counters() const { return counters_; }
  const sphinx::NodeId& self() const { return self_; }

 private:
  // Replay tags kept as their first 16 bytes (a collision among a few million is about 2^-80).
  struct Tag {
    std::uint64_t a, b;
    bool operator==(const Tag&) const = default;
  };
  struct TagHash {
    std::size_t operator()(const Tag& t) const {
      return static_cast<std::size_t>(t.a ^ (t.b * 0x9e3779b97f4a7c15ULL));
    }
  };
  struct Key {
    sphinx::SecretKey secret{};
    std::unordered_set<Tag, TagHash> seen;
    ~Key();
  };
  struct Held {
    std::uint64_t due_ms;
    std::uint64_t order;
    Outgoing out;
    bool operator>(const Held& o) const { return due_ms != o.due_ms ? due_ms > o.due_ms : order > o.order; }
  };
  std::uint64_t delay_ms();
  std::uint64_t next_gap_ms(double per_s);
  void hold(Outgoing out, std::uint64_t now_ms);
  void make_cover(CoverKind kind, const CoverRoute& route, std::uint64_t now_ms, std::vector<Outgoing>& out);

  sphinx::NodeId self_;
  MixOptions options_;
  std::mt19937_64 rng_;
  std::uint64_t epoch_ = 0;
  std::map<std::uint64_t, Key> keys_;
  std::vector<Held> held_;  // a min-heap on due time
  std::uint64_t order_ = 0;
  std::optional<std::uint64_t> next_loop_ms_, next_drop_ms_;
  MixCounters counters_;
};

// The first bytes of a cover packet's body, so the mix that receives it knows it is cover.
inline constexpr std::string_view kLoopCoverMarker = "hyphae-cover-loop";
inline constexpr std::string_view kDropCoverMarker = "hyphae-cover-drop";
// A cover packet's body: its kind's marker, then random bytes (64 in all).
Bytes cover_body(CoverKind kind);

}  // namespace hyphae::mix
