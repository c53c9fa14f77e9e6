// mixnet_bench: what an idle mixnet costs. A registry with a mix directory and three `hyphae mixnode`
// processes with the default cover traffic (0.5 loop and 0.5 drop packets a second each, 50 ms mean
// delay); once they see each other, their CPU use over 20 seconds from /proc (user + system time),
// as a share of one core, and the same for an idle `hyphae node` with the betanet transport (its
// default cover: 0.5 loop and 0.5 drop packets a second). Target: < 2 % (an idle client of an existing mixnet
// at 140 % of a core is a reported failure). Also the wire cost of one message: a Sphinx packet beside the
// body it carries. Usage: mixnet_bench [--quick] (10 s instead of 20). Writes bench/results/mixnet.json.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>

#include "betanet/endpoint/mixnet_endpoint.hpp"
#include "betanet/htx/htx_link.hpp"
#include "betanet/sphinx/sphinx.hpp"
#include "common/report.hpp"
#include "core/identity.hpp"
#include "testnet/local_mixnode.hpp"
#include "testnet/local_node.hpp"
#include "testnet/local_registry.hpp"
#include "testnet/process.hpp"

using namespace hyphae;

namespace {

// utime + stime of a process, in clock ticks.
std::uint64_t cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  std::uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return utime + stime;
}

// Median one-way latency (ms) of `count` private messages alice -> bob through `layers` mixes
// (one per layer, no mixing delay, no cover), both endpoints in this process.
double private_latency_ms(const std::filesystem::path& binary, const std::filesystem::path& dir,
                          const LocalRegistry& registry, const Identity& registry_id, int layers, int count) {
  const std::string network = "lat" + std::to_string(layers);
  const auto token = const_cast<LocalRegistry&>(registry).create_token(network);
  std::vector<ChildProcess> mixes;
  for (int layer = 1; layer <= layers; ++layer)
    mixes.push_back(start_local_mixnode(binary, dir, registry, registry_id.peer_id(), token, network, layer,
                                        600,
                                        {"--mean-delay-ms", "0", "--loop-rate", "0", "--drop-rate", "0"}));
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::mutex mutex;
  std::condition_variable arrived;
  int delivered = 0;
  betanet::MixnetEndpointOptions o;
  o.registry_url = registry.url();
  o.registry_peer = registry_id.peer_id().to_string();
  o.token = token;
  o.network = network;
  o.epoch_ms = 600'000;
  o.mixes_per_route = static_cast<std::size_t>(layers);
  betanet::MixnetEndpointCallbacks bob_cb;
  bob_cb.on_delivered = [&](const betanet::MessageId&, Bytes) {
    std::lock_guard lock(mutex);
    ++delivered;
    arrived.notify_all();
  };
  const auto alice_id = Identity::generate(), bob_id = Identity::generate();
  betanet::MixnetEndpoint alice(io, alice_id, o, {}, spdlog::default_logger());
  betanet::MixnetEndpoint bob(io, bob_id, o, bob_cb, spdlog::default_logger());
  if (!alice.start() || !bob.start()) throw std::runtime_error("the endpoints did not start");
  std::thread runner([&] { io.run(); });
  auto reachable = [&] {
    std::promise<bool> p;
    boost::asio::post(alice.strand(), [&] { p.set_value(alice.can_reach(bob_id.peer_id())); });
    return p.get_future().get();
  };
  const bool ready = wait_until(reachable, std::chrono::seconds(30));
  std::vector<double> samples;
  for (int n = 0; ready && n < count + 2; ++n) {
    betanet::MessageId id{};
    id[0] = static_cast<std::uint8_t>(n);
    const auto start = std::chrono::steady_clock::now();
    boost::asio::post(alice.strand(), [&, id] { (void)alice.send(id, bob_id.peer_id(), as_bytes("ping")); });
    std::unique_lock lock(mutex);
    if (!arrived.wait_for(lock, std::chrono::seconds(10), [&] { return delivered > n; })) break;
    if (n >= 2)
      samples.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  alice.stop();
  bob.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  guard.reset();
  io.stop();
  runner.join();
  for (auto& m : mixes) m.stop(SIGTERM);
  if (!ready || samples.size() < static_cast<std::size_t>(count))
    throw std::runtime_error("private messages did not arrive through " + std::to_string(layers) + " mixes");
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

// Median one-way latency (ms) of a 2394-byte packet over one direct HTX link in this process.
double direct_latency_ms(int count) {
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto server_key = noise::KeyPair::generate();
  std::mutex mutex;
  std::condition_variable arrived;
  std::size_t bytes = 0;
  std::shared_ptr<htx::HtxLink> server;
  acceptor.async_accept([&](boost::system::error_code ec, boost::asio::ip::tcp::socket socket) {
    if (ec) return;
    htx::HtxLinkCallbacks cb;
    cb.on_data = [&](std::uint64_t, Bytes d) {
      std::lock_guard lock(mutex);
      bytes += d.size();
      arrived.notify_all();
    };
    server = htx::HtxLink::accept(boost::asio::make_strand(io.get_executor()), htx::htx_server_tls(),
                                  std::move(socket), server_key, cb);
  });
  std::atomic<bool> up{false};
  htx::HtxLinkCallbacks cb;
  cb.on_established = [&] { up = true; };
  auto strand = boost::asio::make_strand(io.get_executor());
  auto link =
      htx::HtxLink::connect(strand, htx::htx_client_tls(), "127.0.0.1", acceptor.local_endpoint().port(),
                            noise::KeyPair::generate(), server_key.pub, cb);
  std::thread runner([&] { io.run(); });
  wait_until([&] { return up.load(); }, std::chrono::seconds(10));
  const Bytes packet(sphinx::kPacketBytes, 0x61);
  std::vector<double> samples;
  std::uint64_t stream = 0;
  {
    std::promise<std::uint64_t> p;
    boost::asio::post(strand, [&] { p.set_value(link->open_stream()); });
    stream = p.get_future().get();
  }
  for (int n = 0; n < count + 2; ++n) {
    const auto start = std::chrono::steady_clock::now();
    boost::asio::post(strand, [&] { (void)link->send(stream, packet); });
    std::unique_lock lock(mutex);
    if (!arrived.wait_for(lock, std::chrono::seconds(5), [&] { return bytes >= (n + 1) * packet.size(); }))
      break;
    if (n >= 2)
      samples.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  boost::asio::post(strand, [&] { link->close(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  guard.reset();
  io.stop();
  runner.join();
  if (samples.size() < static_cast<std::size_t>(count))
    throw std::runtime_error("the direct link did not carry the packets");
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

// Two `hyphae node`s with a betanet transport (2 mixes, no mixing delay, no cover) and a TCP
// session between them: the median time from POST /v1/messages until the sender's status says
// delivered (the recipient committed the message and its ack came back), for privacy anonymous
// (through the mixnet; the ack through its reply block) and for a message forced onto the TCP
// session. The status is polled every 0.2 ms, so both carry the same polling cost.
std::pair<double, double> node_round_trip_ms(const std::filesystem::path& binary,
                                             const std::filesystem::path& dir, const LocalRegistry& registry,
                                             const Identity& registry_id, int count) {
  const std::string network = "nodes";
  const auto token = const_cast<LocalRegistry&>(registry).create_token(network);
  std::vector<ChildProcess> mixes;
  for (int layer = 1; layer <= 2; ++layer)
    mixes.push_back(start_local_mixnode(binary, dir, registry, registry_id.peer_id(), token, network, layer,
                                        600,
                                        {"--mean-delay-ms", "0", "--loop-rate", "0", "--drop-rate", "0"}));
  const auto config = dir / "nodes.yaml";
  {
    std::ofstream out(config);
    out << "transport:\n  betanet:\n    type: betanet\n    registry: " << registry.url()
        << "\n    registry_peer: " << registry_id.peer_id().to_string() << "\n    token: " << token
        << "\n    network: " << network << "\n    epoch_s: 600\n    loop_rate: 0\n";
  }
  LocalNode a("a", binary, dir / "node-a"), b("b", binary, dir / "node-b");
  for (auto* n : {&a, &b}) {
    n->set_config_file(config);
    n->start();
  }
  a.api().request("POST", "/v1/peers",
                  nlohmann::json{{"peer_id", b.peer_id()}, {"addresses", {b.address()}}});
  const auto sessions = [&] {
    std::multiset<std::string> out;
    const auto body = a.api().request("GET", "/v1/p2p/connections").body;
    for (const auto& c : body["connections"]) out.insert(c["transport"].get<std::string>());
    return out;
  };
  if (!wait_until([&] { return sessions().count("betanet") == 1 && sessions().count("tcp") == 1; },
                  std::chrono::seconds(30)))
    throw std::runtime_error("the nodes did not get a betanet and a tcp session");
  const auto median = [&](const nlohmann::json& extra) {
    std::vector<double> samples;
    for (int n = 0; n < count + 2; ++n) {
      nlohmann::json body{{"to", b.peer_id()}, {"payload", "ping " + std::to_string(n)}};
      body.update(extra);
      const auto start = std::chrono::steady_clock::now();
      const auto sent = a.api().request("POST", "/v1/messages", body);
      if (sent.status != 201) throw std::runtime_error("send refused: " + sent.body.dump());
      const auto path = "/v1/messages/" + sent.body["id"].get<std::string>();
      // Polled every 0.2 ms (wait_until's 20 ms steps would be the measurement).
      const auto deadline = start + std::chrono::seconds(10);
      while (a.api().request("GET", path).body.value("status", "") != "delivered") {
        if (std::chrono::steady_clock::now() > deadline)
          throw std::runtime_error("a message was not delivered");
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      if (n >= 2)
        samples.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(samples.begin(), samples.end());
    return samples[samples.size() / 2];
  };
  const double private_ms = median({{"privacy", "anonymous"}});
  const double direct_ms = median({{"transport", "tcp"}});
  a.stop();
  b.stop();
  for (auto& m : mixes) m.stop(SIGTERM);
  return {private_ms, direct_ms};
}

nlohmann::json read_status(const std::filesystem::path& file) {
  std::ifstream in(file);
  auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const bool quick = argc > 1 && std::string_view(argv[1]) == "--quick";
  const int seconds = quick ? 10 : 20;
  bench::Report report;
  try {
    TempDir dir("hyphae-mixnet-bench-");
    const auto binary = std::filesystem::canonical("/proc/self/exe").parent_path().parent_path() / "hyphae";
    const auto registry_id = Identity::load_or_create(dir.path() / "registry-id");
    if (!registry_id) throw std::runtime_error("no registry identity");
    LocalRegistry registry(binary, dir.path() / "registry", "sqlite:" + (dir.path() / "registry.db").string(),
                           {"--mix-identity", (dir.path() / "registry-id").string(), "--mix-epoch", "600"});
    registry.start();
    const auto token = registry.create_token("bench");
    std::vector<ChildProcess> mixes;
    std::vector<std::filesystem::path> status;
    for (int layer = 1; layer <= 3; ++layer) {
      status.push_back(local_mixnode_status(dir.path(), "bench", layer));
      mixes.push_back(start_local_mixnode(binary, dir.path(), registry, registry_id->peer_id(), token,
                                          "bench", layer, 600));
    }
    for (const auto& s : status)
      if (!wait_until([&] { return read_status(s).value("topology_mixes", 0) == 3; },
                      std::chrono::seconds(30)))
        throw std::runtime_error("the mixes did not see each other");
    // An idle node in the same network, with the transport's defaults.
    const auto node_config = dir.path() / "idle-node.yaml";
    {
      std::ofstream out(node_config);
      out << "transport:\n  betanet:\n    type: betanet\n    registry: " << registry.url()
          << "\n    registry_peer: " << registry_id->peer_id().to_string() << "\n    token: " << token
          << "\n    network: bench\n    epoch_s: 600\n";
    }
    LocalNode idle("idle", binary, dir.path() / "idle-node");
    idle.set_config_file(node_config);
    idle.start();
    const auto mixnet_of = [&] {
      const auto body = idle.api().request("GET", "/v1/p2p/transports").body;
      for (const auto& t : body["transports"])
        if (t["name"] == "betanet") return t;
      return nlohmann::json::object();
    };
    if (!wait_until([&] { return mixnet_of().value("available", false); }, std::chrono::seconds(30)))
      throw std::runtime_error("the idle node did not join the mixnet");
    std::vector<std::uint64_t> before;
    for (auto& m : mixes) before.push_back(cpu_ticks(m.pid()));
    const auto idle_before = cpu_ticks(idle.pid());
    const auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double idle_share = static_cast<double>(cpu_ticks(idle.pid()) - idle_before) / tick / elapsed * 100;
    const auto idle_loops = mixnet_of()["mixnet"].value("loops_returned", std::uint64_t{0});
    double worst = 0, sum = 0;
    std::uint64_t loops = 0;
    for (std::size_t i = 0; i < mixes.size(); ++i) {
      const double share = static_cast<double>(cpu_ticks(mixes[i].pid()) - before[i]) / tick / elapsed * 100;
      worst = std::max(worst, share);
      sum += share;
      loops += read_status(status[i]).value("loops_returned", std::uint64_t{0});
    }
    report.add("idle mix node with default cover, CPU (worst of 3)", worst, "% of a core",
               bench::Better::kLower, "target", 2.0, "< 2 %");
    report.add("idle mix node with default cover, CPU (mean of 3)", sum / 3, "% of a core",
               bench::Better::kLower);
    if (loops == 0) throw std::runtime_error("no loop cover came home: the mixes are not mixing");
    report.add("idle node with the betanet transport and default cover, CPU", idle_share, "% of a core",
               bench::Better::kLower, "target", 2.0, "< 2 %");
    if (idle_loops == 0) throw std::runtime_error("the idle node's loop cover did not come home");
    idle.stop();
    report.add("Sphinx packet on the wire for a 100-byte message", static_cast<double>(sphinx::kPacketBytes),
               "bytes", bench::Better::kLower, "the message", 100.0);
    report.add("Sphinx packet on the wire, full body", static_cast<double>(sphinx::kPacketBytes), "bytes",
               bench::Better::kLower, "the body it carries", static_cast<double>(sphinx::kBodyBytes));
    for (auto& m : mixes) m.stop(SIGTERM);
    // End-to-end latency without mixing delay: 2 mixes (3 Sphinx hops with the recipient) and 4
    // mixes (5 hops), beside one direct HTX link.
    const double direct = direct_latency_ms(20);
    const double three = private_latency_ms(binary, dir.path(), registry, *registry_id, 2, 20);
    const double five = private_latency_ms(binary, dir.path(), registry, *registry_id, 4, 20);
    report.add("private message, 3 hops (2 mixes + recipient), no mixing delay, median", three, "ms",
               bench::Better::kLower, "one direct HTX link", direct);
    report.add("private message, 5 hops (4 mixes + recipient), no mixing delay, median", five, "ms",
               bench::Better::kLower, "one direct HTX link", direct);
    const auto [node_private, node_direct] =
        node_round_trip_ms(binary, dir.path(), registry, *registry_id, 20);
    report.add("node to node, privacy anonymous (2 mixes, no delay): send to ack, median", node_private, "ms",
               bench::Better::kLower, "the same over their TCP session", node_direct);
  } catch (const std::exception& e) {
    report.add_failure("mixnet", "", e.what());
  }
  report.print_table();
  report.write_json(std::filesystem::path(HYPHAE_SOURCE_DIR) / "bench/results/mixnet.json");
  return report.has_failures() ? 1 : 0;
}
