// webrtc_bench: the WebRTC transport beside Chromium's own data channels, in the same run.
//   durable acked 64 KiB messages from this process to a `hyphae node` over the webrtc transport
//   (Noise inside a reliable data channel, negotiated through `hyphae signal`), MB/s
//     vs  Chromium to Chromium: one reliable data channel between two RTCPeerConnections in one
//         page on this machine, raw 64 KiB messages, MB/s                       target >= 1x
//   join room -> first message between two browsers (signaling, offer/answer, ICE, DTLS, SCTP,
//   Noise, one acked message), ms                                                target <= 500 ms
// Usage: webrtc_bench [--quick]. Writes bench/results/webrtc.json. The browser figures need
// Chromium (scripts/setup.sh installs it) and tests/js's npm packages.
#include <spdlog/spdlog.h>

#include <fstream>
#include <string_view>

#include "common/in_process_node.hpp"
#include "common/report.hpp"
#include "testnet/local_node.hpp"
#include "testnet/local_registry.hpp"
#include "testnet/process.hpp"

using namespace hyphae;

namespace {

const std::filesystem::path kSource(HYPHAE_SOURCE_DIR);

std::filesystem::path binary() {
  return std::filesystem::canonical("/proc/self/exe").parent_path().parent_path() / "hyphae";
}

struct Signal {
  TempDir dir{"hyphae-webrtc-bench-signal-"};
  ChildProcess process;
  unsigned short port = 0;
  Signal() {
    const auto file = dir.path() / "port";
    process = ChildProcess(binary(), {"signal", "--listen", "127.0.0.1:0", "--port-file", file.string()},
                           dir.path() / "signal.log");
    if (!wait_until([&] { return std::filesystem::exists(file) && std::filesystem::file_size(file) > 0; },
                    std::chrono::seconds(10)))
      throw std::runtime_error("hyphae signal did not start");
    std::ifstream(file) >> port;
  }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port); }
};

// The browser script's JSON, or why not.
nlohmann::json browser_figures(const std::string& args) {
  std::string out;
  const int rc = run_command("node '" + (kSource / "tests/js/bench_webrtc.mjs").string() + "' " + args + " 2>&1", out);
  const auto brace = out.find('{');
  if (brace == std::string::npos) throw std::runtime_error("bench_webrtc.mjs: " + out);
  auto j = nlohmann::json::parse(out.substr(brace), nullptr, false);
  if (rc == 77) throw std::runtime_error("Chromium cannot start: " + out);
  if (rc != 0 || j.is_discarded() || j.contains("error")) throw std::runtime_error("bench_webrtc.mjs: " + out);
  return j;
}

void throughput(bench::Report& report, const Signal& signal, bool quick) {
  TempDir dir("hyphae-webrtc-bench-");
  const auto bob_config = dir.path() / "bob.yaml";
  std::ofstream(bob_config) << "max_inbox_per_peer: 1000000\nmax_inbox_messages: 2000000\nmdns: false\n"
                            << "transport:\n  rtc:\n    type: webrtc\n    signal: " << signal.url()
                            << "\n    interfaces: [127.0.0.1]\n";
  LocalNode bob("bob", binary(), dir.path() / "bob", {"--no-hole-punching"});
  bob.set_config_file(bob_config);
  bob.start();
  const auto bob_id = *PeerId::from_string(bob.peer_id());

  NodeConfig c;
  c.data_dir = dir.path() / "alice";
  c.log_level = "warn";
  c.hole_punching = false;
  c.mdns = false;
  c.transports["rtc"].options = {{"type", "webrtc"}, {"signal", signal.url()}, {"interfaces", "127.0.0.1"}};
  bench::InProcessNode alice(c);
  const std::string address = "rtc=/ip4/127.0.0.1/tcp/" + std::to_string(signal.port) + "/ws/p2p-webrtc-star";
  alice.on([&] { alice.node().add_peer(bob_id, {address}, [](std::error_code) {}); });
  alice.stream(bob_id, "rtc", 1024, 10, std::chrono::seconds(30));  // dials and warms up
  if (!alice.session(bob_id, "rtc")) throw std::runtime_error("no WebRTC session to bob");

  const std::size_t size = 64 * 1024, count = quick ? 200 : 1000;
  const int rounds = quick ? 1 : 3;
  const std::uint64_t browser_bytes = quick ? 32ull << 20 : 128ull << 20;
  std::vector<double> ours, chromium;
  for (int r = 0; r < rounds; ++r) {
    ours.push_back(double(size) * count / alice.stream(bob_id, "rtc", size, count) / 1e6);
    chromium.push_back(browser_figures("channel " + std::to_string(browser_bytes))["mbps"].get<double>());
  }
  report.add(bench::median_entry("webrtc node->node durable 64 KiB", ours, "MB/s",
                                 "Chromium->Chromium data channel", chromium, ">= 1x"));
}

void join_to_first_message(bench::Report& report, const Signal& signal, bool quick) {
  const auto j = browser_figures("join " + signal.url() + " " + (quick ? "3" : "7"));
  std::vector<double> ms = j["ms"].get<std::vector<double>>();
  bench::ReportEntry e;
  e.name = "join room -> first message (two browsers)";
  e.value = bench::median(ms);
  e.unit = "ms";
  e.better = bench::Better::kLower;
  e.target = "<= 500 ms";
  e.runs = ms;
  report.add(e);
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const bool quick = argc > 1 && std::string_view(argv[1]) == "--quick";
  bench::Report report;
  try {
    Signal signal;
    try {
      throughput(report, signal, quick);
    } catch (const std::exception& e) {
      report.add_failure("webrtc node->node durable 64 KiB", "MB/s", e.what());
    }
    try {
      join_to_first_message(report, signal, quick);
    } catch (const std::exception& e) {
      report.add_failure("join room -> first message (two browsers)", "ms", e.what());
    }
  } catch (const std::exception& e) {
    report.add_failure("webrtc", "", e.what());
  }
  report.print_table();
  report.write_json(kSource / "bench/results/webrtc.json");
  return report.has_failures() ? 1 : 0;
}
