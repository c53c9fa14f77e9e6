// router::RoutingTable: how to reach a destination peer (the router's routing table). Four kinds of
// route, tried in this order: a direct link, a multi-hop mesh route (fewest hops first), a
// server (relay) route, then a cached route (the store's peer_routes route cache).
// Mesh, server and cached routes expire (route_timeout_ms); mesh routes longer than
// max_route_hops are refused. Direct routes last as long as their link (set/remove them).
// Sans-IO and clock-free. Not thread-safe: one owner (the Node's strand).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/peer_id.hpp"

namespace hyphae::router {

enum class RouteKind : std::uint8_t { direct = 0, mesh = 1, server = 2, cached = 3 };
std::string_view to_string(RouteKind) noexcept;

struct Route {
  PeerId destination;
  PeerId next_hop;  // the destination itself for a direct route
  std::string transport;
  RouteKind kind = RouteKind::direct;
  int hops = 1;
  std::uint64_t updated_ms = 0;
  std::uint64_t expires_ms = 0;  // 0: while the link lasts (direct)
};

struct RoutingOptions {
  std::uint64_t route_timeout_ms = 300'000;  // config routing.route_timeout: 300 s
  int max_route_hops = 10;                   // config routing.max_route_hops: 10
};

class RoutingTable {
 public:
  explicit RoutingTable(RoutingOptions options = {}) : options_(options) {}

  void set_direct(const PeerId& destination, std::string_view transport, std::uint64_t now_ms);
  void remove_direct(const PeerId& destination, std::string_view transport);
  // Drops the direct and mesh routes to `destination` over `transport` (its session is gone).
  void remove_via(const PeerId& destination, std::string_view transport);
  // Errors: invalid_argument when hops is < 1 or over max_route_hops, or next_hop is the destination
  // of a multi-hop route. A newer report for the same (destination, next hop, transport) replaces
  // the older one.
  std::error_code add_mesh(const PeerId& destination, const PeerId& next_hop, std::string_view transport,
                           int hops, std::uint64_t now_ms);
  std::error_code add_server(const PeerId& destination, const PeerId& server, std::string_view transport,
                             std::uint64_t now_ms);
  // A route remembered from before (the store); expires_ms 0 means now + route_timeout_ms.
  std::error_code add_cached(const Route& route, std::uint64_t now_ms);

  // The best live route: direct, then mesh (fewest hops, then newest), then server, then cached.
  std::optional<Route> find(const PeerId& destination, std::uint64_t now_ms) const;
  // Every live route, best first per destination (for GET /v1/p2p/routes).
  std::vector<Route> all(std::uint64_t now_ms) const;
  std::size_t expire(std::uint64_t now_ms);  // drops expired routes; returns how many
  std::size_t size() const;

 private:
  std::error_code add(Route route, std::uint64_t now_ms);
  static bool better(const Route& a, const Route& b);

  RoutingOptions options_;
  std::map<PeerId, std::vector<Route>> routes_;
};

}  // namespace hyphae::router
