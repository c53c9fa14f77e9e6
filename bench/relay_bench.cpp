// relay_bench: circuit relaying on loopback, beside a direct session in the same run.
//   durable acked messages/s (1 KiB) from Alice to Carol over Bob's relay  vs  Alice to Bob direct
//   bytes/s of 64 KiB messages, the same two ways
//   the relay's state per circuit with 10 000 circuits open (RSS growth of a RelayCore holding them)
// Bob (super peer) and Carol run as `hyphae node` processes; Alice runs in this process. Carol's
// only address at Alice is "through Bob", so her session is relayed (hole punching off); Bob's is
// a plain TCP link. Both durable streams are acked end to end.
// Target: relayed throughput >= 0.5x direct; 10 k circuits at <= 20 KiB each.
// Usage: relay_bench [--quick]. Writes bench/results/relay.json.
#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <set>
#include <string_view>
#include <thread>

#include "common/in_process_node.hpp"
#include "common/report.hpp"
#include "core/identity.hpp"
#include "node/node.hpp"
#include "relay/relay_core.hpp"
#include "testnet/local_node.hpp"

using namespace hyphae;
namespace asio = boost::asio;
using BenchClock = std::chrono::steady_clock;

namespace {

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// Alice: the sender, in this process (no hole punching, no mDNS).
std::unique_ptr<bench::InProcessNode> make_alice(const std::filesystem::path& dir) {
  NodeConfig c;
  c.data_dir = dir;
  c.log_level = "warn";
  c.hole_punching = false;
  c.mdns = false;
  return std::make_unique<bench::InProcessNode>(c);
}

void throughput(bench::Report& report, bool quick) {
  TempDir dir("hyphae-relay-bench-");
  const auto binary = std::filesystem::canonical("/proc/self/exe").parent_path().parent_path() / "hyphae";
  // Bob lets one circuit carry everything the runs send (the default ends a circuit at 256 MiB);
  // both receivers keep every message unacknowledged by an app without hitting the inbox quotas.
  const std::string inbox = "max_inbox_per_peer: 1000000\nmax_inbox_messages: 2000000\n";
  const auto bob_config = dir.path() / "bob.yaml", carol_config = dir.path() / "carol.yaml";
  std::ofstream(bob_config) << inbox << "relay:\n  max_circuit_bytes: 1099511627776\n";
  std::ofstream(carol_config) << inbox;
  LocalNode bob("bob", binary, dir.path() / "bob", {"--role", "super_peer", "--no-hole-punching"});
  bob.set_config_file(bob_config);
  bob.start();
  LocalNode carol("carol", binary, dir.path() / "carol",
                  {"--peer", bob.peer_id() + "@" + bob.address(), "--no-hole-punching"});
  carol.set_config_file(carol_config);
  carol.start();
  if (!wait_until(
          [&] {
            return carol.api().request("GET", "/v1/p2p/discovery").body["relay"]["reserved_at"].size() == 1;
          },
          std::chrono::seconds(20)))
    throw std::runtime_error("carol got no reservation at bob");
  const auto bob_id = *PeerId::from_string(bob.peer_id());
  const auto carol_id = *PeerId::from_string(carol.peer_id());
  auto alice_node = make_alice(dir.path() / "alice");
  auto& alice = *alice_node;
  alice.on([&] {
    alice.node().add_peer(bob_id, {bob.address()}, [](std::error_code) {});
    alice.node().add_peer(carol_id, {"relay=" + bob.peer_id()}, [](std::error_code) {});
  });
  if (!wait_until([&] { return alice.session(carol_id, "relay") && alice.session(bob_id, "tcp"); },
                  std::chrono::seconds(20)))
    throw std::runtime_error("the relayed session to carol did not come up");
  alice.on_failure = [&] {
    std::fprintf(stderr, "bob: %s\ncarol: %s\n",
                 bob.api().request("GET", "/v1/p2p/discovery").body["relay"].dump().c_str(),
                 carol.api().request("GET", "/v1/p2p/status").body.dump().c_str());
    std::fprintf(stderr, "carol connections: %s\n",
                 carol.api().request("GET", "/v1/p2p/connections").body.dump().c_str());
  };
  // Warm-up, then alternating runs so both see the same machine.
  alice.stream(carol_id, "relay", 1024, 200);
  alice.stream(bob_id, "tcp", 1024, 200);
  std::size_t small = quick ? 2000 : 20'000, large = quick ? 100 : 1000;
  if (const char* n = std::getenv("HYPHAE_RELAY_BENCH_SMALL")) small = std::stoul(n);  // for profiling
  if (const char* n = std::getenv("HYPHAE_RELAY_BENCH_LARGE")) large = std::stoul(n);
  const int rounds = quick ? 1 : 3;
  std::vector<double> relay_msgs, direct_msgs, relay_bytes, direct_bytes;
  for (int r = 0; r < rounds; ++r) {
    relay_msgs.push_back(small / alice.stream(carol_id, "relay", 1024, small));
    direct_msgs.push_back(small / alice.stream(bob_id, "tcp", 1024, small));
    relay_bytes.push_back(large * 65536.0 / alice.stream(carol_id, "relay", 65536, large) / 1e6);
    direct_bytes.push_back(large * 65536.0 / alice.stream(bob_id, "tcp", 65536, large) / 1e6);
  }
  if (!alice.session(carol_id, "relay")) throw std::runtime_error("carol's session left the relay");
  report.add(bench::median_entry("relayed durable 1 KiB", relay_msgs, "msg/s", "direct TCP session",
                                 direct_msgs, ">= 0.5x"));
  report.add(bench::median_entry("relayed durable 64 KiB", relay_bytes, "MB/s", "direct TCP session",
                                 direct_bytes, ">= 0.5x"));
}

void circuits(bench::Report& report, std::size_t count) {
  // 10 000 circuits between 100 sources and 100 reserved targets, each opened and accepted: the
  // relay's whole state for them (it keeps no socket per circuit: they share the peers' links).
  std::vector<PeerId> sources, targets;
  for (int i = 0; i < 100; ++i) {
    sources.push_back(Identity::generate().peer_id());
    targets.push_back(Identity::generate().peer_id());
  }
  relay::RelayLimits limits;
  limits.max_circuits = count;
  limits.max_circuits_per_peer = count;
  limits.request_burst = 1e12;
  const std::size_t before = rss_bytes();
  auto core = std::make_unique<relay::RelayCore>(limits, [](const PeerId&) { return true; });
  relay::RelayCore::Out out;
  relay::RelayMessage reserve;
  reserve.type = relay::RelayType::reserve;
  for (const auto& t : targets) core->on_message(t, reserve, 1, out);
  out.clear();
  for (std::size_t i = 0; i < count; ++i) {
    relay::RelayMessage connect;
    connect.type = relay::RelayType::connect;
    connect.circuit = i + 1;
    connect.peer = targets[i % targets.size()];
    core->on_message(sources[i % sources.size()], connect, 1, out);
    auto incoming = relay::decode_relay_message(out.back().message);
    relay::RelayMessage accept;
    accept.type = relay::RelayType::accept;
    accept.circuit = incoming->circuit;
    core->on_message(targets[i % targets.size()], accept, 1, out);
    out.clear();
  }
  const std::size_t after = rss_bytes();
  if (core->stats().circuits_open != count) throw std::runtime_error("not every circuit opened");
  bench::ReportEntry e;
  e.name = "relay state per circuit (" + std::to_string(count) + " open)";
  e.value = static_cast<double>(after > before ? after - before : 0) / static_cast<double>(count);
  e.unit = "B";
  e.better = bench::Better::kLower;
  e.comparison_name = "budget 20 KiB";
  e.comparison_value = 20 * 1024;
  e.target = ">= 1x";
  report.add(std::move(e));
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const bool quick = argc > 1 && std::string_view(argv[1]) == "--quick";
  bench::Report report;
  try {
    throughput(report, quick);
  } catch (const std::exception& e) {
    report.add_failure("relayed durable", "msg/s", e.what());
  }
  try {
    circuits(report, 10'000);
  } catch (const std::exception& e) {
    report.add_failure("relay state per circuit", "B", e.what());
  }
  report.print_table();
  report.write_json(std::filesystem::path(HYPHAE_SOURCE_DIR) / "bench/results/relay.json");
  return report.has_failures() ? 1 : 0;
}
