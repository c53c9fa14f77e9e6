// qos_bench: the cost of the QoS scheduler (src/qos/scheduler.hpp) per operation, in process.
//   steady push+pop, 1000 peers, ~4000 items queued in one class (round-robin over 1000 peers)
//   steady push+pop, 1000 peers, default capacities, random class (includes 429 rejections)
//   EMERGENCY push that evicts the oldest LOW item, + pop
// Prints ns per push+pop pair (median of 5 runs). `--quick` runs small counts.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "qos/scheduler.hpp"

using hyphae::qos::Config;
using hyphae::qos::Item;
using hyphae::qos::Priority;
using hyphae::qos::Scheduler;
using BenchClock = std::chrono::steady_clock;

namespace {

constexpr std::uint64_t kPeers = 1000;

// Deterministic pseudo-random peers and classes, computed before timing.
std::vector<std::uint64_t> sequence(std::size_t n, std::uint64_t modulo, std::uint64_t seed) {
  std::vector<std::uint64_t> out(n);
  std::uint64_t x = seed;
  for (auto& v : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v = x % modulo;
  }
  return out;
}

volatile std::uint64_t g_sink = 0;

template <typename Body>
double median_ns_per_op(std::size_t ops, Body body) {
  std::vector<double> runs;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = BenchClock::now();
    const std::uint64_t sink = body();
    const auto t1 = BenchClock::now();
    g_sink = g_sink + sink;
    runs.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(ops));
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

double steady_one_class(std::size_t ops) {
  Config config;
  config.capacity = {10, 50, 4096, 500};
  const std::vector<std::uint64_t> peers = sequence(ops, kPeers, 0x9e3779b97f4a7c15ull);
  Scheduler s(config);
  for (std::uint64_t i = 0; i < 4000; ++i) s.push({i, i % kPeers, 256}, Priority::normal);
  std::uint64_t id = 4000;
  return median_ns_per_op(ops, [&] {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < ops; ++i) {
      s.push({id++, peers[i], 256}, Priority::normal);
      sum += s.pop()->peer;
    }
    return sum;
  });
}

double steady_mixed(std::size_t ops, std::uint64_t& rejected) {
  const std::vector<std::uint64_t> peers = sequence(ops, kPeers, 0x2545f4914f6cdd1dull);
  const std::vector<std::uint64_t> classes = sequence(ops, 4, 0x1234567887654321ull);
  Scheduler s;  // 10 / 50 / 200 / 500
  for (std::uint64_t i = 0; i < 700; ++i) s.push({i, i % kPeers, 256}, static_cast<Priority>(2 + i % 2));
  std::uint64_t id = 700;
  const double ns = median_ns_per_op(ops, [&] {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < ops; ++i) {
      // Two pushes per pop keep the classes near full, so the rejection path is exercised too.
      s.push({id++, peers[i], 256}, static_cast<Priority>(classes[i]));
      s.push({id++, peers[ops - 1 - i], 256}, static_cast<Priority>(classes[ops - 1 - i]));
      if (auto it = s.pop()) sum += it->id;
    }
    return sum;
  });
  for (Priority p : hyphae::qos::kAllPriorities) rejected += s.stats().of(p).rejected;
  return ns;
}

double emergency_eviction(std::size_t ops) {
  const std::vector<std::uint64_t> peers = sequence(ops, kPeers, 0xdeadbeefcafef00dull);
  Scheduler s;
  std::uint64_t id = 0;
  for (std::uint64_t i = 0; i < 500; ++i) s.push({id++, i % kPeers, 256}, Priority::low);
  for (std::uint64_t i = 0; i < 10; ++i) s.push({id++, i, 256}, Priority::emergency);
  return median_ns_per_op(ops, [&] {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < ops; ++i) {
      // EMERGENCY is full: this push evicts the oldest LOW item; refill LOW from the victim, pop one.
      auto r = s.push({id++, peers[i], 256}, Priority::emergency);
      if (r.evicted) {
        sum += r.evicted->id;
        s.pop();  // an EMERGENCY item leaves; LOW regains its slot
        s.push({id++, r.evicted->peer, 256}, Priority::low);  // caller re-stores the victim
      }
    }
    return sum;
  });
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const std::size_t ops = quick ? 100'000 : 2'000'000;
  std::uint64_t rejected = 0;
  const double a = steady_one_class(ops);
  const double b = steady_mixed(ops, rejected);
  const double c = emergency_eviction(ops);
  std::printf("qos scheduler, %llu peers, %zu ops per run, median of 5 runs\n",
              static_cast<unsigned long long>(kPeers), ops);
  std::printf("  %-58s %8.1f ns/op\n", "push+pop, one class, ~4000 queued (1000 peers active)", a);
  std::printf("  %-58s %8.1f ns/op\n", "2 push+1 pop, default capacities, random class", b);
  std::printf("  %-58s %8s (%llu rejections with back-pressure)\n", "", "",
              static_cast<unsigned long long>(rejected));
  std::printf("  %-58s %8.1f ns/op\n", "EMERGENCY push evicting oldest LOW + pop + LOW re-push", c);
  return 0;
}
