// qos::Scheduler: the bounded priority queue between the outbox and the transport selector.
// Four classes (EMERGENCY > HIGH > NORMAL > LOW) with fixed capacities; strict priority between
// classes, round-robin between peers inside a class (one item per peer per turn).
// Sans-IO and clock-free. Not thread-safe: one owner (the Node's strand) calls every method.
// The scheduler owns copies of the small `Item` handles only; the payloads stay with the caller.
// All memory is allocated in the constructor; push/pop/evict never allocate.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace hyphae::qos {

// The four QoS classes, highest first. The numeric value is the class index.
enum class Priority : std::uint8_t { emergency = 0, high = 1, normal = 2, low = 3 };
inline constexpr std::size_t kPriorityCount = 4;
inline constexpr std::array<Priority, kPriorityCount> kAllPriorities{Priority::emergency, Priority::high,
                                                                     Priority::normal, Priority::low};

// "EMERGENCY", "HIGH", "NORMAL", "LOW".
std::string_view to_string(Priority p) noexcept;
// Case-insensitive inverse of to_string; nullopt for anything else.
std::optional<Priority> parse_priority(std::string_view s) noexcept;

// What the scheduler orders: a handle to a message the caller keeps elsewhere (outbox row, buffer).
// `id` identifies it for cancel(); `peer` is the fairness key (e.g. a hash of the recipient PeerId);
// `bytes` feeds the statistics only.
struct Item {
  std::uint64_t id = 0;
  std::uint64_t peer = 0;
  std::size_t bytes = 0;
  friend bool operator==(const Item&, const Item&) = default;
};

struct Config {
  // Items each class holds, indexed by Priority. The QoS design's defaults: 10 / 50 / 200 / 500.
  std::array<std::size_t, kPriorityCount> capacity{10, 50, 200, 500};
  // Most items one peer may hold in one class; 0 = no limit. A limit keeps one chatty peer from
  // filling a class and turning everyone else's pushes into back-pressure.
  std::size_t max_per_peer = 0;
};

// Largest capacity accepted for one class.
inline constexpr std::size_t kMaxCapacity = std::size_t{1} << 24;

// Empty when the config is usable; otherwise a message naming the field, e.g.
// "qos.capacity.low (20000000) must be at most 16777216".
std::string validate(const Config& config);

// Outcome of push(). `error` is empty when the item was queued, Errc::backpressure when the class is
// full (the API maps it to HTTP 429), Errc::invalid_argument for an unknown priority value.
// `evicted` is set when an EMERGENCY push displaced the oldest LOW item: the caller still owns that
// message and must fail it or put it back in durable storage.
struct PushResult {
  std::error_code error;
  std::optional<Item> evicted;
  bool accepted() const noexcept { return !error; }
};

struct ClassStats {
  std::size_t depth = 0;        // items queued now
  std::size_t capacity = 0;     // configured capacity
  std::size_t bytes = 0;        // sum of Item::bytes queued now
  std::size_t peers = 0;        // distinct peers with items queued now
  std::uint64_t pushed = 0;     // accepted pushes
  std::uint64_t popped = 0;     // items returned by pop()
  std::uint64_t rejected = 0;   // pushes refused with back-pressure
  std::uint64_t evicted = 0;    // items dropped from this class to admit an EMERGENCY item
  std::uint64_t cancelled = 0;  // items removed by cancel()
};

struct Stats {
  std::array<ClassStats, kPriorityCount> by_class{};  // indexed by Priority
  std::size_t total_depth = 0;
  const ClassStats& of(Priority p) const { return by_class[static_cast<std::size_t>(p)]; }
};

class Scheduler {
 public:
  // Throws std::invalid_argument when validate(config) is not empty.
  explicit Scheduler(Config config = {});
  ~Scheduler();
  Scheduler(Scheduler&&) noexcept;
  Scheduler& operator=(Scheduler&&) noexcept;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues `item` in class `priority`. O(1).
  // A full EMERGENCY class admits the item by evicting the oldest LOW item (returned in `evicted`);
  // the EMERGENCY item then occupies that LOW slot until EMERGENCY drains below its capacity, so the
  // total never exceeds the sum of the capacities. With LOW empty, a full EMERGENCY class rejects.
  // Any other full class rejects with Errc::backpressure; so does a peer at max_per_peer.
  PushResult push(const Item& item, Priority priority);

  // The next item: the highest non-empty class, and inside it the next peer in round-robin order
  // (each peer's own items leave in FIFO order). nullopt when empty. O(1).
  std::optional<Item> pop();
  // Like pop(), but a peer for which ready(peer) is false keeps its items and loses its turn (its
  // transport is busy); nullopt when no ready peer has items. O(active peers) per call at worst.
  std::optional<Item> pop_if(const std::function<bool(std::uint64_t peer)>& ready);

  // Removes the queued item with this id (e.g. a redundant copy whose twin was acked).
  // Returns the class it was in, or nullopt if no queued item has that id. O(queued items).
  std::optional<Priority> cancel(std::uint64_t id);

  // Pushes into `priority` that would be accepted right now without eviction.
  std::size_t free_slots(Priority priority) const noexcept;
  std::size_t depth(Priority priority) const noexcept;
  // Items one peer has queued in a class.
  std::size_t peer_depth(std::uint64_t peer, Priority priority) const noexcept;
  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }
  Stats stats() const;
  const Config& config() const noexcept { return config_; }

 private:
  struct Lane;
  std::size_t borrowed() const noexcept;  // EMERGENCY items held in LOW's slots

  Config config_;
  std::array<std::unique_ptr<Lane>, kPriorityCount> lanes_;
};

}  // namespace hyphae::qos
