// Runs the standard baselines into a Report (see baseline_suite.hpp).
#include "common/baseline_suite.hpp"

#include <fmt/format.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "common/baselines.hpp"

namespace hyphae::bench {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Lowest CPU this thread may run on, or -1.
int first_allowed_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return -1;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) return c;
  return -1;
}

void throughput(Report& report, const std::string& name, int reps, std::ostream* progress,
                const std::function<double()>& measure) {
  std::vector<double> runs;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    try {
      runs.push_back(measure());
    } catch (const std::exception& e) {
      if (progress)
        *progress << fmt::format("[baselines] {} run {}/{}: FAILED: {}\n", name, i + 1, reps, e.what());
      report.add_failure(name, "msg/s", e.what());
      return;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (progress)
      *progress << fmt::format("[baselines] {} run {}/{}: {} msg/s ({:.2f} s)\n", name, i + 1, reps,
                               format_number(runs.back()), secs)
                << std::flush;
  }
  ReportEntry e;
  e.name = name;
  e.value = median(runs);
  e.unit = "msg/s";
  e.runs = std::move(runs);
  report.add(std::move(e));
}

void latency(Report& report, const std::string& base, std::size_t payload, std::size_t round_trips, int cpu,
             std::ostream* progress) {
  try {
    const LatencyStats s = tcp_ping_pong(payload, round_trips, cpu);
    if (progress)
      *progress << fmt::format("[baselines] {}: p50 {:.1f} µs, p99 {:.1f} µs, mean {:.1f} µs ({} samples)\n",
                               base, s.p50_us, s.p99_us, s.mean_us, s.samples)
                << std::flush;
    report.add(base + "_p50", s.p50_us, "µs", Better::kLower);
    report.add(base + "_p99", s.p99_us, "µs", Better::kLower);
    report.add(base + "_mean", s.mean_us, "µs", Better::kLower);
  } catch (const std::exception& e) {
    if (progress) *progress << fmt::format("[baselines] {}: FAILED: {}\n", base, e.what());
    for (const char* suffix : {"_p50", "_p99", "_mean"}) {
      ReportEntry f;
      f.name = base + suffix;
      f.unit = "µs";
      f.better = Better::kLower;
      f.error = e.what();
      report.add(std::move(f));
    }
  }
}

}  // namespace

BaselineConfig BaselineConfig::quick() {
  BaselineConfig c;
  c.zmq_64_count = 1'000'000;
  c.zmq_1k_count = 300'000;
  c.mqtt_count = 30'000;
  c.ping_pong_round_trips = 10'000;
  c.repetitions = 1;
  return c;
}

void run_baseline_suite(Report& report, const BaselineConfig& c, std::ostream* progress) {
  const int reps = std::max(1, c.repetitions);
  throughput(report, "zmq_push_pull_64B", reps, progress,
             [&] { return zmq_push_pull_msgs_per_s(64, c.zmq_64_count); });
  throughput(report, "zmq_push_pull_1KiB", reps, progress,
             [&] { return zmq_push_pull_msgs_per_s(1024, c.zmq_1k_count); });
  throughput(report, "mosquitto_qos1_64B", reps, progress,
             [&] { return mosquitto_qos1_msgs_per_s(64, c.mqtt_count); });
  throughput(report, "mosquitto_qos1_1KiB", reps, progress,
             [&] { return mosquitto_qos1_msgs_per_s(1024, c.mqtt_count); });
  latency(report, "tcp_ping_pong_64B", 64, c.ping_pong_round_trips, -1, progress);
  if (c.pinned_ping_pong) {
    const int cpu = first_allowed_cpu();
    if (cpu >= 0) latency(report, "tcp_ping_pong_64B_pinned", 64, c.ping_pong_round_trips, cpu, progress);
  }
}

}  // namespace hyphae::bench
