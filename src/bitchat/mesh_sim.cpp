// MeshSim: MeshNodes on simulated links (see the header).
#include "bitchat/mesh_sim.hpp"

namespace hyphae::bitchat {

MeshSim::MeshSim(MeshSimOptions options) : options_(options), now_(options.start_ms), rng_(options.seed) {}

MeshSim::~MeshSim() = default;

std::size_t MeshSim::add_node(MeshNodeOptions options) {
  const std::size_t i = nodes_.size();
  options.mesh.seed = options_.seed * 7919 + i;
  SimNode n;
  n.identity = std::make_unique<Identity>(Identity::generate());
  n.node = std::make_unique<MeshNode>(*n.identity, std::move(options));
  nodes_.push_back(std::move(n));
  apply(i, nodes_[i].node->start(now_));
  return i;
}

void MeshSim::add_nodes(std::size_t n, const MeshNodeOptions& options) {
  for (std::size_t k = 0; k < n; ++k) {
    MeshNodeOptions o = options;
    o.nickname = "n" + std::to_string(nodes_.size());
    add_node(std::move(o));
  }
}

void MeshSim::link(std::size_t a, std::size_t b) {
  auto& na = nodes_[a];
  if (na.link_to.contains(b)) return;
  const LinkId id = next_link_++;
  na.link_to[b] = id;
  na.neighbour_of[id] = b;
  apply(a, na.node->link_up(id, nodes_[b].node->self(), now_));
}

void MeshSim::unlink(std::size_t a, std::size_t b) {
  auto& na = nodes_[a];
  auto it = na.link_to.find(b);
  if (it == na.link_to.end()) return;
  const LinkId id = it->second;
  na.link_to.erase(it);
  na.neighbour_of.erase(id);
  apply(a, na.node->link_down(id, now_));
}

void MeshSim::connect(std::size_t a, std::size_t b) {
  nodes_[a].wanted_links.insert(b);
  nodes_[b].wanted_links.insert(a);
  if (!nodes_[a].alive || !nodes_[b].alive) return;
  link(a, b);
  link(b, a);
}

void MeshSim::cut(std::size_t a, std::size_t b) {
  nodes_[a].wanted_links.erase(b);
  nodes_[b].wanted_links.erase(a);
  unlink(a, b);
  unlink(b, a);
}

void MeshSim::set_alive(std::size_t i, bool alive) {
  auto& n = nodes_[i];
  if (n.alive == alive) return;
  n.alive = alive;
  for (auto other : n.wanted_links) {
    if (alive && nodes_[other].alive) {
      link(i, other);
      link(other, i);
    } else if (!alive) {
      unlink(i, other);
      unlink(other, i);
    }
  }
}

void MeshSim::apply(std::size_t i, MeshNode::Output&& out) {
  auto& n = nodes_[i];
  for (auto& e : out.events) n.events.push_back(std::move(e));
  for (auto& s : out.sends) {
    auto it = n.neighbour_of.find(s.link);
    if (it == n.neighbour_of.end() || !n.alive) continue;
    ++frames_sent_;
    if (options_.loss > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < options_.loss) continue;
    const std::uint64_t jitter = options_.latency_jitter_ms ? std::uniform_int_distribution<std::uint64_t>(
                                                                  0, options_.latency_jitter_ms)(rng_)
                                                            : 0;
    events_.push(Event{std::max(s.at_ms, now_) + options_.latency_ms + jitter, seq_++, it->second, i,
                       std::make_shared<const Bytes>(std::move(s.frame))});
  }
  schedule_tick(i);
}

void MeshSim::schedule_tick(std::size_t i) {
  auto& n = nodes_[i];
  const auto due = n.node->next_due(now_);
  if (due >= n.tick_at) return;
  n.tick_at = due;
  events_.push(Event{due, seq_++, i, SIZE_MAX, nullptr});
}

bool MeshSim::step(std::uint64_t until) {
  if (events_.empty() || events_.top().at > until) return false;
  Event e = events_.top();
  events_.pop();
  now_ = std::max(now_, e.at);
  auto& n = nodes_[e.to];
  if (e.from == SIZE_MAX) {
    if (e.at != n.tick_at) return true;  // superseded
    n.tick_at = UINT64_MAX;
    if (n.alive) {
      apply(e.to, n.node->tick(now_));
    } else {  // off the air: look again in a second
      n.tick_at = now_ + 1000;
      events_.push(Event{n.tick_at, seq_++, e.to, SIZE_MAX, nullptr});
    }
    return true;
  }
  auto link = n.link_to.find(e.from);
  if (!n.alive || link == n.link_to.end()) return true;  // the link went down in flight
  apply(e.to, n.node->on_frame(link->second, *e.frame, now_));
  return true;
}

void MeshSim::run_for(std::uint64_t ms) {
  const auto until = now_ + ms;
  while (step(until)) {
  }
  now_ = until;
}

bool MeshSim::run_until(const std::function<bool()>& pred, std::uint64_t max_ms) {
  const auto until = now_ + max_ms;
  if (pred()) return true;
  while (step(until))
    if (pred()) return true;
  now_ = until;
  return pred();
}

}  // namespace hyphae::bitchat
