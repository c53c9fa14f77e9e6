// The privacy transport in `hyphae node`: a registry with a mix directory, six `hyphae mixnode`
// processes (two per layer, three layers) and three nodes with a `betanet` transport, all real
// processes on loopback. Messages that require privacy go through the mixnet and are acknowledged
// through their reply blocks, exactly once; broadcasts reach every other endpoint once; every
// packet on every link is a whole Sphinx packet; a mix killed mid-traffic and key epochs that turn
// over during traffic cost retransmissions, not messages. The router refuses to carry an
// `anonymous` message over a direct link, and says why; `private` lets it.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <thread>

#include "core/identity.hpp"
#include "harness.hpp"
#include "testnet/local_mixnode.hpp"
#include "testnet/local_registry.hpp"

namespace hyphae::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return json::object();
  auto j = json::parse(in, nullptr, false);
  return j.is_discarded() ? json::object() : j;
}

// Registry + 6 mixes + nodes configured for its mixnet, in one temporary directory.
struct PrivateNet {
  TempDir dir{"hyphae-betanet-"};
  std::expected<Identity, std::error_code> registry_id = Identity::load_or_create(dir.path() / "registry-id");
  LocalRegistry registry;
  std::string token, network = "private";
  int epoch_s;
  std::vector<ChildProcess> mixes;
  std::vector<std::filesystem::path> mix_status;
  std::vector<std::unique_ptr<LocalNode>> nodes;

  explicit PrivateNet(int epoch_seconds)
      : registry(hyphae_binary(), dir.path() / "registry", "sqlite:" + (dir.path() / "registry.db").string(),
                 {"--mix-identity", (dir.path() / "registry-id").string(), "--mix-epoch",
                  std::to_string(epoch_seconds)}),
        epoch_s(epoch_seconds) {
    registry.start();
    token = registry.create_token(network);
    for (int layer = 1; layer <= 3; ++layer)
      for (int instance = 0; instance < 2; ++instance) start_mix(layer, instance);
  }
  void start_mix(int layer, int instance) {
    mix_status.push_back(local_mixnode_status(dir.path(), network, layer, instance));
    mixes.push_back(start_local_mixnode(
        hyphae_binary(), dir.path(), registry, registry_id->peer_id(), token, network, layer, epoch_s,
        {"--mean-delay-ms", "5", "--loop-rate", "2", "--drop-rate", "1"}, instance));
  }
  // A node with the betanet transport (and the default TCP mesh).
  LocalNode& add_node(const std::string& name, bool with_betanet = true) {
    const auto data = dir.path() / name;
    std::filesystem::create_directories(data);
    const auto config = dir.path() / (name + ".yaml");
    std::ofstream out(config);
    out << "max_message_bytes: 65536\n";
    if (with_betanet)
      out << "transport:\n"
          << "  betanet:\n"
          << "    type: betanet\n"
          << "    registry: " << registry.url() << "\n"
          << "    registry_peer: " << registry_id->peer_id().to_string() << "\n"
          << "    token: " << token << "\n"
          << "    network: " << network << "\n"
          << "    group: node-" << name << "\n"
          << "    epoch_s: " << epoch_s << "\n"
          << "    retry_min_ms: 500\n"
          << "    retry_max_ms: 1500\n"
          << "    max_attempts: 20\n"
          << "    loop_rate: 5\n"
          << "    drop_rate: 5\n";
    out.close();
    nodes.push_back(std::make_unique<LocalNode>(name, hyphae_binary(), data));
    nodes.back()->set_config_file(config);
    nodes.back()->start();
    return *nodes.back();
  }
};

void add_peer(LocalNode& node, const LocalNode& peer) {
  ok(node.api().request("POST", "/v1/peers", json{{"peer_id", peer.peer_id()}, {"addresses", json::array()}}),
     201);
}

bool has_betanet_session(LocalNode& node, const LocalNode& peer) {
  const auto body = node.api().request("GET", "/v1/p2p/connections").body;
  for (const auto& c : body["connections"])
    if (c["transport"] == "betanet" && c["peer_id"] == peer.peer_id()) return true;
  return false;
}

std::vector<std::string> send_private(LocalNode& from, const LocalNode& to, int count, const std::string& tag,
                                      const json& extra = json::object()) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    json body{{"to", to.peer_id()}, {"payload", tag + "-" + std::to_string(i)}, {"privacy", "anonymous"}};
    body.update(extra);
    auto r = from.api().request("POST", "/v1/messages", body);
    EXPECT_EQ(r.status, 201) << r.body.dump();
    if (r.status == 201) ids.push_back(r.body["id"].get<std::string>());
  }
  return ids;
}

std::size_t count_tagged(const std::map<std::string, std::string>& inbox, const std::string& tag) {
  std::size_t n = 0;
  for (const auto& [id, payload] : inbox) n += payload.rfind(tag + "-", 0) == 0 ? 1 : 0;
  return n;
}

TEST(BetanetNodes, PrivateMessagesAndBroadcastsArriveOnceAcknowledgedThroughReplyBlocks) {
  PrivateNet net(3600);
  ASSERT_TRUE(net.registry_id);
  auto& a = net.add_node("a");
  auto& b = net.add_node("b");
  auto& c = net.add_node("c");
  for (auto* n : {&a, &b, &c})
    for (auto* p : {&a, &b, &c})
      if (n != p) add_peer(*n, *p);
  ASSERT_TRUE(wait_until(
      [&] { return has_betanet_session(a, b) && has_betanet_session(a, c) && has_betanet_session(b, a); },
      60s))
      << transport_status(a, "betanet").dump();

  // Strict (3 mixes) to b, balanced (2) to c, both anonymous.
  auto to_b = send_private(a, b, 15, "strict", json{{"privacy_mode", "strict"}});
  auto to_c = send_private(a, c, 15, "balanced", json{{"privacy_mode", "balanced"}});
  // Performance: no mixes, straight to b's endpoint (still sealed in a Sphinx packet and acked).
  auto direct = send_private(a, b, 3, "performance", json{{"privacy_mode", "performance"}});
  ASSERT_EQ(to_b.size() + to_c.size() + direct.size(), 33u);
  ASSERT_TRUE(wait_until([&] { return outbox_empty(a); }, 60s)) << transport_status(a, "betanet").dump();
  EXPECT_EQ(count_tagged(inbox(b), "strict"), 15u);  // inbox() fails the test on a duplicate
  EXPECT_EQ(count_tagged(inbox(c), "balanced"), 15u);
  EXPECT_EQ(count_tagged(inbox(b), "performance"), 3u);
  for (const auto& id : to_b) {
    const auto s = message_status(a, id);
    EXPECT_EQ(s["status"], "delivered") << s.dump();
    EXPECT_EQ(s["transport"], "betanet") << s.dump();
    EXPECT_NE(s["transport_reason"].get<std::string>().find("anonym"), std::string::npos) << s.dump();
  }
  // The acks came back through the reply blocks the messages carried, not as records of their own.
  const auto sender = transport_status(a, "betanet");
  const auto b_side = transport_status(b, "betanet");
  const auto c_side = transport_status(c, "betanet");
  EXPECT_GE(b_side["acks_by_reply_block"].get<std::uint64_t>(), 18u) << b_side.dump();
  EXPECT_GE(c_side["acks_by_reply_block"].get<std::uint64_t>(), 15u) << c_side.dump();
  EXPECT_GE(sender["mixnet"]["acked"].get<std::uint64_t>(), 33u) << sender.dump();
  EXPECT_EQ(sender["rejected"], 0) << sender.dump();

  // A broadcast reaches both other endpoints once, signed by a.
  auto sent = a.api().request("POST", "/v1/p2p/broadcast",
                              json{{"text", "to everyone, privately"}, {"privacy", "anonymous"}});
  ASSERT_EQ(sent.status, 201) << sent.body.dump();
  EXPECT_NE(sent.body["sent_on"].dump().find("betanet"), std::string::npos) << sent.body.dump();
  for (auto* n : {&b, &c}) {
    json heard;
    ASSERT_TRUE(wait_until(
        [&] {
          heard = json::array();
          const auto all = n->api().request("GET", "/v1/p2p/broadcasts").body;
          for (const auto& m : all["broadcasts"])
            if (!m.value("own", false) && m.value("text", "") == "to everyone, privately") heard.push_back(m);
          return !heard.empty();
        },
        30s))
        << transport_status(*n, "betanet").dump() << "\n"
        << n->api().request("GET", "/v1/p2p/broadcasts").body.dump();
    std::this_thread::sleep_for(1s);  // a second copy would have come by now
    heard = json::array();
    const auto all = n->api().request("GET", "/v1/p2p/broadcasts").body;
    for (const auto& m : all["broadcasts"])
      if (!m.value("own", false) && m.value("text", "") == "to everyone, privately") heard.push_back(m);
    ASSERT_EQ(heard.size(), 1u) << heard.dump();
    EXPECT_EQ(heard[0]["from"], a.peer_id());
    EXPECT_EQ(heard[0]["verified"], true);
    EXPECT_EQ(heard[0]["via"], "betanet");
  }

  for (auto* n : {&a, &b, &c}) {
    json mixnet;
    // Its own loop cover goes out and comes home; its drop cover goes out.
    EXPECT_TRUE(wait_until(
        [&] {
          mixnet = transport_status(*n, "betanet")["mixnet"];
          return mixnet["loops_returned"].get<std::uint64_t>() > 0 &&
                 mixnet["drops_sent"].get<std::uint64_t>() > 0;
        },
        20s))
        << mixnet.dump();
    EXPECT_GT(mixnet["packets_in"].get<std::uint64_t>(), 0u) << mixnet.dump();
    EXPECT_EQ(mixnet["frames_not_whole_packets"], 0) << mixnet.dump();
  }
  // Every frame on every link into a mix carried whole 2394-byte packets (so did the nodes', above).
  std::this_thread::sleep_for(1200ms);  // the mixes write their counters every second
  for (const auto& s : net.mix_status) {
    const auto st = read_json(s);
    EXPECT_GT(st.value("packets_in", std::uint64_t{0}), 0u) << s << " " << st.dump();
    EXPECT_EQ(st.value("frames_not_whole_packets", std::uint64_t{1}), 0u) << st.dump();
    EXPECT_EQ(st.value("bad_mac", std::uint64_t{1}), 0u) << st.dump();
    EXPECT_EQ(st.value("not_for_a_mix", std::uint64_t{1}), 0u) << st.dump();  // the nodes' drops parse
  }
}

TEST(BetanetNodes, AnonymousMessagesNeverFallBackToADirectLinkPrivateOnesMay) {
  PrivateNet net(3600);
  ASSERT_TRUE(net.registry_id);
  auto& a = net.add_node("a");
  auto& d = net.add_node("d", false);  // no mixnet: only the TCP mesh
  connect(a, d);
  ASSERT_TRUE(wait_until([&] { return connection_count(a) >= 1; }, 15s));
  const auto waiting = send_private(a, d, 1, "anon");
  ASSERT_EQ(waiting.size(), 1u);
  const auto allowed = send_private(a, d, 1, "allowed", json{{"privacy", "private"}});
  ASSERT_EQ(allowed.size(), 1u);
  ASSERT_TRUE(wait_until([&] { return message_status(a, allowed[0])["status"] == "delivered"; }, 15s));
  const auto fell_back = message_status(a, allowed[0]);
  EXPECT_EQ(fell_back["transport"], "tcp") << fell_back.dump();
  EXPECT_NE(fell_back["transport_reason"].get<std::string>().find("privacy private"), std::string::npos)
      << fell_back.dump();
  std::this_thread::sleep_for(2s);
  const auto held = message_status(a, waiting[0]);
  EXPECT_EQ(held["status"], "queued") << held.dump();
  EXPECT_NE(held["transport_reason"].get<std::string>().find("only an anonymous transport"),
            std::string::npos)
      << held.dump();
  EXPECT_EQ(count_tagged(inbox(d), "anon"), 0u);
  EXPECT_EQ(count_tagged(inbox(d), "allowed"), 1u);
  // Nothing anonymous carries d's broadcasts: a 409 that says so.
  auto broadcast =
      d.api().request("POST", "/v1/p2p/broadcast", json{{"text", "hello"}, {"privacy", "anonymous"}});
  EXPECT_EQ(broadcast.status, 409) << broadcast.body.dump();
  EXPECT_NE(broadcast.body.dump().find("anonymous"), std::string::npos) << broadcast.body.dump();
  // Forcing a direct transport for an anonymous message is a 400, not a silent downgrade.
  auto forced = a.api().request(
      "POST", "/v1/messages",
      json{{"to", d.peer_id()}, {"payload", "x"}, {"privacy", "anonymous"}, {"transport", "tcp"}});
  EXPECT_EQ(forced.status, 400) << forced.body.dump();
}

TEST(BetanetNodes, AMixKilledMidTrafficAndEpochRolloversCostRetransmissionsNotMessages) {
  PrivateNet net(5);
  ASSERT_TRUE(net.registry_id);
  auto& a = net.add_node("a");
  auto& b = net.add_node("b");
  add_peer(a, b);
  add_peer(b, a);
  ASSERT_TRUE(wait_until([&] { return has_betanet_session(a, b); }, 60s))
      << transport_status(a, "betanet").dump();
  const auto first_epoch = transport_status(a, "betanet")["topology_epoch"].get<std::uint64_t>();
  std::vector<std::string> ids;
  const auto started = std::chrono::steady_clock::now();
  for (int round = 0; round < 12; ++round) {  // 12 s of traffic: two or more epoch boundaries
    auto more = send_private(a, b, 5, "r" + std::to_string(round));
    ids.insert(ids.end(), more.begin(), more.end());
    if (round == 4) net.mixes[2].stop(SIGKILL);  // a layer-2 mix dies with packets in it
    std::this_thread::sleep_for(1s);
  }
  ASSERT_EQ(ids.size(), 60u);
  ASSERT_TRUE(wait_until([&] { return outbox_empty(a); }, 90s)) << transport_status(a, "betanet").dump();
  const auto received = inbox(b);
  std::size_t total = 0;
  for (int round = 0; round < 12; ++round) total += count_tagged(received, "r" + std::to_string(round));
  EXPECT_EQ(total, 60u);
  const auto status = transport_status(a, "betanet");
  EXPECT_GT(status["mixnet"]["retransmitted"].get<std::uint64_t>(), 0u) << status.dump();
  EXPECT_EQ(status["mixnet"]["given_up"], 0) << status.dump();
  EXPECT_GE(status["topology_epoch"].get<std::uint64_t>(), first_epoch + 2) << status.dump();
  EXPECT_GE(std::chrono::steady_clock::now() - started, 10s);
  // No packet failed to open at a live mix across the key rollovers.
  for (std::size_t i = 0; i < net.mix_status.size(); ++i) {
    if (i == 2) continue;
    const auto st = read_json(net.mix_status[i]);
    EXPECT_EQ(st.value("bad_mac", std::uint64_t{1}), 0u) << st.dump();
    EXPECT_GE(st.value("keys_retired", 0), 1) << st.dump();
  }
}

}  // namespace
}  // namespace hyphae::testing
