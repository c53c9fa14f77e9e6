// Connectivity detection with a real node process: a TCP probe to a listener the test owns (never
// an outside address), the switch to offline when that listener goes away, and the API override.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "harness.hpp"

namespace hyphae::testing {
namespace {

// A listening TCP socket on 127.0.0.1 (the probe's target); closing it makes connects fail.
struct Listener {
  int fd = -1;
  unsigned short port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);  // not inherited by the node process
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0)
      throw std::runtime_error("listener");
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  ~Listener() { close(); }
};

TEST(Connectivity, ProbeSwitchesOnlineAndOfflineAndTheApiOverrides) {
  Listener target;
  TempDir dir;
  const auto config = dir.path() / "node.yaml";
  std::ofstream(config) << "connectivity_probe: 127.0.0.1:" << target.port << "\n"
                        << "connectivity_probe_interval_ms: 200\n";
  LocalNode node{"n", hyphae_binary(), dir.path() / "n", {"--config", config.string()}};
  node.start();
  auto& api = node.api();
  auto state = [&] { return api.request("GET", "/v1/p2p/connectivity").body; };
  ASSERT_TRUE(wait_until([&] { return state()["online"] == true; }, std::chrono::seconds(10)))
      << state().dump();
  EXPECT_EQ(state()["basis"], "probe");
  EXPECT_EQ(api.request("GET", "/v1/p2p/status").body["has_internet"], true);

  target.close();  // the "internet" goes away: the next probe is refused
  ASSERT_TRUE(wait_until([&] { return state()["online"] == false; }, std::chrono::seconds(10)))
      << state().dump();
  auto s = state();
  ASSERT_GE(s["history"].size(), 2u);
  const auto& last = s["history"].back();
  EXPECT_EQ(last["online"], false);
  EXPECT_EQ(last["basis"], "probe");
  EXPECT_NE(last["detail"].get<std::string>().find("failed"), std::string::npos) << last.dump();
  EXPECT_GE(last["at_ms"].get<std::uint64_t>(), s["history"][0]["at_ms"].get<std::uint64_t>());
  EXPECT_EQ(api.request("GET", "/v1/p2p/status").body["has_internet"], false);

  // The override wins until cleared, and bad bodies are 400 with a JSON error.
  auto forced = ok(api.request("POST", "/v1/p2p/connectivity", nlohmann::json{{"online", true}}));
  EXPECT_EQ(forced["online"], true);
  EXPECT_EQ(forced["basis"], "override");
  auto cleared = ok(api.request("POST", "/v1/p2p/connectivity", nlohmann::json{{"online", nullptr}}));
  EXPECT_EQ(cleared["online"], false);
  EXPECT_TRUE(cleared["override"].is_null());
  auto bad = api.request("POST", "/v1/p2p/connectivity", nlohmann::json{{"online", "yes"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(bad.body.contains("error")) << bad.body.dump();
  // Metrics count the switches.
  auto metrics = api.request("GET", "/metrics").raw;
  EXPECT_NE(metrics.find("p2p_connectivity_changes_total{to=\"offline\"}"), std::string::npos);
  EXPECT_NE(metrics.find("p2p_online 0"), std::string::npos);
}

}  // namespace
}  // namespace hyphae::testing
