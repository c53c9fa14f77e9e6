// Registry benchmark: a `hyphae registry` process over HTTP against the same queries issued straight
// to its database (RegistryDb in this process), on SQLite and on PostgreSQL (a throwaway server
// started with tests/services/pg_fixture.sh; skipped with the reason when it cannot start).
//   announces/s:  10 000 signed records announced from 4 keep-alive clients, vs RegistryDb::announce
//                 of the same rows from 2 threads (the registry's worker count)
//   lookups/s:    random peer lookups in the 10 000-peer table, 4 clients, vs RegistryDb::peer
//   lookup p50/p99 latency (one request at a time) in the 10 000-peer table
// Target: the service costs at most 2x the bare queries (ratio >= 0.5). Usage: registry_bench [--quick]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string_view>
#include <thread>

#include "api/client.hpp"
#include "api/node_views.hpp"
#include "common/report.hpp"
#include "core/identity.hpp"
#include "discovery/multiaddr.hpp"
#include "discovery/peer_record.hpp"
#include "registry/registry_db.hpp"
#include "registry/registry_service.hpp"
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

std::filesystem::path hyphae_binary() {
  return std::filesystem::canonical("/proc/self/exe").parent_path().parent_path() / "hyphae";
}

struct Peer {
  std::string id;
  std::string envelope_base64;
  registry::PeerRow row;
};

std::vector<Peer> make_peers(std::size_t n) {
  std::vector<Peer> out;
  out.reserve(n);
  const auto now = wall_ms();
  for (std::size_t i = 0; i < n; ++i) {
    const auto who = Identity::generate();
    discovery::PeerRecord r;
    r.peer = who.peer_id();
    r.seq = now;
    r.expires_ms = now + 3600'000;
    r.addresses.push_back(*discovery::multiaddr_from_text("/ip4/10.0." + std::to_string(i / 250) + "." +
                                                          std::to_string(i % 250) + "/tcp/4001"));
    r.services = {"messaging"};
    Peer p;
    p.id = r.peer.to_string();
    p.envelope_base64 = base64_encode(*discovery::seal_peer_record(who, r));
    p.row = registry::PeerRow{
        "bench", p.id, r.seq, p.envelope_base64, "BASIC", "", api::to_json(r).dump(), r.expires_ms, now};
    out.push_back(std::move(p));
  }
  return out;
}

// Runs `work(thread, index)` for indices [0, n) split over `threads` threads; returns seconds.
template <typename F>
double parallel(std::size_t threads, std::size_t n, F work) {
  std::atomic<std::size_t> next{0};
  const auto start = BenchClock::now();
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (std::size_t i; (i = next.fetch_add(1)) < n;) work(t, i);
    });
  for (auto& th : pool) th.join();
  return std::chrono::duration<double>(BenchClock::now() - start).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

void run_backend(bench::Report& report, const std::string& backend, const std::string& db_url,
                 const std::filesystem::path& dir, const std::vector<Peer>& peers, std::size_t lookups) {
  const auto n = peers.size();
  // Bare database: the same rows, the same lookups, two connections (the server's worker count).
  std::vector<std::unique_ptr<registry::RegistryDb>> dbs;
  std::string bare_url = db_url;
  if (backend == "sqlite")
    bare_url = "sqlite:" + (dir / "bare.db").string();
  else
    bare_url = create_test_database(db_url, "bench_bare");
  for (int i = 0; i < 2; ++i) dbs.push_back(registry::open_registry_db(bare_url));
  const double bare_announce_s =
      parallel(2, n, [&](std::size_t t, std::size_t i) { dbs[t]->announce(peers[i].row); });
  std::mt19937_64 rng(7);
  std::vector<std::size_t> order(lookups);
  for (auto& o : order) o = rng() % n;
  const auto now = wall_ms();
  const double bare_lookup_s = parallel(2, lookups, [&](std::size_t t, std::size_t i) {
    (void)dbs[t]->peer("bench", peers[order[i]].id, now);
  });

  // The service: a registry process, HTTP keep-alive clients.
  std::string served_url = db_url;
  if (backend == "sqlite")
    served_url = "sqlite:" + (dir / "served.db").string();
  else
    served_url = create_test_database(db_url, "bench_served");
  LocalRegistry server(hyphae_binary(), dir / ("registry-" + backend), served_url,
                       {"--rate", "1000000000", "--burst", "1000000000", "--threads", "2"});
  server.start();
  const auto token = server.create_token("bench");
  std::vector<std::unique_ptr<ApiClient>> clients;
  for (int i = 0; i < 4; ++i)
    clients.push_back(std::make_unique<ApiClient>(ApiEndpoint{"127.0.0.1", server.port(), token, {}}));
  std::atomic<std::size_t> failures{0};
  const double announce_s = parallel(4, n, [&](std::size_t t, std::size_t i) {
    auto r = clients[t]->request("POST", "/network/bench/announce",
                                 nlohmann::json{{"envelope_base64", peers[i].envelope_base64}});
    if (r.status != 201) ++failures;
  });
  const double lookup_s = parallel(4, lookups, [&](std::size_t t, std::size_t i) {
    auto r = clients[t]->request("GET", "/network/bench/peer/" + peers[order[i]].id);
    if (r.status != 200) ++failures;
  });
  std::vector<double> latencies_us;
  for (std::size_t i = 0; i < std::min<std::size_t>(lookups, 5000); ++i) {
    const auto t0 = BenchClock::now();
    auto r = clients[0]->request("GET", "/network/bench/peer/" + peers[order[i]].id);
    latencies_us.push_back(std::chrono::duration<double, std::micro>(BenchClock::now() - t0).count());
    if (r.status != 200) ++failures;
  }
  if (failures) {
    report.add_failure("registry_" + backend, "", std::to_string(failures.load()) + " requests failed");
    return;
  }
  report.add("registry_" + backend + "_announces", static_cast<double>(n) / announce_s, "announce/s",
             bench::Better::kHigher, "bare " + backend + " upserts", static_cast<double>(n) / bare_announce_s,
             ">= 0.5x");
  report.add("registry_" + backend + "_lookups", static_cast<double>(lookups) / lookup_s, "lookup/s",
             bench::Better::kHigher, "bare " + backend + " selects",
             static_cast<double>(lookups) / bare_lookup_s, ">= 0.5x");
  report.add("registry_" + backend + "_lookup_p50", percentile(latencies_us, 0.5), "µs",
             bench::Better::kLower);
  report.add("registry_" + backend + "_lookup_p99", percentile(latencies_us, 0.99), "µs",
             bench::Better::kLower, {}, {}, std::to_string(n) + "-peer table");
  server.stop();
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string_view(argv[1]) == "--quick";
  const std::size_t n = quick ? 2000 : 10'000;
  const std::size_t lookups = quick ? 5000 : 40'000;
  std::printf("registry_bench: %zu signed records, %zu lookups per backend\n", n, lookups);
  const auto peers = make_peers(n);
  bench::Report report;
  TempDir dir("hyphae-registry-bench-");
  try {
    run_backend(report, "sqlite", "", dir.path(), peers, lookups);
  } catch (const std::exception& e) {
    report.add_failure("registry_sqlite", "", e.what());
  }
  // PostgreSQL: a throwaway server, as the tests start it.
  const auto pg_dir =
      std::filesystem::temp_directory_path() / ("hyphae-pg-bench-" + std::to_string(::getpid()));
  const auto script = std::filesystem::path(HYPHAE_SOURCE_DIR) / "tests/services/pg_fixture.sh";
  std::string out;
  run_command("bash '" + script.string() + "' start '" + pg_dir.string() + "'", out);
  ::setenv("HYPHAE_TEST_PG_DIR", pg_dir.c_str(), 1);
  std::string why;
  if (auto url = test_postgresql_url(&why)) {
    try {
      run_backend(report, "postgresql", *url, dir.path(), peers, lookups);
    } catch (const std::exception& e) {
      report.add_failure("registry_postgresql", "", e.what());
    }
  } else {
    std::printf("registry_bench: PostgreSQL skipped: %s\n", why.c_str());
  }
  run_command("bash '" + script.string() + "' stop '" + pg_dir.string() + "'", out);
  report.print_table();
  report.write_json(std::filesystem::path(HYPHAE_SOURCE_DIR) / "bench/results/registry.json");
  return report.has_failures() ? 1 : 0;
}
