// Two real node processes exchanging durable messages, with crashes (SIGKILL) in the middle.
#include <atomic>
#include <map>
#include <thread>

#include "harness.hpp"

namespace hyphae::testing {
namespace {

using namespace std::chrono_literals;

TEST(Delivery, TenThousandMessagesBothWaysDeliveredOnce) {
  NodePair pair;
  auto& a = pair.a;
  auto& b = pair.b;

  std::vector<std::string> a_to_b, b_to_a;
  for (int round = 0; round < 10; ++round) {
    auto x = send_batches(a, b, 1000, 1000, "ab" + std::to_string(round));
    auto y = send_batches(b, a, 1000, 1000, "ba" + std::to_string(round));
    a_to_b.insert(a_to_b.end(), x.begin(), x.end());
    b_to_a.insert(b_to_a.end(), y.begin(), y.end());
  }
  ASSERT_EQ(a_to_b.size(), 10000u);
  ASSERT_EQ(b_to_a.size(), 10000u);
  ASSERT_TRUE(wait_until([&] { return outbox_empty(a) && outbox_empty(b); }, 60s));

  auto at_b = inbox(b);
  auto at_a = inbox(a);
  EXPECT_EQ(at_b.size(), 10000u);
  EXPECT_EQ(at_a.size(), 10000u);
  for (const auto& id : a_to_b) EXPECT_TRUE(at_b.contains(id)) << id;
  for (const auto& id : b_to_a) EXPECT_TRUE(at_a.contains(id)) << id;
  // Spot-check the sender's view: delivered, and which transport carried it.
  for (std::size_t i = 0; i < a_to_b.size(); i += 997) {
    auto s = ok(a.api().request("GET", "/v1/messages/" + a_to_b[i]));
    EXPECT_EQ(s["status"], "delivered");
    EXPECT_NE(s["transport"].get<std::string>().find("tcp"), std::string::npos);
  }
  auto status = ok(b.api().request("GET", "/v1/p2p/status"));
  EXPECT_EQ(status["counters"]["received"], 10000);
  EXPECT_EQ(status["counters"]["rejected"], 0);
  // The same figures in Prometheus form.
  auto metrics = a.api().request("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.raw.find("p2p_messages_delivered_total{transport=\"tcp\"} 10000\n"), std::string::npos)
      << metrics.raw;
  EXPECT_NE(metrics.raw.find("p2p_message_latency_seconds_count{transport=\"tcp\"} 10000\n"),
            std::string::npos);
  EXPECT_NE(metrics.raw.find("p2p_active_connections{transport=\"tcp\"} 1\n"), std::string::npos);
  EXPECT_NE(metrics.raw.find("p2p_errors_total{kind=\"rejected_envelope\"} 0\n"), std::string::npos);
  EXPECT_EQ(a.api().request_raw("GET", "/metrics", "", false).status, 401);
}

TEST(Delivery, KillNineReceiverThenSenderMidStreamLosesNothing) {
  NodePair pair;
  auto& a = pair.a;
  auto& b = pair.b;

  std::vector<std::string> ids;
  auto send = [&](std::size_t n, const std::string& tag) {
    auto x = send_batches(a, b, n, 250, tag);
    ids.insert(ids.end(), x.begin(), x.end());
  };
  send(2000, "p1");
  b.kill_hard();  // the receiver crashes while messages are in flight
  send(2000, "p2");
  b.start();
  send(2000, "p3");
  a.kill_hard();  // now the sender crashes with unacknowledged messages in its outbox
  a.start();
  send(2000, "p4");
  ASSERT_EQ(ids.size(), 8000u);
  ASSERT_TRUE(wait_until([&] { return outbox_empty(a); }, 90s))
      << a.api().request("GET", "/v1/p2p/status").body.dump();

  auto at_b = inbox(b);
  EXPECT_EQ(at_b.size(), ids.size());
  for (const auto& id : ids) EXPECT_TRUE(at_b.contains(id)) << id;

  // The application sees every id exactly once through the stream, and never again once acked.
  std::map<std::string, int> seen;
  // Until every id came (a slow machine may take seconds to start the replay of 8000), then
  // drain_stream below shows nothing else follows.
  b.api().stream(
      [&](const nlohmann::json& m) {
        ++seen[m["id"].get<std::string>()];
        return seen.size() < ids.size();
      },
      15000);
  EXPECT_EQ(seen.size(), ids.size());
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(drain_stream(b, 1000), 0u);
  // Restarting the receiver does not hand acknowledged messages out again either.
  b.stop();
  b.start();
  EXPECT_EQ(drain_stream(b, 1000), 0u);
}

TEST(Delivery, QueuedWhileOfflineIsSealedAndDeliveredAfterRestart) {
  NodePair pair;
  auto& a = pair.a;
  auto& b = pair.b;
  b.stop();
  ASSERT_TRUE(wait_until([&] { return connection_count(a) == 0; }, 15s));
  auto sent = ok(a.api().request("POST", "/v1/messages",
                                 nlohmann::json{{"to", b.peer_id()}, {"payload", "secret while away"}}),
                 201);
  std::string id = sent["id"];
  EXPECT_EQ(ok(a.api().request("GET", "/v1/messages/" + id))["status"], "queued");
  std::string large(300 * 1024, 'L');  // larger than one Noise message: sealed with a content key
  std::string large_id =
      ok(a.api().request("POST", "/v1/messages", nlohmann::json{{"to", b.peer_id()}, {"payload", large}}),
         201)["id"];
  // Ephemeral sends fail at once without a link.
  auto eph = a.api().request("POST", "/v1/messages",
                             nlohmann::json{{"to", b.peer_id()}, {"payload", "now"}, {"ephemeral", true}});
  EXPECT_EQ(eph.status, 409) << eph.body.dump();
  EXPECT_TRUE(eph.body.contains("error"));
  b.start();
  ASSERT_TRUE(wait_until(
      [&] { return a.api().request("GET", "/v1/messages/" + id).body["status"] == "delivered"; }, 20s));
  auto at_b = inbox(b);
  ASSERT_TRUE(at_b.contains(id));
  EXPECT_EQ(at_b[id], "secret while away");
  ASSERT_TRUE(wait_until(
      [&] { return a.api().request("GET", "/v1/messages/" + large_id).body["status"] == "delivered"; }, 20s));
  EXPECT_EQ(inbox(b)[large_id], large);
}

TEST(Delivery, EphemeralMessagesArriveOverALiveLink) {
  NodePair pair;
  auto& a = pair.a;
  auto& b = pair.b;
  // Ephemeral messages reach only a listening app, so keep sending until the stream has three.
  std::vector<std::string> got;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    LocalNode& receiver = b;
    ApiClient client(receiver.endpoint());
    client.stream(
        [&](const nlohmann::json& m) {
          got.push_back(m.value("payload", ""));
          EXPECT_TRUE(m["ephemeral"].get<bool>());
          return got.size() < 3;
        },
        15000);
    done = true;
  });
  int sent = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        if (done) return true;
        ok(a.api().request(
               "POST", "/v1/messages",
               nlohmann::json{
                   {"to", b.peer_id()}, {"payload", "live " + std::to_string(sent++)}, {"ephemeral", true}}),
           201);
        return false;
      },
      15s));
  reader.join();
  ASSERT_EQ(got.size(), 3u);
  for (const auto& text : got) EXPECT_EQ(text.rfind("live ", 0), 0u) << text;
  EXPECT_GE(ok(b.api().request("GET", "/v1/p2p/status"))["counters"]["ephemeral_received"].get<int>(), 3);
}

}  // namespace
}  // namespace hyphae::testing
