// bitchat::MeshSim: whole MeshNodes (announces, Noise sessions, records, sync) on simulated links
// and a simulated clock: the radio simulator's counterpart one layer up, for tests and benches.
// Links are explicit pairs (connect/cut), or a random geometric graph taken from RadioSim; each
// frame arrives after latency_ms (+ up to latency_jitter_ms) unless lost with probability `loss`.
// Every node's events (peer up/down, records, broadcasts) are kept for the test to inspect.
// Thread-safety: none; one owner. Ownership: owns the nodes and their identities.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <vector>

#include "bitchat/mesh_node.hpp"

namespace hyphae::bitchat {

struct MeshSimOptions {
  std::uint64_t start_ms = 1'767'225'600'000;  // 2026-01-01: announces carry realistic timestamps
  std::uint64_t latency_ms = 5;
  std::uint64_t latency_jitter_ms = 5;
  double loss = 0.0;
  std::uint64_t seed = 1;
};

class MeshSim {
 public:
  explicit MeshSim(MeshSimOptions options = {});
  ~MeshSim();
  MeshSim(MeshSim&&) noexcept = default;
  MeshSim& operator=(MeshSim&&) noexcept = default;

  // A node with a fresh identity; returns its index. Started at once (its first announce goes out).
  std::size_t add_node(MeshNodeOptions options);
  // `n` nodes with the same options (nickname "n<i>").
  void add_nodes(std::size_t n, const MeshNodeOptions& options);
  MeshNode& node(std::size_t i) { return *nodes_[i].node; }
  const Identity& identity(std::size_t i) const { return *nodes_[i].identity; }
  std::size_t size() const { return nodes_.size(); }
  std::uint64_t now() const { return now_; }

  void connect(std::size_t a, std::size_t b);  // a link between two nodes (both ends see it)
  void cut(std::size_t a, std::size_t b);      // takes it down at both ends
  // Takes a node off the air (all its links down) or back on (its links restored).
  void set_alive(std::size_t i, bool alive);

  // Runs events up to now + ms.
  void run_for(std::uint64_t ms);
  // Runs until pred() holds (checked after every event) or `max_ms` pass; whether it held.
  bool run_until(const std::function<bool()>& pred, std::uint64_t max_ms);
  // Applies an output a test got from calling a node directly (send_record, broadcast, ...).
  void apply(std::size_t i, MeshNode::Output&& out);

  std::vector<MeshEvent>& events(std::size_t i) { return nodes_[i].events; }
  std::uint64_t frames_sent() const { return frames_sent_; }

 private:
  struct SimNode {
    std::unique_ptr<Identity> identity;
    std::unique_ptr<MeshNode> node;
    std::map<std::size_t, LinkId> link_to;  // neighbour index -> link id at this end
    std::map<LinkId, std::size_t> neighbour_of;
    std::set<std::size_t> wanted_links;  // restored by set_alive(true)
    std::vector<MeshEvent> events;
    bool alive = true;
    std::uint64_t tick_at = UINT64_MAX;
  };
  struct Event {
    std::uint64_t at;
    std::uint64_t seq;
    std::size_t to;
    std::size_t from;  // SIZE_MAX: a tick
    std::shared_ptr<const Bytes> frame;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  void link(std::size_t a, std::size_t b);
  void unlink(std::size_t a, std::size_t b);
  void schedule_tick(std::size_t i);
  bool step(std::uint64_t until);

  MeshSimOptions options_;
  std::vector<SimNode> nodes_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::uint64_t now_, seq_ = 0, frames_sent_ = 0;
  LinkId next_link_ = 1;
  std::mt19937_64 rng_;
};

}  // namespace hyphae::bitchat
