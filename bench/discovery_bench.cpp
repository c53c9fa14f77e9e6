// Discovery step latency on loopback, each beside the step's budget on the documented timeline
// (docs/discovery.md): the time from the start of a search for a PeerId to the moment a step found
// a dialable record for it, when only that step can.
//   cache:       the record is in the store (5 ms budget)
//   peer_query:  a connected neighbour holds the record and answers PEER_QUERY (50 ms)
//   registry:    only a `hyphae registry` process (SQLite) holds it (500 ms)
// Target: every step at least 10x faster than its budget. The coordinators step (200 ms) uses the
// same query as peer_query, sent to the peer's coordinators; a cached record naming coordinators is
// already dialable at the cache step (through them), so that step is not measured on its own.
// Two nodes run in this process on one io_context; the searched-for peers are records only.
// Usage: discovery_bench [--quick]
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <string_view>

#include "api/client.hpp"
#include "common/report.hpp"
#include "core/identity.hpp"
#include "discovery/multiaddr.hpp"
#include "discovery/peer_record.hpp"
#include "node/node.hpp"
#include "testnet/local_node.hpp"
#include "testnet/local_registry.hpp"
#include "util/json_util.hpp"

using namespace hyphae;
using BenchClock = std::chrono::steady_clock;

namespace {

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

struct Target {
  PeerId id;
  Bytes record;
};

// A PeerId with a signed record pointing at a closed loopback port: found, never connected.
Target make_target() {
  const auto who = Identity::generate();
  discovery::PeerRecord r;
  r.peer = who.peer_id();
  r.seq = wall_ms();
  r.expires_ms = r.seq + 3600'000;
  r.addresses.push_back(*discovery::multiaddr_from_text("/ip4/127.0.0.1/tcp/9"));
  return Target{r.peer, *discovery::seal_peer_record(who, r)};
}

struct Net {
  boost::asio::io_context io;
  TempDir dir{"hyphae-discovery-bench-"};
  std::unique_ptr<Node> alice, carol;

  explicit Net(const std::string& registry_url = {}, const std::string& token = {}) {
    auto config = [&](const char* name) {
      NodeConfig c;
      c.data_dir = dir.path() / name;
      c.log_level = "off";
      c.registry_url = registry_url;
      c.registry_network = "bench";
      c.registry_token = token;
      return c;
    };
    auto a = Node::create(io.get_executor(), config("alice"));
    auto c = Node::create(io.get_executor(), config("carol"));
    if (!a || !c) throw std::runtime_error(a ? c.error() : a.error());
    alice = std::move(*a);
    carol = std::move(*c);
    on(*carol, [&] { carol->start(); });
    on(*alice, [&] { alice->start(); });
  }
  ~Net() {
    on(*alice, [&] { alice->stop(); });
    on(*carol, [&] { carol->stop(); });
    io.run_for(std::chrono::milliseconds(50));
  }
  template <typename F>
  void on(Node& node, F f) {
    bool done = false;
    boost::asio::post(node.executor(), [&] {
      f();
      done = true;
    });
    while (!done) io.run_one_for(std::chrono::milliseconds(10));
  }
  void link() {
    std::uint16_t port = 0;
    on(*carol, [&] { port = carol->listen_port(); });
    const auto carol_id = carol->peer_id();
    on(*alice,
       [&] { alice->add_peer(carol_id, {"127.0.0.1:" + std::to_string(port)}, [](std::error_code) {}); });
    const auto deadline = BenchClock::now() + std::chrono::seconds(10);
    for (;;) {
      std::size_t records = 0;
      on(*carol, [&] { records = carol->discovery_counters().records_learned; });
      if (records >= 1) break;  // alice's session is up and her record arrived
      if (BenchClock::now() > deadline) throw std::runtime_error("alice and carol did not connect");
      io.run_for(std::chrono::milliseconds(1));
    }
  }
  void learn(Node& node, const Target& t) {
    bool done = false;
    on(node, [&] {
      node.learn_record(t.record, "bench", [&](auto r) {
        if (!r) throw std::runtime_error("record refused: " + r.error().message());
        done = true;
      });
    });
    while (!done) io.run_one_for(std::chrono::milliseconds(10));
  }
  // Microseconds from find() to a step having found `t`, and which step it was.
  std::pair<double, std::string> find(const Target& t) {
    const auto start = BenchClock::now();
    std::string found_by;
    on(*alice, [&] { found_by = alice->find(t.id).found_by; });
    while (found_by.empty()) {
      io.poll();
      on(*alice, [&] { found_by = alice->discovery_view(t.id).found_by; });
      if (BenchClock::now() - start > std::chrono::seconds(5)) {
        std::string why;
        on(*alice, [&] {
          for (const auto& s : alice->discovery_view(t.id).steps)
            why += " " + s.step + ": " + s.outcome + ";";
        });
        on(*carol, [&] {
          const auto& c = carol->discovery_counters();
          why += " carol: received " + std::to_string(c.queries_received) + " answered " +
                 std::to_string(c.queries_answered) + " dropped " + std::to_string(c.queries_dropped);
        });
        on(*alice, [&] {
          const auto& c = alice->discovery_counters();
          why += " alice: sent " + std::to_string(c.queries_sent) + " answers " +
                 std::to_string(c.answers_received) + " refused " + std::to_string(c.records_refused);
        });
        throw std::runtime_error("not found in 5 s:" + why);
      }
    }
    return {std::chrono::duration<double, std::micro>(BenchClock::now() - start).count(), found_by};
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void measure(bench::Report& report, const std::string& step, double budget_ms, int trials,
             const std::function<Target()>& prepare, Net& net) {
  std::vector<double> runs;
  for (int i = 0; i < trials; ++i) {
    auto t = prepare();
    auto [us, found_by] = net.find(t);
    if (found_by != step) {
      report.add_failure("discovery_" + step, "ms", "found by " + found_by + ", not " + step);
      return;
    }
    runs.push_back(us / 1000);
  }
  bench::ReportEntry e;
  e.name = "discovery_" + step + "_found";
  e.value = median(runs);
  e.unit = "ms";
  e.better = bench::Better::kLower;
  e.comparison_name = "budget";
  e.comparison_value = budget_ms;
  e.target = ">= 10x";
  e.runs = runs;
  report.add(std::move(e));
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string_view(argv[1]) == "--quick";
  const int trials = quick ? 5 : 25;
  bench::Report report;
  try {
    Net net;
    measure(
        report, "cache", 5, trials,
        [&] {
          auto t = make_target();
          net.learn(*net.alice, t);
          return t;
        },
        net);
  } catch (const std::exception& e) {
    report.add_failure("discovery_cache", "ms", e.what());
  }
  try {
    // A fresh pair: the cache step's searches go on (their addresses never answer) and would
    // spend carol's query allowance.
    Net net;
    net.link();
    measure(
        report, "peer_query", 50, trials,
        [&] {
          // Under carol's per-neighbour query rate (5 a second): one search every 250 ms.
          net.io.run_for(std::chrono::milliseconds(250));
          auto t = make_target();
          net.learn(*net.carol, t);
          return t;
        },
        net);
  } catch (const std::exception& e) {
    report.add_failure("discovery_peer_query", "ms", e.what());
  }
  try {
    TempDir dir("hyphae-discovery-bench-registry-");
    LocalRegistry registry(
        std::filesystem::canonical("/proc/self/exe").parent_path().parent_path() / "hyphae", dir.path(),
        "sqlite:" + (dir.path() / "r.db").string());
    registry.start();
    const auto token = registry.create_token("bench");
    ApiClient client(ApiEndpoint{"127.0.0.1", registry.port(), token, {}});
    Net net(registry.url(), token);
    measure(
        report, "registry", 500, trials,
        [&] {
          auto t = make_target();
          auto r = client.request("POST", "/network/bench/announce",
                                  nlohmann::json{{"envelope_base64", base64_encode(t.record)}});
          if (r.status != 201) throw std::runtime_error("announce failed: " + r.raw);
          return t;
        },
        net);
  } catch (const std::exception& e) {
    report.add_failure("discovery_registry", "ms", e.what());
  }
  report.print_table();
  report.write_json(std::filesystem::path(HYPHAE_SOURCE_DIR) / "bench/results/discovery.json");
  return report.has_failures() ? 1 : 0;
}
