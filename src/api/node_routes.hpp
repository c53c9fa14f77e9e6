// The node's API routes (docs/api.md) for the HTTP engine's RouteTable. Internal to src/api.
// Thread-safety: the handlers run on the node's strand. Ownership: they keep a pointer to the Node,
// which must outlive the table.
#pragma once

#include <cstddef>

#include "api/route_table.hpp"

namespace hyphae {
class Node;
}

namespace hyphae::api {

// Rows one GET answers at most; a larger `limit` is clamped to it.
inline constexpr std::size_t kMaxRowsPerRequest = 1000;

// Registers every route of the node's API; `auth` guards all of them but GET /v1/health.
void add_node_routes(RouteTable& table, Node& node, const AuthRule& auth);

}  // namespace hyphae::api
