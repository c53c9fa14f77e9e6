// The QoS transmit queue with real node processes (seed 002): while the recipient's transport is
// busy, messages wait in per-class queues with fixed capacities; a full class leaves the rest in
// the durable outbox; an EMERGENCY message that finds its class full evicts the oldest LOW one
// (back to the outbox, not lost); when the transport drains, EMERGENCY goes first. Also: a payload
// of exactly max_message_bytes is delivered.
#include "two_transports.hpp"

namespace hyphae::testing {
namespace {

std::uint64_t metric(const std::string& text, const std::string& series) {
  auto at = text.find(series + " ");
  if (at == std::string::npos) return ~0ull;
  return std::stoull(text.substr(at + series.size() + 1));
}

TEST(Qos, CapacitiesEvictionAndPriorityWhileTheTransportIsBusy) {
  // Tiny queues (a busy peer may hold a quarter of a class: 4 of LOW's 16); any unsent byte makes
  // the transport busy; tcp holds each record 150 ms.
  TwoTransportPair p("", "qos:\n  emergency: 2\n  low: 16\n  busy_backlog_bytes: 1\n");
  p.fault("tcp", {{"mode", "slow"}, {"delay_ms", 150}});
  std::vector<std::string> low, urgent;
  for (int i = 0; i < 10; ++i) low.push_back(p.send("low " + std::to_string(i), {{"priority", "low"}}));
  auto m = p.a.api().request("GET", "/metrics").raw;
  // One LOW message is in the transport, four (its share) wait in the LOW queue, the rest in the outbox.
  EXPECT_EQ(metric(m, "p2p_qos_queue_depth{priority=\"low\"}"), 4u) << m;
  for (int i = 0; i < 3; ++i)
    urgent.push_back(p.send("urgent " + std::to_string(i), {{"priority", "emergency"}}));
  m = p.a.api().request("GET", "/metrics").raw;
  // Two EMERGENCY slots, and the third took the oldest LOW message's slot (that LOW message went
  // back to the outbox; LOW had room, so it came straight back into the queue).
  EXPECT_EQ(metric(m, "p2p_qos_evicted{priority=\"low\"}"), 1u) << m;
  EXPECT_EQ(metric(m, "p2p_qos_queue_depth{priority=\"emergency\"}"), 3u);
  EXPECT_LE(metric(m, "p2p_qos_queue_depth{priority=\"low\"}"), 4u);

  for (const auto& id : urgent)
    ASSERT_TRUE(wait_until([&] { return p.delivered(id); }, std::chrono::seconds(20))) << p.status(id).dump();
  for (const auto& id : low)
    ASSERT_TRUE(wait_until([&] { return p.delivered(id); }, std::chrono::seconds(30))) << p.status(id).dump();
  // Nothing lost or doubled, and once the busy transport drained the EMERGENCY messages went first:
  // at most the LOW message already in the transport arrived before them.
  std::map<std::string, std::uint64_t> seq;
  std::uint64_t after = 0;
  for (;;) {
    auto r = p.b.api().request("GET", "/v1/messages?after=" + std::to_string(after) + "&limit=100").body;
    if (r["messages"].empty()) break;
    for (const auto& msg : r["messages"]) {
      after = msg["seq"].get<std::uint64_t>();
      EXPECT_TRUE(seq.emplace(msg["id"].get<std::string>(), after).second);
    }
  }
  ASSERT_EQ(seq.size(), 13u);
  std::size_t low_before_urgent = 0;
  for (const auto& id : low)
    if (seq[id] < seq[urgent.back()]) ++low_before_urgent;
  EXPECT_LE(low_before_urgent, 1u);
  for (const auto& id : urgent) EXPECT_EQ(p.status(id)["transport"], "tcp");
}

TEST(Qos, AMessageOfExactlyMaxMessageBytesIsDelivered) {
  NodePair p;
  const std::string payload(1 << 20, 'z');  // max_message_bytes by default
  auto r =
      p.a.api().request("POST", "/v1/messages", nlohmann::json{{"to", p.b.peer_id()}, {"payload", payload}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  const auto id = r.body["id"].get<std::string>();
  ASSERT_TRUE(
      wait_until([&] { return p.a.api().request("GET", "/v1/messages/" + id).body["status"] == "delivered"; },
                 std::chrono::seconds(15)))
      << p.a.api().request("GET", "/v1/messages/" + id).body.dump();
  auto in = inbox(p.b);
  ASSERT_EQ(in.count(id), 1u);
  EXPECT_EQ(in[id].size(), payload.size());
}

}  // namespace
}  // namespace hyphae::testing
