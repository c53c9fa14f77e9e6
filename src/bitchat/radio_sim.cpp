// In-process radio simulator for BitChat mesh nodes (see radio_sim.hpp).
#include "bitchat/radio_sim.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>

namespace hyphae::bitchat {

RadioSim::RadioSim(RadioOptions options) : options_(options), rng_(options.seed) {
  std::uniform_real_distribution<double> pos(0.0, 1.0);
  nodes_.resize(options_.nodes);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    auto& n = nodes_[i];
    n.x = pos(rng_);
    n.y = pos(rng_);
    for (std::size_t b = 0; b < 8; ++b) n.id[b] = static_cast<std::uint8_t>((i + 1) >> (8 * (7 - b)));
  }
  // Candidate neighbours from a grid of range-sized cells; each node links to its nearest
  // max_links, and a link exists when both ends chose each other or one chose and the other has room.
  const double r = options_.range;
  const auto cells = static_cast<std::size_t>(std::max(1.0, std::floor(1.0 / r)));
  std::vector<std::vector<std::size_t>> grid(cells * cells);
  auto cell_of = [&](double v) {
    return std::min(cells - 1, static_cast<std::size_t>(v * static_cast<double>(cells)));
  };
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    grid[cell_of(nodes_[i].y) * cells + cell_of(nodes_[i].x)].push_back(i);
  std::vector<std::vector<std::pair<double, std::size_t>>> near(nodes_.size());
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const auto cx = cell_of(nodes_[i].x), cy = cell_of(nodes_[i].y);
    for (std::size_t y = cy ? cy - 1 : 0; y <= std::min(cells - 1, cy + 1); ++y)
      for (std::size_t x = cx ? cx - 1 : 0; x <= std::min(cells - 1, cx + 1); ++x)
        for (auto j : grid[y * cells + x]) {
          if (j == i) continue;
          const double d = std::hypot(nodes_[i].x - nodes_[j].x, nodes_[i].y - nodes_[j].y);
          if (d <= r) near[i].emplace_back(d, j);
        }
    std::sort(near[i].begin(), near[i].end());
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    for (const auto& [d, j] : near[i]) {
      if (nodes_[i].links.size() >= options_.max_links) break;
      if (nodes_[j].links.size() >= options_.max_links) continue;
      if (std::find(nodes_[i].links.begin(), nodes_[i].links.end(), j) != nodes_[i].links.end()) continue;
      nodes_[i].links.push_back(j);
      nodes_[j].links.push_back(i);
    }
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    MeshOptions mesh = options_.mesh;
    mesh.self = nodes_[i].id;
    mesh.seed = options_.seed * 1'000'003 + i;
    nodes_[i].core = std::make_unique<MeshCore>(mesh);
    for (auto j : nodes_[i].links) nodes_[i].core->link_up(static_cast<LinkId>(j), nodes_[j].id);
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i) announce_neighbours(i);
}

void RadioSim::announce_neighbours(std::size_t node) {
  // What the node's announce tells its neighbours: its live neighbours (TLV 0x04).
  std::vector<ShortId> ids;
  for (auto j : nodes_[node].links)
    if (nodes_[j].alive) ids.push_back(nodes_[j].id);
  for (auto j : nodes_[node].links)
    if (nodes_[j].alive) nodes_[j].core->set_neighbour_links(static_cast<LinkId>(node), ids);
}

void RadioSim::set_alive(std::size_t node, bool alive) {
  auto& n = nodes_[node];
  if (n.alive == alive) return;
  n.alive = alive;
  for (auto j : n.links) {
    if (alive && nodes_[j].alive) {
      n.core->link_up(static_cast<LinkId>(j), nodes_[j].id);
      nodes_[j].core->link_up(static_cast<LinkId>(node), n.id);
    } else if (!alive) {
      n.core->link_down(static_cast<LinkId>(j));
      nodes_[j].core->link_down(static_cast<LinkId>(node));
    }
  }
  // Everyone next to it announces again (their neighbour lists changed), and so does it.
  if (alive) announce_neighbours(node);
  for (auto j : n.links)
    if (nodes_[j].alive) announce_neighbours(j);
}

void RadioSim::originate(std::size_t node, const Packet& packet) {
  if (!nodes_[node].alive) return;
  emit(node, nodes_[node].core->originate(packet, now_));
}

void RadioSim::emit(std::size_t node, MeshCore::Output&& out) {
  for (auto& d : out.deliveries)
    if (on_delivery) on_delivery(node, d.packet, now_);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::uniform_int_distribution<std::uint64_t> jitter(0, options_.latency_jitter_ms);
  for (auto& s : out.sends) {
    ++frames_sent_;
    const auto to = static_cast<std::size_t>(s.link);
    if (options_.loss > 0 && coin(rng_) < options_.loss) {
      ++frames_lost_;
      continue;
    }
    auto frame = std::make_shared<const Bytes>(std::move(s.frame));
    events_.push(
        Event{std::max(s.at_ms, now_) + options_.latency_ms + jitter(rng_), seq_++, to, node, frame});
  }
  schedule_tick(node);
}

void RadioSim::schedule_tick(std::size_t node) {
  auto due = nodes_[node].core->next_due();
  if (!due) return;
  auto& n = nodes_[node];
  if (n.tick_at && *n.tick_at <= *due) return;
  n.tick_at = *due;
  events_.push(Event{*due, seq_++, node, std::numeric_limits<std::size_t>::max(), nullptr});
}

void RadioSim::run(std::uint64_t until_ms) {
  while (!events_.empty() && events_.top().at <= until_ms) {
    Event e = events_.top();
    events_.pop();
    now_ = e.at;
    auto& n = nodes_[e.to];
    if (e.from == std::numeric_limits<std::size_t>::max()) {
      if (n.tick_at && *n.tick_at == e.at) n.tick_at.reset();
      if (n.alive) emit(e.to, n.core->tick(now_));
      continue;
    }
    // A frame arrives only if both ends are still on the air.
    if (!n.alive || !nodes_[e.from].alive) continue;
    emit(e.to, n.core->on_frame(static_cast<LinkId>(e.from), *e.frame, now_));
  }
  now_ = std::max(now_, std::min(until_ms, events_.empty() ? until_ms : events_.top().at));
}

std::vector<std::size_t> RadioSim::hops_from(std::size_t node) const {
  std::vector<std::size_t> hops(nodes_.size(), std::numeric_limits<std::size_t>::max());
  if (!nodes_[node].alive) return hops;
  std::deque<std::size_t> queue{node};
  hops[node] = 0;
  while (!queue.empty()) {
    auto i = queue.front();
    queue.pop_front();
    for (auto j : nodes_[i].links)
      if (nodes_[j].alive && hops[j] == std::numeric_limits<std::size_t>::max()) {
        hops[j] = hops[i] + 1;
        queue.push_back(j);
      }
  }
  return hops;
}

}  // namespace hyphae::bitchat
