// `hyphae mixnode` as real processes: a registry with a mix directory (4-second key epochs) and
// three mixes in three layers. They publish descriptors, fetch the signed topology, link to each
// other over HTX (TLS 1.3 + Noise XK) and carry their own loop cover around the network; keys
// rotate every epoch and the loops keep coming home. A packet the test makes itself crosses all
// three mixes and reaches the last one; the same packet again is dropped as a replay at the first,
// and a packet with a flipped bit is dropped there too.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <csignal>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "api/client.hpp"
#include "betanet/directory/directory.hpp"
#include "betanet/endpoint/mixnet_endpoint.hpp"
#include "betanet/htx/htx_link.hpp"
#include "harness.hpp"
#include "testnet/local_mixnode.hpp"
#include "testnet/local_registry.hpp"
#include "util/json_util.hpp"

namespace hyphae::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

nlohmann::json read_status(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return nlohmann::json::object();
  auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

std::uint64_t counter(const std::filesystem::path& file, const char* name) {
  return read_status(file).value(name, std::uint64_t{0});
}

// A registry with a mix directory and mix processes started against it, in one temporary dir.
struct Mixnet {
  TempDir dir{"hyphae-mixnet-"};
  std::expected<Identity, std::error_code> registry_id = Identity::load_or_create(dir.path() / "registry-id");
  LocalRegistry registry;
  std::string token;
  std::string network;
  std::string epoch_s;
  Mixnet(const std::string& net, int epoch_seconds)
      : registry(hyphae_binary(), dir.path() / "registry", "sqlite:" + (dir.path() / "registry.db").string(),
                 {"--mix-identity", (dir.path() / "registry-id").string(), "--mix-epoch",
                  std::to_string(epoch_seconds)}),
        network(net),
        epoch_s(std::to_string(epoch_seconds)) {
    registry.start();
    token = registry.create_token(network);
  }
  std::filesystem::path status(int layer) const { return local_mixnode_status(dir.path(), network, layer); }
  ChildProcess start_mix(int layer, std::vector<std::string> extra) const {
    return start_local_mixnode(hyphae_binary(), dir.path(), registry, registry_id->peer_id(), token, network,
                               layer, std::stoi(epoch_s), extra);
  }
};

TEST(MixNodes, ThreeMixesCarryCoverAcrossKeyEpochsAndDropReplays) {
  Mixnet net("mixnet", 4);
  ASSERT_TRUE(net.registry_id);
  auto& registry = net.registry;
  const auto& registry_id = net.registry_id;
  const auto token = net.token;
  std::vector<ChildProcess> mixes;
  std::vector<std::filesystem::path> status;
  for (int layer = 1; layer <= 3; ++layer) {
    status.push_back(net.status(layer));
    mixes.push_back(net.start_mix(layer, {"--loop-rate", "20", "--drop-rate", "5", "--mean-delay-ms", "5"}));
  }
  // Every mix sees all three, and its loops come home.
  for (const auto& s : status) {
    EXPECT_TRUE(wait_until(
        [&] { return counter(s, "topology_mixes") == 3 && counter(s, "loops_returned") >= 20; }, 30s))
        << read_status(s).dump();
  }
  // Two epoch boundaries later every mix has retired a key and loops still come home.
  std::vector<std::uint64_t> before;
  for (const auto& s : status) before.push_back(counter(s, "loops_returned"));
  std::this_thread::sleep_for(9s);
  for (std::size_t i = 0; i < status.size(); ++i) {
    const auto st = read_status(status[i]);
    EXPECT_GE(st.value("keys_retired", 0), 1) << st.dump();
    EXPECT_GT(st.value("loops_returned", std::uint64_t{0}), before[i] + 50) << st.dump();
    EXPECT_EQ(st.value("publish_failures", 1), 0) << st.dump();
    EXPECT_EQ(st.value("bad_mac", 1), 0) << st.dump();  // no packet lost to a key change
  }

  // A packet of our own through all three, sent twice, and a changed one.
  ApiEndpoint endpoint;
  endpoint.port = registry.port();
  endpoint.token = token;
  ApiClient client(endpoint);
  const auto reply = client.request("GET", "/network/mixnet/mix-topology");
  ASSERT_EQ(reply.status, 200) << reply.raw;
  auto topology = betanet::open_topology(*base64_decode(reply.body["envelope_base64"].get<std::string>()),
                                         registry_id->peer_id());
  ASSERT_TRUE(topology) << topology.error();
  ASSERT_EQ(topology->mixes.size(), 3u);
  std::vector<const betanet::MixDescriptor*> by_layer(4);
  for (const auto& m : topology->mixes) by_layer[m.layer] = &m;
  std::vector<sphinx::Hop> path;
  for (int layer = 1; layer <= 3; ++layer) path.push_back(by_layer[layer]->hop(topology->epoch));
  const auto packet = sphinx::create_packet(path, sphinx::Destination{by_layer[3]->node_id, std::nullopt},
                                            as_bytes("a message for nobody in particular"));
  ASSERT_TRUE(packet);
  Bytes flipped = *packet;
  flipped[200] ^= 0x01;

  asio::io_context io;
  bool up = false;
  htx::HtxLinkCallbacks cb;
  cb.on_established = [&] { up = true; };
  std::string host;
  const auto& address = by_layer[1]->address;  // /ip4/127.0.0.1/tcp/PORT
  const auto port = static_cast<std::uint16_t>(std::stoul(address.substr(address.rfind('/') + 1)));
  auto link = htx::HtxLink::connect(asio::make_strand(io.get_executor()), htx::htx_client_tls(), "127.0.0.1",
                                    port, noise::KeyPair::generate(), by_layer[1]->link_key, cb);
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (!up && std::chrono::steady_clock::now() < end) io.run_for(20ms);
  ASSERT_TRUE(up);
  const auto stream = link->open_stream();
  const auto replays_before = counter(status[0], "replays");
  const auto bad_before = counter(status[0], "bad_mac");
  ASSERT_FALSE(link->send(stream, *packet));
  ASSERT_FALSE(link->send(stream, *packet));  // a replay
  ASSERT_FALSE(link->send(stream, flipped));
  for (int i = 0; i < 50; ++i) io.run_for(20ms);
  EXPECT_TRUE(wait_until([&] { return counter(status[2], "not_for_a_mix") == 1; }, 10s))
      << read_status(status[2]).dump();
  EXPECT_TRUE(wait_until([&] { return counter(status[0], "replays") == replays_before + 1; }, 5s))
      << read_status(status[0]).dump();
  EXPECT_EQ(counter(status[0], "bad_mac"), bad_before + 1);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(counter(status[2], "not_for_a_mix"), 1u);  // delivered once, not twice
  link->close();
  io.run_for(50ms);
  for (auto& m : mixes) EXPECT_EQ(m.stop(SIGTERM), 0);
}

// Two endpoints (what a node runs for the privacy transport) in this process and three mix
// processes: messages go through all three mixes, each delivered exactly once and acknowledged
// through its reply block. Then the middle mix is killed mid-traffic and started again (new keys,
// new port): the messages sent meanwhile cost retransmissions over fresh routes, not messages.
TEST(MixNodes, PrivateMessagesCrossThreeMixesExactlyOnceAndSurviveAMixRestart) {
  Mixnet net("e2e", 60);
  ASSERT_TRUE(net.registry_id);
  const auto& registry = net.registry;
  const auto& registry_id = net.registry_id;
  const auto token = net.token;
  auto start_mix = [&](int layer) { return net.start_mix(layer, {"--mean-delay-ms", "20"}); };
  std::vector<ChildProcess> mixes;
  for (int layer = 1; layer <= 3; ++layer) mixes.push_back(start_mix(layer));

  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::mutex mutex;
  std::map<std::string, int> delivered;  // payload -> times
  std::set<betanet::MessageId> acked;
  betanet::MixnetEndpointOptions options;
  options.registry_url = registry.url();
  options.registry_peer = registry_id->peer_id().to_string();
  options.token = token;
  options.network = "e2e";
  options.group = "home";
  options.epoch_ms = 60'000;
  options.delivery.max_attempts = 12;
  const auto alice_id = Identity::generate(), bob_id = Identity::generate();
  betanet::MixnetEndpointCallbacks alice_cb, bob_cb;
  alice_cb.on_acked = [&](const betanet::MessageId& id) {
    std::lock_guard lock(mutex);
    acked.insert(id);
  };
  bob_cb.on_delivered = [&](const betanet::MessageId&, Bytes payload) {
    std::lock_guard lock(mutex);
    ++delivered[to_string(payload)];
  };
  betanet::MixnetEndpoint alice(io, alice_id, options, alice_cb, spdlog::default_logger());
  betanet::MixnetEndpoint bob(io, bob_id, options, bob_cb, spdlog::default_logger());
  ASSERT_TRUE(alice.start());
  ASSERT_TRUE(bob.start());
  std::thread runner([&] { io.run(); });
  auto on = [&](betanet::MixnetEndpoint& e, auto f) {
    std::promise<decltype(f())> p;
    asio::post(e.strand(), [&] { p.set_value(f()); });
    return p.get_future().get();
  };
  EXPECT_TRUE(wait_until([&] { return on(alice, [&] { return alice.can_reach(bob_id.peer_id()); }); }, 30s));
  auto send = [&](int n) {
    betanet::MessageId id{};
    id[0] = static_cast<std::uint8_t>(n);
    return on(alice, [&] {
      return alice.send(id, bob_id.peer_id(), as_bytes("private " + std::to_string(n))).has_value();
    });
  };
  auto count = [&] {
    std::lock_guard lock(mutex);
    return std::pair{delivered.size(), acked.size()};
  };
  for (int n = 0; n < 10; ++n) ASSERT_TRUE(send(n));
  EXPECT_TRUE(wait_until(
      [&] {
        return count() == std::pair<std::size_t, std::size_t>{10, 10};
      },
      30s))
      << count().first << " delivered, " << count().second << " acked";

  // The middle mix dies mid-traffic and comes back with new keys on a new port.
  ASSERT_EQ(kill(mixes[1].pid(), SIGKILL), 0);
  mixes[1].stop(SIGKILL, 5s);
  for (int n = 10; n < 20; ++n) ASSERT_TRUE(send(n));
  std::this_thread::sleep_for(3s);
  mixes[1] = start_mix(2);
  EXPECT_TRUE(wait_until(
      [&] {
        return count() == std::pair<std::size_t, std::size_t>{20, 20};
      },
      90s))
      << count().first << " delivered, " << count().second << " acked; alice "
      << on(alice, [&] { return alice.status(); }).dump();
  {
    std::lock_guard lock(mutex);
    for (const auto& [payload, times] : delivered) EXPECT_EQ(times, 1) << payload;  // exactly once
  }
  const auto st = on(alice, [&] { return alice.status(); });
  EXPECT_GT(st.value("retransmitted", 0), 0) << st.dump();
  EXPECT_EQ(st.value("given_up", 1), 0) << st.dump();
  alice.stop();
  bob.stop();
  std::this_thread::sleep_for(200ms);
  guard.reset();
  io.stop();
  runner.join();
  for (auto& m : mixes) m.stop(SIGTERM);
}

}  // namespace
}  // namespace hyphae::testing
