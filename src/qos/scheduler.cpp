#include "qos/scheduler.hpp"

#include <stdexcept>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace hyphae::qos {
namespace {

constexpr std::uint32_t kNone = 0xffffffffu;

std::size_t index_of(Priority p) noexcept {
  return static_cast<std::size_t>(p);
}

// Open-addressing map peer id -> peer slot, linear probing, backward-shift deletion.
// Sized once to at least twice the most peers a lane can hold, so the load stays at or below 1/2.
class PeerIndex {
 public:
  explicit PeerIndex(std::size_t max_entries) {
    std::size_t n = 2;
    while (n < 2 * max_entries) n <<= 1;
    keys_.assign(n, 0);
    values_.assign(n, kNone);
    mask_ = n - 1;
  }

  std::uint32_t find(std::uint64_t key) const noexcept {
    for (std::size_t i = home(key);; i = (i + 1) & mask_) {
      if (values_[i] == kNone) return kNone;
      if (keys_[i] == key) return values_[i];
    }
  }

  // The key must not be present.
  void insert(std::uint64_t key, std::uint32_t value) noexcept {
    std::size_t i = home(key);
    while (values_[i] != kNone) i = (i + 1) & mask_;
    keys_[i] = key;
    values_[i] = value;
  }

  // The key must be present.
  void erase(std::uint64_t key) noexcept {
    std::size_t hole = home(key);
    while (keys_[hole] != key || values_[hole] == kNone) hole = (hole + 1) & mask_;
    // Shift later members of the probe run back into the hole when their home allows it.
    for (std::size_t j = (hole + 1) & mask_; values_[j] != kNone; j = (j + 1) & mask_) {
      const std::size_t h = home(keys_[j]);
      if (((j - h) & mask_) >= ((j - hole) & mask_)) {
        keys_[hole] = keys_[j];
        values_[hole] = values_[j];
        hole = j;
      }
    }
    values_[hole] = kNone;
  }

 private:
  std::size_t home(std::uint64_t key) const noexcept {
    // splitmix64 finaliser: peer ids may be sequential or share low bits.
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ull;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebull;
    key ^= key >> 31;
    return static_cast<std::size_t>(key) & mask_;
  }

  std::vector<std::uint64_t> keys_;
  std::vector<std::uint32_t> values_;
  std::size_t mask_ = 0;
};

}  // namespace

// One class: a fixed pool of item slots threaded on two intrusive lists (arrival order for the
// whole class, FIFO per peer) and a ring of the peers that have items, served round-robin.
struct Scheduler::Lane {
  struct Slot {
    Item item;
    std::uint32_t age_prev = kNone, age_next = kNone;    // class-wide arrival order; also free list
    std::uint32_t peer_prev = kNone, peer_next = kNone;  // this peer's FIFO
    std::uint32_t owner = kNone;                         // peer slot
  };
  struct Peer {
    std::uint64_t id = 0;
    std::uint32_t head = kNone, tail = kNone;
    std::uint32_t count = 0;
    std::uint32_t ring_prev = kNone, ring_next = kNone;  // ring of active peers; also free list
  };

  explicit Lane(std::size_t pool) : slots(pool), peers(pool), index(pool) {
    for (std::size_t i = 0; i < pool; ++i) {
      slots[i].age_next = i + 1 < pool ? static_cast<std::uint32_t>(i + 1) : kNone;
      peers[i].ring_next = i + 1 < pool ? static_cast<std::uint32_t>(i + 1) : kNone;
    }
    free_slot = pool ? 0 : kNone;
    free_peer = pool ? 0 : kNone;
  }

  std::uint32_t peer_count(std::uint64_t peer) const noexcept {
    const std::uint32_t p = index.find(peer);
    return p == kNone ? 0 : peers[p].count;
  }

  // The caller has checked that a slot is free.
  void enqueue(const Item& item) {
    std::uint32_t p = index.find(item.peer);
    if (p == kNone) p = add_peer(item.peer);
    const std::uint32_t s = free_slot;
    free_slot = slots[s].age_next;
    Slot& slot = slots[s];
    slot.item = item;
    slot.owner = p;
    slot.age_prev = age_tail;
    slot.age_next = kNone;
    if (age_tail != kNone)
      slots[age_tail].age_next = s;
    else
      age_head = s;
    age_tail = s;
    Peer& peer = peers[p];
    slot.peer_prev = peer.tail;
    slot.peer_next = kNone;
    if (peer.tail != kNone)
      slots[peer.tail].peer_next = s;
    else
      peer.head = s;
    peer.tail = s;
    ++peer.count;
    ++depth;
    bytes += item.bytes;
  }

  // Unlinks slot `s` from both lists, returns its item, and retires its peer if now idle.
  Item remove(std::uint32_t s) {
    Slot& slot = slots[s];
    if (slot.age_prev != kNone)
      slots[slot.age_prev].age_next = slot.age_next;
    else
      age_head = slot.age_next;
    if (slot.age_next != kNone)
      slots[slot.age_next].age_prev = slot.age_prev;
    else
      age_tail = slot.age_prev;
    const std::uint32_t p = slot.owner;
    Peer& peer = peers[p];
    if (slot.peer_prev != kNone)
      slots[slot.peer_prev].peer_next = slot.peer_next;
    else
      peer.head = slot.peer_next;
    if (slot.peer_next != kNone)
      slots[slot.peer_next].peer_prev = slot.peer_prev;
    else
      peer.tail = slot.peer_prev;
    --peer.count;
    --depth;
    bytes -= slot.item.bytes;
    Item item = slot.item;
    slot.owner = kNone;
    slot.age_prev = kNone;
    slot.age_next = free_slot;
    free_slot = s;
    if (peer.count == 0) retire_peer(p);
    return item;
  }

  // Round-robin: serve the head of the current peer, then move the turn to the next peer.
  Item pop_next() {
    const std::uint32_t p = cursor;
    cursor = peers[p].ring_next;  // if p retires, retire_peer keeps the cursor valid
    return remove(peers[p].head);
  }

  Item evict_oldest() { return remove(age_head); }

  // Round-robin over the peers ready() accepts; the turn moves past the one served.
  std::optional<Item> pop_next_ready(const std::function<bool(std::uint64_t)>& ready) {
    std::uint32_t p = cursor;
    for (std::size_t seen = 0; seen < active_peers; ++seen, p = peers[p].ring_next) {
      if (!ready(peers[p].id)) continue;
      cursor = peers[p].ring_next;  // if p retires, retire_peer keeps the cursor valid
      return remove(peers[p].head);
    }
    return std::nullopt;
  }

  std::uint32_t find_item(std::uint64_t id) const noexcept {
    for (std::uint32_t s = age_head; s != kNone; s = slots[s].age_next)
      if (slots[s].item.id == id) return s;
    return kNone;
  }

  std::uint32_t add_peer(std::uint64_t id) {
    const std::uint32_t p = free_peer;
    free_peer = peers[p].ring_next;
    Peer& peer = peers[p];
    peer.id = id;
    peer.head = peer.tail = kNone;
    peer.count = 0;
    if (cursor == kNone) {
      peer.ring_prev = peer.ring_next = p;
      cursor = p;
    } else {
      // A newcomer joins at the end of the current rotation: just before the cursor.
      const std::uint32_t before = peers[cursor].ring_prev;
      peer.ring_prev = before;
      peer.ring_next = cursor;
      peers[before].ring_next = p;
      peers[cursor].ring_prev = p;
    }
    index.insert(id, p);
    ++active_peers;
    return p;
  }

  void retire_peer(std::uint32_t p) {
    Peer& peer = peers[p];
    if (peer.ring_next == p) {
      cursor = kNone;
    } else {
      peers[peer.ring_prev].ring_next = peer.ring_next;
      peers[peer.ring_next].ring_prev = peer.ring_prev;
      if (cursor == p) cursor = peer.ring_next;
    }
    index.erase(peer.id);
    peer.ring_prev = kNone;
    peer.ring_next = free_peer;
    free_peer = p;
    --active_peers;
  }

  std::vector<Slot> slots;
  std::vector<Peer> peers;
  PeerIndex index;
  std::uint32_t free_slot = kNone, free_peer = kNone;
  std::uint32_t age_head = kNone, age_tail = kNone;
  std::uint32_t cursor = kNone;
  std::size_t depth = 0, bytes = 0, active_peers = 0;
  std::uint64_t pushed = 0, popped = 0, rejected = 0, evicted = 0, cancelled = 0;
};

std::string_view to_string(Priority p) noexcept {
  switch (p) {
    case Priority::emergency:
      return "EMERGENCY";
    case Priority::high:
      return "HIGH";
    case Priority::normal:
      return "NORMAL";
    case Priority::low:
      return "LOW";
  }
  return "UNKNOWN";
}

std::optional<Priority> parse_priority(std::string_view s) noexcept {
  for (Priority p : kAllPriorities) {
    const std::string_view name = to_string(p);
    if (name.size() != s.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < s.size() && same; ++i) {
      char c = s[i];
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      same = c == name[i];
    }
    if (same) return p;
  }
  return std::nullopt;
}

std::string validate(const Config& config) {
  static constexpr std::array<const char*, kPriorityCount> keys{"emergency", "high", "normal", "low"};
  for (std::size_t i = 0; i < kPriorityCount; ++i) {
    if (config.capacity[i] > kMaxCapacity)
      return "qos.capacity." + std::string(keys[i]) + " (" + std::to_string(config.capacity[i]) +
             ") must be at most " + std::to_string(kMaxCapacity);
  }
  return {};
}

Scheduler::Scheduler(Config config) : config_(config) {
  if (std::string error = validate(config_); !error.empty()) throw std::invalid_argument(error);
  for (Priority p : kAllPriorities) {
    std::size_t pool = config_.capacity[index_of(p)];
    // EMERGENCY may grow into the slots it frees in LOW.
    if (p == Priority::emergency) pool += config_.capacity[index_of(Priority::low)];
    lanes_[index_of(p)] = std::make_unique<Lane>(pool);
  }
}

Scheduler::~Scheduler() = default;
Scheduler::Scheduler(Scheduler&&) noexcept = default;
Scheduler& Scheduler::operator=(Scheduler&&) noexcept = default;

std::size_t Scheduler::borrowed() const noexcept {
  const std::size_t depth = lanes_[index_of(Priority::emergency)]->depth;
  const std::size_t cap = config_.capacity[index_of(Priority::emergency)];
  return depth > cap ? depth - cap : 0;
}

std::size_t Scheduler::free_slots(Priority priority) const noexcept {
  const std::size_t i = index_of(priority);
  if (i >= kPriorityCount) return 0;
  std::size_t used = lanes_[i]->depth;
  if (priority == Priority::low) used += borrowed();
  const std::size_t cap = config_.capacity[i];
  return used >= cap ? 0 : cap - used;
}

PushResult Scheduler::push(const Item& item, Priority priority) {
  const std::size_t i = index_of(priority);
  if (i >= kPriorityCount) return {make_error_code(Errc::invalid_argument), std::nullopt};
  Lane& lane = *lanes_[i];
  if (config_.max_per_peer != 0 && lane.peer_count(item.peer) >= config_.max_per_peer) {
    ++lane.rejected;
    return {make_error_code(Errc::backpressure), std::nullopt};
  }
  PushResult result;
  if (free_slots(priority) == 0) {
    Lane& low = *lanes_[index_of(Priority::low)];
    if (priority != Priority::emergency || low.depth == 0) {
      ++lane.rejected;
      return {make_error_code(Errc::backpressure), std::nullopt};
    }
    result.evicted = low.evict_oldest();
    ++low.evicted;
  }
  lane.enqueue(item);
  ++lane.pushed;
  return result;
}

std::optional<Item> Scheduler::pop() {
  for (auto& lane : lanes_) {
    if (lane->depth == 0) continue;
    ++lane->popped;
    return lane->pop_next();
  }
  return std::nullopt;
}

std::optional<Item> Scheduler::pop_if(const std::function<bool(std::uint64_t peer)>& ready) {
  for (auto& lane : lanes_) {
    if (lane->depth == 0) continue;
    if (auto item = lane->pop_next_ready(ready)) {
      ++lane->popped;
      return item;
    }
  }
  return std::nullopt;
}

std::optional<Priority> Scheduler::cancel(std::uint64_t id) {
  for (Priority p : kAllPriorities) {
    Lane& lane = *lanes_[index_of(p)];
    const std::uint32_t s = lane.find_item(id);
    if (s == kNone) continue;
    lane.remove(s);
    ++lane.cancelled;
    return p;
  }
  return std::nullopt;
}

std::size_t Scheduler::depth(Priority priority) const noexcept {
  const std::size_t i = index_of(priority);
  return i < kPriorityCount ? lanes_[i]->depth : 0;
}

std::size_t Scheduler::peer_depth(std::uint64_t peer, Priority priority) const noexcept {
  const std::size_t i = index_of(priority);
  return i < kPriorityCount ? lanes_[i]->peer_count(peer) : 0;
}

std::size_t Scheduler::size() const noexcept {
  std::size_t n = 0;
  for (const auto& lane : lanes_) n += lane->depth;
  return n;
}

Stats Scheduler::stats() const {
  Stats s;
  for (Priority p : kAllPriorities) {
    const Lane& lane = *lanes_[index_of(p)];
    ClassStats& c = s.by_class[index_of(p)];
    c.depth = lane.depth;
    c.capacity = config_.capacity[index_of(p)];
    c.bytes = lane.bytes;
    c.peers = lane.active_peers;
    c.pushed = lane.pushed;
    c.popped = lane.popped;
    c.rejected = lane.rejected;
    c.evicted = lane.evicted;
    c.cancelled = lane.cancelled;
    s.total_depth += lane.depth;
  }
  return s;
}

}  // namespace hyphae::qos
