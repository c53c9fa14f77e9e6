// Two node processes with two transports each, for the router's process tests: "tcp" (the
// internet path, preferred for latency) and "lan" (a second TCP mesh instance configured as an
// offline-capable local network), both with fault injection on; a has dialed b over both.
#pragma once

#include <fstream>

#include "harness.hpp"

namespace hyphae::testing {

// Both nodes: tcp preferred for latency; lan needs no internet (seed 000's BitChat column role).
inline std::filesystem::path write_config(const std::filesystem::path& dir, const std::string& lan_caps = "",
                                          const std::string& extra_yaml = "") {
  std::filesystem::create_directories(dir);
  const auto file = dir / "node.yaml";
  std::ofstream(file) << "fault_injection: true\n"
                      << "power:\n  sysfs_root: " << (dir / "no-sysfs").string() << "\n"
                      << "optimize_for: latency\n"
                      << "ack_timeout_ms: 300\n"
                      << "failover_timeout_sec: 5\n"
                      << "reconnect_min_ms: 50\n"
                      << "reconnect_max_ms: 200\n"
                      << "transport:\n"
                      << "  lan:\n"
                      << "    type: tcp\n"
                      << "    listen: 127.0.0.1:0\n"
                      << "    caps:\n"
                      << "      requires_internet: false\n"
                      << "      offline_capable: true\n"
                      << "      store_and_forward: true\n"
                      << "      typical_latency_ms: 400\n"
                      << "      bandwidth_bps: 1000000\n"
                      << lan_caps << extra_yaml;
  return file;
}

struct TwoTransportPair {
  TempDir dir;
  LocalNode a, b;

  explicit TwoTransportPair(const std::string& lan_caps = "", const std::string& extra_yaml = "")
      : a{"a",
          hyphae_binary(),
          dir.path() / "a",
          {"--config", write_config(dir.path() / "cfg-a", lan_caps, extra_yaml).string()}},
        b{"b",
          hyphae_binary(),
          dir.path() / "b",
          {"--config", write_config(dir.path() / "cfg-b", lan_caps, extra_yaml).string()}} {
    a.start();
    b.start();
    ok(a.api().request(
           "POST", "/v1/peers",
           nlohmann::json{{"peer_id", b.peer_id()},
                          {"addresses", {b.address(), "lan=127.0.0.1:" + std::to_string(port(b, "lan"))}}}),
       201);
    if (!wait_until(
            [&] {
              return sessions(a) == std::set<std::string>{"tcp", "lan"};
            },
            std::chrono::seconds(15)))
      throw std::runtime_error("a did not connect to b over both transports: " +
                               a.api().request("GET", "/v1/p2p/connections").body.dump() + "\na's log:\n" +
                               read_log(a));
  }

  static std::string read_log(const LocalNode& node) {
    std::ifstream in(node.log_file());
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static std::uint16_t port(LocalNode& node, const std::string& transport) {
    const auto body = node.api().request("GET", "/v1/p2p/transports").body;
    for (const auto& t : body["transports"])
      if (t["name"] == transport) return t["listen_port"].get<std::uint16_t>();
    throw std::runtime_error("no transport " + transport + " in " + body.dump());
  }
  static std::set<std::string> sessions(LocalNode& node) {
    std::set<std::string> out;
    // Keep the response alive: a range-for over a member of a temporary would dangle (before C++23).
    const auto body = node.api().request("GET", "/v1/p2p/connections").body;
    for (const auto& c : body["connections"]) out.insert(c["transport"].get<std::string>());
    return out;
  }
  nlohmann::json fault(const std::string& transport, nlohmann::json body) {
    return ok(a.api().request("POST", "/v1/p2p/transports/" + transport + "/fault", body));
  }
  std::string send(const std::string& payload, nlohmann::json extra = nlohmann::json::object()) {
    extra["to"] = b.peer_id();
    extra["payload"] = payload;
    auto r = a.api().request("POST", "/v1/messages", extra);
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("id", "");
  }
  nlohmann::json status(const std::string& id) { return a.api().request("GET", "/v1/messages/" + id).body; }
  bool delivered(const std::string& id) { return status(id)["status"] == "delivered"; }
};

}  // namespace hyphae::testing
