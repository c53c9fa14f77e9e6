#include "router/routing_table.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace hyphae::router {

std::string_view to_string(RouteKind k) noexcept {
  switch (k) {
    case RouteKind::direct:
      return "direct";
    case RouteKind::mesh:
      return "mesh";
    case RouteKind::server:
      return "server";
    case RouteKind::cached:
      return "cached";
  }
  return "direct";
}

bool RoutingTable::better(const Route& a, const Route& b) {
  if (a.kind != b.kind) return a.kind < b.kind;  // the routing table's order: direct, mesh, server, cached
  if (a.hops != b.hops) return a.hops < b.hops;
  return a.updated_ms > b.updated_ms;
}

std::error_code RoutingTable::add(Route route, std::uint64_t now_ms) {
  if (route.hops < 1 || route.hops > options_.max_route_hops) return Errc::invalid_argument;
  if (route.kind != RouteKind::direct && route.hops > 1 && route.next_hop == route.destination)
    return Errc::invalid_argument;
  auto& list = routes_[route.destination];
  auto same = std::find_if(list.begin(), list.end(), [&](const Route& r) {
    return r.kind == route.kind && r.next_hop == route.next_hop && r.transport == route.transport;
  });
  if (same != list.end()) {
    if (same->updated_ms > route.updated_ms) return {};  // an older report
    *same = std::move(route);
  } else {
    list.push_back(std::move(route));
  }
  std::sort(list.begin(), list.end(), better);
  (void)now_ms;
  return {};
}

void RoutingTable::set_direct(const PeerId& destination, std::string_view transport, std::uint64_t now_ms) {
  add(Route{destination, destination, std::string(transport), RouteKind::direct, 1, now_ms, 0}, now_ms);
}

void RoutingTable::remove_direct(const PeerId& destination, std::string_view transport) {
  auto it = routes_.find(destination);
  if (it == routes_.end()) return;
  std::erase_if(it->second,
                [&](const Route& r) { return r.kind == RouteKind::direct && r.transport == transport; });
  if (it->second.empty()) routes_.erase(it);
}

void RoutingTable::remove_via(const PeerId& destination, std::string_view transport) {
  auto it = routes_.find(destination);
  if (it == routes_.end()) return;
  std::erase_if(it->second, [&](const Route& r) {
    return (r.kind == RouteKind::direct || r.kind == RouteKind::mesh) && r.transport == transport;
  });
  if (it->second.empty()) routes_.erase(it);
}

std::error_code RoutingTable::add_mesh(const PeerId& destination, const PeerId& next_hop,
                                       std::string_view transport, int hops, std::uint64_t now_ms) {
  return add(Route{destination, next_hop, std::string(transport), RouteKind::mesh, hops, now_ms,
                   now_ms + options_.route_timeout_ms},
             now_ms);
}

std::error_code RoutingTable::add_server(const PeerId& destination, const PeerId& server,
                                         std::string_view transport, std::uint64_t now_ms) {
  return add(Route{destination, server, std::string(transport), RouteKind::server, 2, now_ms,
                   now_ms + options_.route_timeout_ms},
             now_ms);
}

std::error_code RoutingTable::add_cached(const Route& route, std::uint64_t now_ms) {
  Route r = route;
  r.kind = RouteKind::cached;
  if (r.expires_ms == 0) r.expires_ms = now_ms + options_.route_timeout_ms;
  if (r.expires_ms <= now_ms) return {};  // already stale: nothing to remember
  return add(std::move(r), now_ms);
}

std::optional<Route> RoutingTable::find(const PeerId& destination, std::uint64_t now_ms) const {
  auto it = routes_.find(destination);
  if (it == routes_.end()) return std::nullopt;
  for (const auto& r : it->second)  // sorted best first
    if (r.expires_ms == 0 || now_ms < r.expires_ms) return r;
  return std::nullopt;
}

std::vector<Route> RoutingTable::all(std::uint64_t now_ms) const {
  std::vector<Route> out;
  for (const auto& [dest, list] : routes_)
    for (const auto& r : list)
      if (r.expires_ms == 0 || now_ms < r.expires_ms) out.push_back(r);
  return out;
}

std::size_t RoutingTable::expire(std::uint64_t now_ms) {
  std::size_t dropped = 0;
  for (auto it = routes_.begin(); it != routes_.end();) {
    dropped += std::erase_if(it->second,
                             [&](const Route& r) { return r.expires_ms != 0 && now_ms >= r.expires_ms; });
    it = it->second.empty() ? routes_.erase(it) : std::next(it);
  }
  return dropped;
}

std::size_t RoutingTable::size() const {
  std::size_t n = 0;
  for (const auto& [dest, list] : routes_) n += list.size();
  return n;
}

}  // namespace hyphae::router
