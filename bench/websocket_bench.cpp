// websocket_bench: the WebSocket transport beside the TCP mesh, in the same run.
//   durable acked messages/s (1 KiB) from this process to a `hyphae node` over ws://  vs  over TCP
//   the same over wss:// (TLS inside the WebSocket)                                   vs  over TCP
// The receiver is one process with three transports (tcp, ws, wss); the sender runs here with the
// same three and addresses the receiver on each, so the only difference is the transport.
// Target: WebSocket messages/s >= 0.7x the TCP mesh's.
// Usage: websocket_bench [--quick]. Writes bench/results/websocket.json.
#include <spdlog/spdlog.h>

#include <fstream>
#include <string_view>

#include "common/in_process_node.hpp"
#include "common/report.hpp"
#include "testnet/local_node.hpp"

using namespace hyphae;

namespace {

std::uint16_t port_of(LocalNode& node, const std::string& transport) {
  const auto body = node.api().request("GET", "/v1/p2p/transports").body;
  for (const auto& t : body["transports"])
    if (t["name"] == transport) return t["listen_port"].get<std::uint16_t>();
  throw std::runtime_error("no transport " + transport);
}

void throughput(bench::Report& report, bool quick) {
  TempDir dir("hyphae-ws-bench-");
  const auto binary = std::filesystem::canonical("/proc/self/exe").parent_path().parent_path() / "hyphae";
  const auto bob_config = dir.path() / "bob.yaml";
  std::ofstream(bob_config) << "max_inbox_per_peer: 1000000\nmax_inbox_messages: 2000000\n"
                            << "transport:\n"
                            << "  ws:\n    type: websocket\n    listen: 127.0.0.1:0\n"
                            << "  wss:\n    type: websocket\n    listen: 127.0.0.1:0\n    tls: true\n";
  LocalNode bob("bob", binary, dir.path() / "bob", {"--no-hole-punching"});
  bob.set_config_file(bob_config);
  bob.start();
  const auto bob_id = *PeerId::from_string(bob.peer_id());

  NodeConfig c;
  c.data_dir = dir.path() / "alice";
  c.log_level = "warn";
  c.hole_punching = false;
  c.mdns = false;
  c.transports["ws"].options = {{"type", "websocket"}, {"listen", "127.0.0.1:0"}};
  c.transports["wss"].options = {{"type", "websocket"}, {"listen", "127.0.0.1:0"}, {"tls", "true"}};
  bench::InProcessNode alice(c);
  const std::string ws = "ws=ws://127.0.0.1:" + std::to_string(port_of(bob, "ws")) + "/";
  const std::string wss = "wss=wss://127.0.0.1:" + std::to_string(port_of(bob, "wss")) + "/";
  alice.on([&] { alice.node().add_peer(bob_id, {bob.address(), ws, wss}, [](std::error_code) {}); });
  if (!wait_until(
          [&] {
            return alice.session(bob_id, "tcp") && alice.session(bob_id, "ws") &&
                   alice.session(bob_id, "wss");
          },
          std::chrono::seconds(20)))
    throw std::runtime_error("the sessions to bob did not all come up");
  for (const char* t : {"tcp", "ws", "wss"}) alice.stream(bob_id, t, 1024, 500);  // warm-up
  const std::size_t count = quick ? 5000 : 30'000;
  const int rounds = quick ? 1 : 3;
  std::vector<double> tcp, plain, tls;
  for (int r = 0; r < rounds; ++r) {
    tcp.push_back(count / alice.stream(bob_id, "tcp", 1024, count));
    plain.push_back(count / alice.stream(bob_id, "ws", 1024, count));
    tls.push_back(count / alice.stream(bob_id, "wss", 1024, count));
  }
  report.add(bench::median_entry("ws:// durable 1 KiB", plain, "msg/s", "TCP mesh", tcp, ">= 0.7x"));
  report.add(bench::median_entry("wss:// durable 1 KiB", tls, "msg/s", "TCP mesh", tcp, ">= 0.7x"));
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const bool quick = argc > 1 && std::string_view(argv[1]) == "--quick";
  bench::Report report;
  try {
    throughput(report, quick);
  } catch (const std::exception& e) {
    report.add_failure("WebSocket durable", "msg/s", e.what());
  }
  report.print_table();
  report.write_json(std::filesystem::path(HYPHAE_SOURCE_DIR) / "bench/results/websocket.json");
  return report.has_failures() ? 1 : 0;
}
