// The registry's request logic on a simulated clock over the in-memory database double: when a
// peer stops counting as online, when its announcement expires, and how the per-token rate refills.
// (The process tests in tests/registry run the same API on SQLite and PostgreSQL.)
#include "registry/registry_service.hpp"

#include <gtest/gtest.h>

#include "core/identity.hpp"
#include "discovery/peer_record.hpp"
#include "support/memory_registry_db.hpp"
#include "util/json_util.hpp"

namespace hyphae::registry {
namespace {

struct Fixture {
  ManualClock clock;
  RegistryOptions options;
  MemoryRegistryDb db;
  std::unique_ptr<RegistryService> service;
  explicit Fixture(RegistryOptions o = {}) : options(o) {
    service = std::make_unique<RegistryService>(options, clock);
    db.add_token("lab", RegistryService::hash_token("t"), 0);
  }
  RegistryReply call(std::string method, std::string target, std::string body = {}) {
    return service->handle(
        db, RegistryRequest{std::move(method), std::move(target), "Bearer t", std::move(body)});
  }
  std::string announce(const Identity& who, std::uint64_t seq, std::uint64_t expires_ms = 0) {
    discovery::PeerRecord r;
    r.peer = who.peer_id();
    r.seq = seq;
    r.expires_ms = expires_ms;
    auto envelope = *discovery::seal_peer_record(who, r);
    return nlohmann::json{{"envelope_base64", base64_encode(envelope)}}.dump();
  }
};

TEST(RegistryService, APeerIsOnlineForTheWindowAndItsAnnouncementExpiresAtTheMaximumLifetime) {
  RegistryOptions o;
  o.online_window_ms = 300'000;
  o.max_ttl_ms = 3600'000;
  Fixture f(o);
  const auto alice = Identity::generate();
  ASSERT_EQ(f.call("POST", "/network/lab/announce", f.announce(alice, 1)).status, 201);
  const auto path = "/network/lab/peer/" + alice.peer_id().to_string();
  EXPECT_EQ(f.call("GET", path).body["online"], true);
  f.clock.advance(300'000 - 1);
  EXPECT_EQ(f.call("GET", path).body["online"], true);
  f.clock.advance(1);
  EXPECT_EQ(f.call("GET", path).body["online"], false);
  // A repeat refreshes lastSeen: online again.
  EXPECT_EQ(f.call("POST", "/network/lab/announce", f.announce(alice, 1)).status, 200);
  EXPECT_EQ(f.call("GET", path).body["online"], true);
  // The announcement made at t0 lives max_ttl_ms (a repeat does not extend it).
  f.clock.advance(3600'000 - 300'000 - 1);
  EXPECT_EQ(f.call("GET", path).status, 200);
  f.clock.advance(1);
  EXPECT_EQ(f.call("GET", path).status, 404);
  EXPECT_EQ(f.call("GET", "/network/lab/active-peers").body["peers"].size(), 0u);
  // A record's own, earlier expiry wins.
  const auto bob = Identity::generate();
  ASSERT_EQ(f.call("POST", "/network/lab/announce", f.announce(bob, 1, f.clock.wall_ms() + 1000)).status,
            201);
  f.clock.advance(1000);
  EXPECT_EQ(f.call("GET", "/network/lab/peer/" + bob.peer_id().to_string()).status, 404);
}

TEST(RegistryService, ATokensAllowanceRefillsAtItsRate) {
  RegistryOptions o;
  o.requests_per_second = 2;
  o.burst = 3;
  Fixture f(o);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f.call("GET", "/network/lab/active-peers").status, 200);
  EXPECT_EQ(f.call("GET", "/network/lab/active-peers").status, 429);
  f.clock.advance(499);
  EXPECT_EQ(f.call("GET", "/network/lab/active-peers").status, 429);
  f.clock.advance(1);  // half a second: one request's worth
  EXPECT_EQ(f.call("GET", "/network/lab/active-peers").status, 200);
  EXPECT_EQ(f.call("GET", "/network/lab/active-peers").status, 429);
  // /health needs no token and counts against none.
  EXPECT_EQ(f.service->handle(f.db, RegistryRequest{"GET", "/health", "", ""}).status, 200);
}

}  // namespace
}  // namespace hyphae::registry
