// router::RoutingTable (seed 002's route order, hop limit, expiry) and router::ConnectionPool
// (cap with LRU eviction of idle connections, idle trimming).
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/identity.hpp"
#include "router/connection_pool.hpp"
#include "router/routing_table.hpp"

using namespace hyphae;
using namespace hyphae::router;

namespace {
PeerId peer() {
  return Identity::generate().peer_id();
}
}  // namespace

TEST(RoutingTable, PrefersDirectThenMeshByHopsThenServerThenCached) {
  RoutingTable t(RoutingOptions{1000, 7});
  const PeerId dest = peer(), relay_a = peer(), relay_b = peer(), server = peer();
  EXPECT_FALSE(t.find(dest, 0));
  Route cached{dest, relay_a, "tcp", RouteKind::cached, 2, 0, 0};
  ASSERT_FALSE(t.add_cached(cached, 0));
  EXPECT_EQ(t.find(dest, 0)->kind, RouteKind::cached);
  ASSERT_FALSE(t.add_server(dest, server, "tcp", 0));
  EXPECT_EQ(t.find(dest, 0)->kind, RouteKind::server);
  ASSERT_FALSE(t.add_mesh(dest, relay_a, "bitchat", 4, 0));
  ASSERT_FALSE(t.add_mesh(dest, relay_b, "bitchat", 2, 0));
  auto best = t.find(dest, 0);
  EXPECT_EQ(best->kind, RouteKind::mesh);
  EXPECT_EQ(best->next_hop, relay_b);
  EXPECT_EQ(best->hops, 2);
  t.set_direct(dest, "tcp", 10);
  EXPECT_EQ(t.find(dest, 10)->kind, RouteKind::direct);
  EXPECT_EQ(t.find(dest, 10)->next_hop, dest);
  t.remove_direct(dest, "tcp");
  EXPECT_EQ(t.find(dest, 10)->kind, RouteKind::mesh);
  EXPECT_EQ(t.all(10).size(), 4u);
}

TEST(RoutingTable, HopLimitAndExpiry) {
  RoutingTable t(RoutingOptions{1000, 3});
  const PeerId dest = peer(), relay = peer();
  EXPECT_EQ(t.add_mesh(dest, relay, "bitchat", 4, 0), make_error_code(Errc::invalid_argument));
  EXPECT_EQ(t.add_mesh(dest, relay, "bitchat", 0, 0), make_error_code(Errc::invalid_argument));
  EXPECT_EQ(t.add_mesh(dest, dest, "bitchat", 2, 0), make_error_code(Errc::invalid_argument));
  ASSERT_FALSE(t.add_mesh(dest, relay, "bitchat", 3, 0));
  t.set_direct(relay, "tcp", 0);
  EXPECT_TRUE(t.find(dest, 999));
  EXPECT_FALSE(t.find(dest, 1000));  // expired, but still stored until expire()
  EXPECT_EQ(t.expire(1000), 1u);
  EXPECT_EQ(t.size(), 1u);  // the direct route has no timeout
  // A newer report of the same route replaces it; an older one is ignored.
  ASSERT_FALSE(t.add_mesh(dest, relay, "bitchat", 3, 2000));
  ASSERT_FALSE(t.add_mesh(dest, relay, "bitchat", 2, 1500));
  EXPECT_EQ(t.find(dest, 2000)->hops, 3);
  EXPECT_EQ(t.find(dest, 2000)->expires_ms, 3000u);
  EXPECT_EQ(to_string(RouteKind::server), "server");
}

TEST(ConnectionPool, CapEvictsTheLeastRecentlyUsedIdleConnectionOrRefuses) {
  ConnectionPool pool(PoolOptions{2, 0, 1000});
  const PeerId a = peer(), b = peer(), c = peer();
  EXPECT_TRUE(pool.admit(a, "tcp", 0).admitted);
  EXPECT_TRUE(pool.admit(b, "tcp", 0).admitted);
  EXPECT_TRUE(pool.admit(a, "tcp", 10).admitted);  // already live: refreshed, no new slot
  auto refused = pool.admit(c, "tcp", 500);        // nobody idle for a second yet
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(pool.size(), 2u);
  pool.touch(a, "tcp", 800);
  auto evicting = pool.admit(c, "tcp", 1200);  // b idle since 0: the least recently used
  ASSERT_TRUE(evicting.admitted);
  ASSERT_TRUE(evicting.evict);
  EXPECT_EQ(evicting.evict->first, b);
  EXPECT_EQ(pool.size(), 2u);
  pool.release(a, "tcp");
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_TRUE(pool.idle(1'000'000).empty());  // no idle timeout configured
}

TEST(ConnectionPool, IdleConnectionsOldestFirst) {
  ConnectionPool pool(PoolOptions{10, 500, 1000});
  const PeerId a = peer(), b = peer(), c = peer();
  pool.admit(a, "tcp", 0);
  pool.admit(b, "tcp", 100);
  pool.admit(c, "tcp", 200);
  pool.touch(a, "tcp", 300);
  auto idle = pool.idle(700);
  ASSERT_EQ(idle.size(), 2u);
  EXPECT_EQ(idle[0].first, b);
  EXPECT_EQ(idle[1].first, c);
  EXPECT_EQ(pool.idle(800).size(), 3u);
}
