// The connection pool with real node processes: max_connections refuses a link beyond the cap
// while the live one is busy, and an idle link is closed and dialed again when a message waits.
#include <fstream>
#include <thread>

#include "harness.hpp"

namespace hyphae::testing {
namespace {

std::filesystem::path write_config(const std::filesystem::path& dir, const std::string& yaml) {
  std::filesystem::create_directories(dir);
  auto file = dir / "node.yaml";
  std::ofstream(file) << yaml;
  return file;
}

nlohmann::json send_text(LocalNode& from, const LocalNode& to, const std::string& text) {
  return ok(
      from.api().request("POST", "/v1/messages", nlohmann::json{{"to", to.peer_id()}, {"payload", text}}),
      201);
}

bool delivered(LocalNode& from, const nlohmann::json& sent) {
  return from.api().request("GET", "/v1/messages/" + sent["id"].get<std::string>()).body["status"] ==
         "delivered";
}

TEST(ConnectionPool, MaxConnectionsRefusesALinkBeyondTheCap) {
  TempDir dir;
  auto config = write_config(dir.path() / "cfg", "max_connections: 1\n");
  LocalNode hub{"hub", hyphae_binary(), dir.path() / "hub", {"--config", config.string()}};
  LocalNode first{"first", hyphae_binary(), dir.path() / "first"};
  LocalNode second{"second", hyphae_binary(), dir.path() / "second"};
  hub.start();
  first.start();
  second.start();
  connect(first, hub);
  ASSERT_TRUE(wait_until([&] { return connection_count(hub) == 1; }, std::chrono::seconds(10)));
  auto sent = send_text(first, hub, "busy");
  ASSERT_TRUE(wait_until([&] { return delivered(first, sent); }, std::chrono::seconds(10)));
  connect(second, hub);
  // For two seconds the hub keeps exactly one link, to `first`, while `second` keeps being refused.
  for (int i = 0; i < 10; ++i) {
    send_text(first, hub, "still busy");  // keeps first's link from ever looking idle
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto conns = hub.api().request("GET", "/v1/p2p/connections").body["connections"];
    ASSERT_EQ(conns.size(), 1u) << conns.dump();
    EXPECT_EQ(conns[0]["peer_id"], first.peer_id());
  }
  // `second` may see its side of a handshake complete for a moment before the hub closes the link,
  // but nothing it sends gets through.
  auto waiting = send_text(second, hub, "waits");
  for (int i = 0; i < 5; ++i) {
    send_text(first, hub, "still busy");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_NE(second.api().request("GET", "/v1/messages/" + waiting["id"].get<std::string>()).body["status"],
              "delivered");
    EXPECT_EQ(connection_count(hub), 1u);
  }
  auto routes = hub.api().request("GET", "/v1/p2p/routes").body["routes"];
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0]["kind"], "direct");
  EXPECT_EQ(routes[0]["destination"], first.peer_id());
}

TEST(ConnectionPool, IdleLinkIsClosedAndDialedAgainWhenAMessageWaits) {
  TempDir dir;
  auto config = write_config(dir.path() / "cfg", "connection_idle_timeout_ms: 500\n");
  LocalNode a{"a", hyphae_binary(), dir.path() / "a", {"--config", config.string()}};
  LocalNode b{"b", hyphae_binary(), dir.path() / "b"};
  a.start();
  b.start();
  connect(a, b);
  auto one = send_text(a, b, "one");
  ASSERT_TRUE(wait_until([&] { return delivered(a, one); }, std::chrono::seconds(10)));
  // Nothing waits: the link is closed once idle, and not dialed again.
  ASSERT_TRUE(wait_until([&] { return connection_count(a) == 0; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(connection_count(a), 0u);
  // A new message dials on demand and is delivered.
  auto two = send_text(a, b, "two");
  ASSERT_TRUE(wait_until([&] { return delivered(a, two); }, std::chrono::seconds(10)));
}

}  // namespace
}  // namespace hyphae::testing

namespace hyphae::testing {
namespace {

TEST(Backpressure, ApiAnswers429WithAJsonErrorAtThePendingLimit) {
  TempDir dir;
  auto config = write_config(dir.path() / "cfg", "max_pending_messages: 2\n");
  LocalNode a{"a", hyphae_binary(), dir.path() / "a", {"--config", config.string()}};
  LocalNode b{"b", hyphae_binary(), dir.path() / "b"};
  a.start();
  b.start();  // never connected: everything a sends to b waits
  auto& api = a.api();
  ok(api.request("POST", "/v1/messages/batch", nlohmann::json{{"to", b.peer_id()}, {"payloads", {"1", "2"}}}),
     201);
  auto full = api.request("POST", "/v1/messages", nlohmann::json{{"to", b.peer_id()}, {"payload", "3"}});
  EXPECT_EQ(full.status, 429);
  EXPECT_TRUE(full.body.contains("error")) << full.raw;
  // Once b is reachable and acks, a accepts sends again.
  connect(a, b);
  ASSERT_TRUE(wait_until([&] { return outbox_empty(a); }, std::chrono::seconds(10)));
  ok(api.request("POST", "/v1/messages", nlohmann::json{{"to", b.peer_id()}, {"payload", "3"}}), 201);
}

}  // namespace
}  // namespace hyphae::testing

namespace hyphae::testing {
namespace {

// QoS lanes: messages wait for an offline peer; when the link comes up, the EMERGENCY one sent last
// goes out first, then the NORMAL one, then the LOW backlog.
TEST(Priority, UrgentMessagesOvertakeABacklogToTheSamePeer) {
  NodePair pair(false);
  auto& a = pair.a;
  auto& b = pair.b;
  nlohmann::json low = nlohmann::json::array();
  for (int i = 0; i < 300; ++i) low.push_back("low " + std::to_string(i));
  ok(a.api().request("POST", "/v1/messages/batch",
                     nlohmann::json{{"to", b.peer_id()}, {"payloads", low}, {"priority", "low"}}),
     201);
  send_text(a, b, "normal");
  auto emergency =
      ok(a.api().request(
             "POST", "/v1/messages",
             nlohmann::json{{"to", b.peer_id()}, {"payload", "emergency"}, {"priority", "emergency"}}),
         201);
  connect(a, b);
  ASSERT_TRUE(wait_until([&] { return outbox_empty(a); }, std::chrono::seconds(20)));
  auto first = b.api().request("GET", "/v1/messages?after=0&limit=2").body["messages"];
  ASSERT_EQ(first.size(), 2u) << first.dump();
  EXPECT_EQ(first[0]["id"], emergency["id"]);
  EXPECT_EQ(first[0]["payload"], "emergency");
  EXPECT_EQ(first[1]["payload"], "normal");
  EXPECT_EQ(inbox(b).size(), 302u);
  EXPECT_EQ(
      ok(a.api().request("POST", "/v1/messages/batch",
                         nlohmann::json{{"to", b.peer_id()}, {"payloads", {"x"}}, {"priority", "urgent"}}),
         400)["error"],
      "'priority' must be emergency, high, normal or low");
}

}  // namespace
}  // namespace hyphae::testing
