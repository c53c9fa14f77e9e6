// mixnet_bench: what an idle mixnet costs. A registry with a mix directory and three `hyphae mixnode`
// processes with the default cover traffic (0.5 loop and 0.5 drop packets a second each, 50 ms mean
// delay); once they see each other, their CPU use over 20 seconds from /proc (user + system time),
// as a share of one core. Target: < 2 % (an idle client of an existing mixnet at 140 % of a core is
// a reported failure). Also the wire cost of one message: a Sphinx packet beside the body it carries.
// Usage: mixnet_bench [--quick] (10 s instead of 20). Writes bench/results/mixnet.json.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <thread>

#include "betanet/sphinx/sphinx.hpp"
#include "common/report.hpp"
#include "core/identity.hpp"
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
      status.push_back(dir.path() / ("mix" + std::to_string(layer) + ".json"));
      mixes.emplace_back(
          binary,
          std::vector<std::string>{"--data", (dir.path() / ("mix" + std::to_string(layer))).string(),
                                   "mixnode", "--registry", registry.url(), "--registry-peer",
                                   registry_id->peer_id().to_string(), "--token", token, "--network", "bench",
                                   "--layer", std::to_string(layer), "--epoch", "600", "--status-file",
                                   status.back().string()},
          dir.path() / ("mix" + std::to_string(layer) + ".log"));
    }
    for (const auto& s : status)
      if (!wait_until([&] { return read_status(s).value("topology_mixes", 0) == 3; },
                      std::chrono::seconds(30)))
        throw std::runtime_error("the mixes did not see each other");
    std::vector<std::uint64_t> before;
    for (auto& m : mixes) before.push_back(cpu_ticks(m.pid()));
    const auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
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
    report.add("Sphinx packet on the wire for a 100-byte message", static_cast<double>(sphinx::kPacketBytes),
               "bytes", bench::Better::kLower, "the message", 100.0);
    report.add("Sphinx packet on the wire, full body", static_cast<double>(sphinx::kPacketBytes), "bytes",
               bench::Better::kLower, "the body it carries", static_cast<double>(sphinx::kBodyBytes));
    for (auto& m : mixes) m.stop(SIGTERM);
  } catch (const std::exception& e) {
    report.add_failure("mixnet", "", e.what());
  }
  report.print_table();
  report.write_json(std::filesystem::path(HYPHAE_SOURCE_DIR) / "bench/results/mixnet.json");
  return report.has_failures() ? 1 : 0;
}
