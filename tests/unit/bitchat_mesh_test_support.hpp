// Shared by the MeshNode tests: fast timers for the simulated mesh, and counting a node's events.
#pragma once

#include "bitchat/mesh_sim.hpp"

namespace hyphae::bitchat::testing {

inline MeshNodeOptions fast_options() {
  MeshNodeOptions o;
  o.announce_interval_ms = 1000;
  o.peer_timeout_ms = 3500;
  o.sync_interval_ms = 2000;
  o.handshake_timeout_ms = 2000;
  return o;
}

inline std::size_t count(MeshSim& sim, std::size_t i, MeshEvent::Kind kind) {
  std::size_t c = 0;
  for (const auto& e : sim.events(i)) c += e.kind == kind;
  return c;
}

}  // namespace hyphae::bitchat::testing
