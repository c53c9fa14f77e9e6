// The discovery chain between real node processes on loopback: a node that knows only a PeerId
// finds it through a PEER_QUERY to a neighbour (one hop, or passed on over two), dials it and
// delivers; a PeerId nobody knows ends in store-and-forward with every step's reason; `hyphae find`
// prints the timeline. A stranger's floods of queries, answers nobody asked for, records that are
// not its own and malformed discovery messages are counted drops, and the node keeps serving.
#include <thread>

#include "core/envelope.hpp"
#include "core/identity.hpp"
#include "discovery/link_messages.hpp"
#include "discovery/peer_query.hpp"
#include "discovery/peer_record.hpp"
#include "harness.hpp"
#include "raw_peer.hpp"

namespace hyphae::testing {
namespace {

using namespace std::chrono_literals;

void wait_linked(LocalNode& node, std::size_t count) {
  ASSERT_TRUE(wait_until([&] { return connection_count(node) >= count; }, 15s))
      << node.name() << " did not reach " << count << " links";
}

std::string send_text(LocalNode& from, const std::string& to, const std::string& text) {
  auto r = ok(from.api().request("POST", "/v1/messages", nlohmann::json{{"to", to}, {"payload", text}}), 201);
  return r["id"].get<std::string>();
}

bool delivered(LocalNode& node, const std::string& id) {
  return node.api().request("GET", "/v1/messages/" + id).body.value("status", "") == "delivered";
}

nlohmann::json discovery_of(LocalNode& node, const std::string& peer) {
  return ok(node.api().request("GET", "/v1/p2p/peers/" + peer));
}

nlohmann::json counters(LocalNode& node) {
  return ok(node.api().request("GET", "/v1/p2p/discovery"));
}

const nlohmann::json* step(const nlohmann::json& view, const std::string& name) {
  for (const auto& s : view["steps"])
    if (s["step"] == name) return &s;
  return nullptr;
}

struct Nodes {
  TempDir dir;
  std::vector<std::unique_ptr<LocalNode>> list;
  explicit Nodes(std::initializer_list<const char*> names) {
    for (const char* name : names) {
      list.push_back(std::make_unique<LocalNode>(name, hyphae_binary(), dir.path() / name));
      list.back()->start();
    }
  }
  LocalNode& operator[](std::size_t i) { return *list[i]; }
};

TEST(Discovery, APeerIdIsFoundThroughANeighboursAnswerAndMessagedDirectly) {
  Nodes n{"alice", "bob", "carol", "dave"};
  auto &alice = n[0], &bob = n[1], &carol = n[2], &dave = n[3];
  // alice and carol each know only bob; carol's session tells bob her signed record.
  connect(alice, bob);
  connect(carol, bob);
  wait_linked(bob, 2);
  ASSERT_TRUE(wait_until([&] { return counters(bob)["records_learned"].get<int>() >= 2; }, 10s));

  // alice has never heard of carol: no address, no record. A message to her PeerId finds her.
  EXPECT_EQ(discovery_of(alice, carol.peer_id())["state"], "DISCONNECTED");
  const auto id = send_text(alice, carol.peer_id(), "found you");
  ASSERT_TRUE(wait_until([&] { return delivered(alice, id); }, 15s));
  auto view = discovery_of(alice, carol.peer_id());
  EXPECT_EQ(view["state"], "CONNECTED") << view.dump();
  EXPECT_EQ(view["found_by"], "peer_query") << view.dump();
  const auto* live = step(view, "live_session");
  const auto* cache = step(view, "cache");
  const auto* query = step(view, "peer_query");
  ASSERT_TRUE(live && cache && query) << view.dump();
  EXPECT_EQ((*live)["outcome"], "no live session");
  EXPECT_EQ((*cache)["outcome"], "no cached record or address");
  EXPECT_EQ((*query)["outcome"], "found");
  EXPECT_EQ((*query)["budget_ms"], 50);
  // The session is a direct one (alice dialed carol's own address), not through bob.
  EXPECT_EQ(view["sessions"], nlohmann::json::array({"tcp"}));
  EXPECT_EQ(view["record"]["source"], "peer_query:" + bob.peer_id());
  EXPECT_GE(counters(bob)["queries_answered"].get<int>(), 1);
  EXPECT_GE(counters(alice)["found"].get<int>(), 1);
  // The message arrived, exactly once.
  auto got = inbox(carol);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.begin()->second, "found you");

  // `hyphae find` on another of bob's neighbours prints the same timeline as it happens.
  connect(dave, bob);
  wait_linked(bob, 3);
  auto out = run_cli(dave.data_dir(), "find " + carol.peer_id() + " --timeout 10");
  EXPECT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("live_session  no live session"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("peer_query  found"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("state CONNECTED, found by peer_query"), std::string::npos) << out.text;
}

TEST(Discovery, AQueryIsPassedOnOverTwoHopsAndTheAnswerComesBack) {
  Nodes n{"alice", "bob", "carol", "dave"};
  auto &alice = n[0], &bob = n[1], &carol = n[2], &dave = n[3];
  // A line: alice - bob - carol - dave. Only carol holds dave's record.
  connect(alice, bob);
  connect(bob, carol);
  connect(dave, carol);
  wait_linked(carol, 2);
  wait_linked(bob, 2);
  const auto id = send_text(alice, dave.peer_id(), "two hops away");
  ASSERT_TRUE(wait_until([&] { return delivered(alice, id); }, 15s));
  auto view = discovery_of(alice, dave.peer_id());
  EXPECT_EQ(view["found_by"], "peer_query") << view.dump();
  EXPECT_GE(counters(bob)["queries_forwarded"].get<int>(), 1);
  EXPECT_GE(counters(bob)["answers_passed_back"].get<int>(), 1);
  EXPECT_GE(counters(carol)["queries_answered"].get<int>(), 1);
  EXPECT_EQ(inbox(dave).size(), 1u);
}

TEST(Discovery, APeerIdNobodyKnowsEndsInStoreAndForwardWithEveryStepsReason) {
  Nodes n{"alice", "bob"};
  auto &alice = n[0], &bob = n[1];
  connect(alice, bob);
  wait_linked(alice, 1);
  const auto nobody = Identity::generate().peer_id().to_string();
  const auto id = send_text(alice, nobody, "for later");
  ASSERT_TRUE(wait_until([&] { return discovery_of(alice, nobody)["state"] == "STORE_AND_FORWARD"; }, 5s));
  auto view = discovery_of(alice, nobody);
  // The budgets of the documented timeline; each step says why the chain moved on.
  const auto* query = step(view, "peer_query");
  const auto* coordinators = step(view, "coordinators");
  const auto* registry = step(view, "registry");
  const auto* saf = step(view, "store_and_forward");
  ASSERT_TRUE(query && coordinators && registry && saf) << view.dump();
  EXPECT_EQ((*query)["outcome"], "no answer in time");
  EXPECT_EQ((*coordinators)["outcome"], "no coordinators known for it");
  EXPECT_EQ((*registry)["outcome"], "no registry configured");
  EXPECT_GE((*saf)["started_after_ms"].get<int>(), 200);  // the query had until the next step's time
  EXPECT_EQ(view["pending"], 1);
  EXPECT_EQ(alice.api().request("GET", "/v1/messages/" + id).body["status"], "queued");
  // Bad ids are a clear 400.
  EXPECT_EQ(alice.api().request("GET", "/v1/p2p/peers/not-a-peer").status, 400);
  EXPECT_EQ(alice.api().request("POST", "/v1/p2p/peers/" + alice.peer_id() + "/find").status, 400);
}

TEST(Discovery, FloodsOfQueriesAnswersAndForeignRecordsAreCountedDropsAndTheNodeServesOn) {
  TempDir dir;
  LocalNode node("node", hyphae_binary(), dir.path() / "node");
  node.start();
  auto node_id = PeerId::from_string(node.peer_id());
  ASSERT_TRUE(node_id);
  auto message = [](discovery::LinkMessageType type, const Bytes& body) {
    return discovery::encode_link_message(type, body);
  };
  {
    RawPeer stranger(node.listen_port(), *node_id);
    ASSERT_TRUE(stranger.established());
    // 3000 queries with fresh request ids: the per-sender rate lets about ten through.
    std::vector<Bytes> queries;
    for (std::uint64_t i = 0; i < 3000; ++i)
      queries.push_back(message(discovery::LinkMessageType::peer_query,
                                discovery::encode_peer_query({Identity::generate().peer_id(), i + 1, 3})));
    stranger.send_burst(stream::RecordType::discovery, queries);
    // 500 answers to queries nobody sent, each with a valid record.
    std::vector<Bytes> answers;
    for (std::uint64_t i = 0; i < 500; ++i) {
      const auto someone = Identity::generate();
      discovery::PeerRecord r;
      r.peer = someone.peer_id();
      r.seq = 1;
      answers.push_back(message(
          discovery::LinkMessageType::peer_found,
          discovery::encode_peer_found({i + 1, r.peer, *discovery::seal_peer_record(someone, r), false})));
    }
    stranger.send_burst(stream::RecordType::discovery, answers);
    // 200 records that are not the stranger's own.
    std::vector<Bytes> records;
    for (int i = 0; i < 200; ++i) {
      const auto someone = Identity::generate();
      discovery::PeerRecord r;
      r.peer = someone.peer_id();
      r.seq = 1;
      records.push_back(
          message(discovery::LinkMessageType::record, *discovery::seal_peer_record(someone, r)));
    }
    stranger.send_burst(stream::RecordType::discovery, records);
    ASSERT_TRUE(wait_until(
        [&] {
          auto c = counters(node);
          return c["queries_received"].get<int>() == 3000 && c["answers_unsolicited"].get<int>() == 500 &&
                 c["records_refused"].get<int>() == 200;
        },
        15s))
        << counters(node).dump();
    auto c = counters(node);
    EXPECT_GE(c["queries_dropped"].get<int>(), 2900) << c.dump();
    EXPECT_EQ(c["records_learned"], 0) << c.dump();
    EXPECT_EQ(c["queries_forwarded"], 0) << c.dump();  // it has no other neighbour to bother
    // Nothing of it was stored: the node holds no record of those peers.
    EXPECT_FALSE(discovery_of(node, Identity::generate().peer_id().to_string()).contains("record"));
    // A malformed discovery message closes that link, and only that one.
    stranger.send(stream::RecordType::discovery, Bytes{9, 1, 2, 3});
    stranger.pump_until([] { return false; });
    EXPECT_TRUE(stranger.closed());
  }
  EXPECT_EQ(counters(node)["malformed"], 1);
  EXPECT_TRUE(node.running());
  RawPeer good(node.listen_port(), *node_id);
  ASSERT_TRUE(good.established());
  Envelope env;
  env.id = MessageId::generate();
  env.timestamp_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    std::chrono::system_clock::now().time_since_epoch())
                                                    .count());
  env.ttl_s = 3600;
  env.flags = envelope_flags::ack_requested;
  env.payload = Bytes{'o', 'k'};
  good.send(stream::RecordType::data, encode_envelope(env, true));
  good.pump_until([&] { return !good.acked().empty(); });
  EXPECT_EQ(good.acked().size(), 1u);
}

}  // namespace
}  // namespace hyphae::testing
