// The standard set of same-run baselines (ZeroMQ 64 B / 1 KiB, mosquitto QoS 1 64 B / 1 KiB, TCP
// ping-pong 64 B unpinned and pinned) run into a Report under stable entry names, so that the
// baselines program and node_bench measure and name them identically.
// Thread-safety: as for baselines.hpp (forks children; call from one thread at a time).
// Ownership: writes entries into the caller's Report; owns nothing after returning.
#pragma once

#include <cstddef>
#include <iosfwd>

#include "common/report.hpp"

namespace hyphae::bench {

struct BaselineConfig {
  std::size_t zmq_64_count = 5'000'000;  // ≈1 s each at ≈5 M msg/s
  std::size_t zmq_1k_count = 2'000'000;  // ≈2 s each at ≈1 M msg/s
  std::size_t mqtt_count = 100'000;      // per payload size; ≈2 s each at ≈56 k msg/s
  std::size_t ping_pong_round_trips = 30'000;
  int repetitions = 3;           // throughput figures are the median of this many runs
  bool pinned_ping_pong = true;  // also measure ping-pong with both ends on one CPU

  // Small counts for a smoke run (whole suite well under 10 s).
  static BaselineConfig quick();
};

// Entry names (value units): zmq_push_pull_64B, zmq_push_pull_1KiB, mosquitto_qos1_64B,
// mosquitto_qos1_1KiB (msg/s, median of `repetitions` runs, each run in ReportEntry::runs);
// tcp_ping_pong_64B_{p50,p99,mean} and, if pinned, tcp_ping_pong_64B_pinned_{p50,p99,mean} (µs).
// A failing measurement becomes a failed entry (Report::add_failure); the others still run.
// Progress lines go to `progress` when it is non-null.
void run_baseline_suite(Report& report, const BaselineConfig& config, std::ostream* progress);

}  // namespace hyphae::bench
