// bitchat::RadioSim: an in-process radio for BitChat mesh nodes, on a simulated clock. Nodes sit
// at random positions in a unit square; two nodes within `range` may link (each node keeps at most
// `max_links`, nearest first, as BLE stacks cap connections); a frame sent on a link arrives after
// `latency_ms` (plus up to `latency_jitter_ms`) unless lost with probability `loss`. Every node
// runs a MeshCore. Fast enough for 1000 nodes in a test: events are kept in one priority queue.
// Thread-safety: none; one owner. Ownership: owns the nodes and their cores.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <vector>

#include "bitchat/mesh_core.hpp"

namespace hyphae::bitchat {

struct RadioOptions {
  std::size_t nodes = 1000;
  double range = 0.06;
  std::size_t max_links = 8;
  double loss = 0.0;
  std::uint64_t latency_ms = 5;
  std::uint64_t latency_jitter_ms = 5;
  std::uint64_t seed = 1;
  MeshOptions mesh;  // template for every node (self and seed are set per node)
};

class RadioSim {
 public:
  explicit RadioSim(RadioOptions options);

  std::size_t size() const { return nodes_.size(); }
  std::uint64_t now() const { return now_; }
  const ShortId& id_of(std::size_t node) const { return nodes_[node].id; }
  const std::vector<std::size_t>& neighbours(std::size_t node) const { return nodes_[node].links; }
  MeshCore& core(std::size_t node) { return *nodes_[node].core; }
  bool alive(std::size_t node) const { return nodes_[node].alive; }
  // Takes a node off the air (its links go down at both ends) or back on.
  void set_alive(std::size_t node, bool alive);

  // Called for every packet a node's core hands to its application.
  std::function<void(std::size_t node, const Packet& packet, std::uint64_t at_ms)> on_delivery;

  // The node sends its own packet now.
  void originate(std::size_t node, const Packet& packet);
  // Runs events until none are left or the clock passes `until_ms`.
  void run(std::uint64_t until_ms);

  // Hop distances from `node` over live links (SIZE_MAX: unreachable).
  std::vector<std::size_t> hops_from(std::size_t node) const;
  std::uint64_t frames_sent() const { return frames_sent_; }
  std::uint64_t frames_lost() const { return frames_lost_; }

 private:
  struct Node {
    ShortId id{};
    double x = 0, y = 0;
    std::vector<std::size_t> links;  // neighbour indices (link id = neighbour index)
    std::unique_ptr<MeshCore> core;
    bool alive = true;
    std::optional<std::uint64_t> tick_at;
  };
  struct Event {
    std::uint64_t at;
    std::uint64_t seq;
    std::size_t to;
    std::size_t from;  // SIZE_MAX: a tick of `to`
    std::shared_ptr<const Bytes> frame;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  void emit(std::size_t node, MeshCore::Output&& out);
  void announce_neighbours(std::size_t node);
  void schedule_tick(std::size_t node);

  RadioOptions options_;
  std::vector<Node> nodes_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::uint64_t now_ = 0, seq_ = 0, frames_sent_ = 0, frames_lost_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace hyphae::bitchat
