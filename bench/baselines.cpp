// baselines: measures the same-run comparison baselines (ZeroMQ PUSH/PULL, mosquitto QoS 1, raw TCP
// ping-pong) on this machine, prints them as a table and writes bench/results/baselines.json.
// Usage: baselines [--quick] [--reps N] [--out PATH]
#include <charconv>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

#include "common/baseline_suite.hpp"
#include "common/report.hpp"

namespace {

void usage(std::ostream& out) {
  out << "usage: baselines [--quick] [--reps N] [--out PATH]\n"
         "  --quick     small counts, one run each (< 10 s)\n"
         "  --reps N    runs per throughput figure, the median is reported (default 3, quick 1)\n"
         "  --out PATH  JSON output (default bench/results/baselines.json, relative to the cwd)\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hyphae::bench;
  BaselineConfig config;
  int reps = -1;
  std::string out = "bench/results/baselines.json";
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--quick") {
      config = BaselineConfig::quick();
    } else if (a == "--reps" && i + 1 < argc) {
      const std::string_view v = argv[++i];
      const auto r = std::from_chars(v.data(), v.data() + v.size(), reps);
      if (r.ec != std::errc() || r.ptr != v.data() + v.size() || reps < 1 || reps > 100) {
        std::cerr << "baselines: --reps wants a number from 1 to 100\n";
        return 2;
      }
    } else if (a == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else if (a == "-h" || a == "--help") {
      usage(std::cout);
      return 0;
    } else {
      std::cerr << "baselines: unknown argument '" << a << "'\n";
      usage(std::cerr);
      return 2;
    }
  }
  if (reps > 0) config.repetitions = reps;

  Report report;
  run_baseline_suite(report, config, &std::cerr);
  std::cout << '\n';
  report.print_table();
  try {
    report.write_json(out);
    std::cout << "wrote " << out << '\n';
  } catch (const std::exception& e) {
    std::cerr << "baselines: " << e.what() << '\n';
    return 1;
  }
  return report.has_failures() ? 1 : 0;
}
