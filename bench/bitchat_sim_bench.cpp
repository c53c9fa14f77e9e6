// BitChat mesh flood over the radio simulator: 1000 nodes in a random geometric graph
// (BLE-like: at most 8 links per node). Broadcasts from random nodes; for each strategy, delivery
// ratio (nodes that got the message / nodes within the 7-hop TTL horizon), transmissions per
// delivered message, and latency; the same under 20 % node churn. Printed beside naive flooding
// (every node relays every new packet to every link at once) measured in the same run, plus the
// simulator's speed (simulated seconds per wall second). Usage: bitchat_sim_bench [--quick]
// HYPHAE_SIM_VARIANTS=1 first prints the ablation behind docs/bitchat.md: coverage pruning, TTL
// upgrade and jitter, each on and off.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "bitchat/radio_sim.hpp"
#include "common/report.hpp"

using namespace hyphae;
using namespace hyphae::bitchat;

namespace {

struct Result {
  double delivery = 0;      // mean over messages
  double min_delivery = 1;  // worst message
  double tx_per_delivered = 0;
  double p50_ms = 0, p99_ms = 0;
  double sim_seconds_per_wall_second = 0;
};

Result run(const MeshOptions& mesh, std::size_t nodes, int messages, double churn, std::uint64_t seed) {
  RadioOptions ro;
  ro.nodes = nodes;
  ro.range = 0.075;
  ro.seed = seed;
  ro.mesh = mesh;
  RadioSim sim(ro);
  std::mt19937_64 rng(seed * 7 + 3);
  if (churn > 0)
    for (std::size_t i = 0; i < nodes; ++i)
      if (std::uniform_real_distribution<double>(0, 1)(rng) < churn) sim.set_alive(i, false);
  std::map<std::string, std::pair<std::uint64_t, std::vector<bool>>> got;  // payload -> sent at, who
  std::vector<double> latencies;
  sim.on_delivery = [&](std::size_t node, const Packet& p, std::uint64_t at) {
    auto it = got.find(std::string(p.payload.begin(), p.payload.end()));
    if (it == got.end() || it->second.second[node]) return;
    it->second.second[node] = true;
    latencies.push_back(static_cast<double>(at - it->second.first));
  };
  Result r;
  double delivery_sum = 0;
  std::uint64_t delivered_total = 0;
  const auto frames_before = sim.frames_sent();
  const auto wall0 = std::chrono::steady_clock::now();
  const auto sim0 = sim.now();
  for (int m = 0; m < messages; ++m) {
    std::size_t src;
    do src = std::uniform_int_distribution<std::size_t>(0, nodes - 1)(rng);
    while (!sim.alive(src));
    const std::string text = "broadcast " + std::to_string(m);
    got[text] = {sim.now(), std::vector<bool>(nodes, false)};
    Packet p;
    p.type = static_cast<std::uint8_t>(MessageType::message);
    p.sender = sim.id_of(src);
    p.timestamp_ms = 1'000'000 + static_cast<std::uint64_t>(m);
    p.payload.assign(text.begin(), text.end());
    sim.originate(src, p);
    sim.run(sim.now() + 10'000);  // until quiet
    const auto hops = sim.hops_from(src);
    std::size_t horizon = 0, reached = 0;
    for (std::size_t i = 0; i < nodes; ++i) {
      if (i == src || hops[i] > kDefaultTtl) continue;
      ++horizon;
      if (got[text].second[i]) ++reached;
    }
    const double ratio = horizon ? static_cast<double>(reached) / static_cast<double>(horizon) : 1.0;
    delivery_sum += ratio;
    r.min_delivery = std::min(r.min_delivery, ratio);
    delivered_total += reached;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  r.delivery = delivery_sum / messages;
  r.tx_per_delivered = static_cast<double>(sim.frames_sent() - frames_before) /
                       static_cast<double>(std::max<std::uint64_t>(1, delivered_total));
  std::sort(latencies.begin(), latencies.end());
  if (!latencies.empty()) {
    r.p50_ms = latencies[latencies.size() / 2];
    r.p99_ms = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
  }
  r.sim_seconds_per_wall_second = static_cast<double>(sim.now() - sim0) / 1000.0 / wall;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const std::size_t nodes = 1000;
  const int messages = quick ? 5 : 30;
  MeshOptions naive;
  naive.subset_fanout = false;
  naive.coverage_pruning = false;
  naive.ttl_upgrade = false;
  naive.cancel_after_copies = 0;
  naive.jitter = false;
  naive.per_sender_rate = naive.total_rate = 1e9;
  naive.per_sender_burst = naive.total_burst = 1e9;
  MeshOptions ours;
  ours.per_sender_rate = ours.total_rate = 1e9;
  ours.per_sender_burst = ours.total_burst = 1e9;
  if (const char* v = std::getenv("HYPHAE_SIM_VARIANTS")) {
    for (int prune : {0, 1})
      for (int upgrade : {0, 1})
        for (int jitter : {0, 1}) {
          MeshOptions m = ours;
          m.coverage_pruning = prune;
          m.ttl_upgrade = upgrade;
          m.jitter = jitter;
          const auto r = run(m, nodes, messages, 0.0, 11);
          std::printf("prune %d upgrade %d jitter %d: delivery %.4f (min %.4f) tx/delivered %.2f p50 %.0f\n",
                      prune, upgrade, jitter, r.delivery, r.min_delivery, r.tx_per_delivered, r.p50_ms);
        }
    (void)v;
  }
  bench::Report report;
  for (double churn : {0.0, 0.2}) {
    const auto n = run(naive, nodes, messages, churn, 11);
    const auto o = run(ours, nodes, messages, churn, 11);
    const std::string tag = churn > 0 ? " (20 % churn)" : "";
    std::printf("%s naive: delivery %.4f (min %.4f) tx/delivered %.2f p50 %.0f ms p99 %.0f ms\n", tag.c_str(),
                n.delivery, n.min_delivery, n.tx_per_delivered, n.p50_ms, n.p99_ms);
    std::printf(
        "%s mesh:  delivery %.4f (min %.4f) tx/delivered %.2f p50 %.0f ms p99 %.0f ms, %.0f sim s/wall s\n",
        tag.c_str(), o.delivery, o.min_delivery, o.tx_per_delivered, o.p50_ms, o.p99_ms,
        o.sim_seconds_per_wall_second);
    report.add("delivery ratio" + tag, o.delivery, "ratio", bench::Better::kHigher, "naive flooding",
               n.delivery, ">= 0.99");
    report.add("transmissions per delivered" + tag, o.tx_per_delivered, "frames", bench::Better::kLower,
               "naive flooding", n.tx_per_delivered, "<= 0.5x naive (ratio >= 2)");
    report.add("latency p50" + tag, o.p50_ms, "ms", bench::Better::kLower, "naive flooding", n.p50_ms);
    report.add("latency p99" + tag, o.p99_ms, "ms", bench::Better::kLower, "naive flooding", n.p99_ms);
    if (churn == 0) report.add("simulator speed", o.sim_seconds_per_wall_second, "sim s / wall s");
  }
  report.print_table();
  report.write_json(std::filesystem::path(HYPHAE_SOURCE_DIR) / "bench/results/bitchat_sim.json");
  return 0;
}
