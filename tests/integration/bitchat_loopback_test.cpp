// The BitChat mesh between real node processes on loopback, with no namespaces needed: three nodes
// whose only transport is the mesh, on LAN links with static peers in a line (a - b - c), so a and
// c are two hops apart. A message crosses and is acknowledged, a broadcast and a channel message
// sent with the CLI reach the others, `hyphae mesh` shows the peers and hops, and bad broadcast
// requests get 4xx with a JSON error.
#include <fstream>

#include "harness.hpp"

namespace hyphae::testing {
namespace {

class BitchatLoopback : public ::testing::Test {
 protected:
  void SetUp() override {
    const unsigned short ports[3] = {free_tcp_port(), free_tcp_port(), free_tcp_port()};
    const char* names[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; ++i) {
      const auto d = dir_.path() / names[i];
      std::filesystem::create_directories(d);
      std::string peers;  // the line: a <-> b <-> c
      for (int j : {i - 1, i + 1})
        if (j >= 0 && j < 3)
          peers += (peers.empty() ? "" : ", ") + std::string("127.0.0.1:") + std::to_string(ports[j]);
      std::ofstream(d / "node.yaml") << "transport:\n"
                                     << "  tcp:\n    enabled: false\n"
                                     << "  mesh:\n"
                                     << "    type: bitchat\n"
                                     << "    nickname: " << names[i] << "\n"
                                     << "    multicast: false\n"
                                     << "    listen: 127.0.0.1:" << ports[i] << "\n"
                                     << "    static_peers: [" << peers << "]\n"
                                     << "    beacon_interval_ms: 250\n"
                                     << "    neighbour_timeout_ms: 1000\n"
                                     << "    announce_interval_ms: 500\n"
                                     << "    peer_timeout_ms: 2500\n";
      nodes_[i] = std::make_unique<LocalNode>(names[i], hyphae_binary(), d);
      nodes_[i]->set_config_file(d / "node.yaml");
      nodes_[i]->set_listen_host("");
      nodes_[i]->start();
    }
  }

  LocalNode& node(int i) { return *nodes_[i]; }

  bool session(int i, int j) {
    const auto body = node(i).api().request("GET", "/v1/p2p/connections").body;
    for (const auto& c : body["connections"])
      if (c["peer_id"] == node(j).peer_id() && c["transport"] == "mesh") return true;
    return false;
  }

  TempDir dir_{"hyphae-bitchat-loop-"};
  std::unique_ptr<LocalNode> nodes_[3];
};

}  // namespace

TEST_F(BitchatLoopback, AMessageCrossesTwoHopsAndBroadcastsReachEveryone) {
  ASSERT_TRUE(wait_until([&] { return session(0, 2) && session(2, 0); }, std::chrono::seconds(20)));
  auto sent = node(0).api().request("POST", "/v1/messages",
                                    nlohmann::json{{"to", node(2).peer_id()}, {"payload", "two hops"}});
  ASSERT_EQ(sent.status, 201) << sent.body.dump();
  const auto id = sent.body["id"].get<std::string>();
  ASSERT_TRUE(wait_until(
      [&] {
        return node(0).api().request("GET", "/v1/messages/" + id).body.value("status", "") == "delivered";
      },
      std::chrono::seconds(15)));
  EXPECT_EQ(inbox(node(2)).at(id), "two hops");

  auto pub = run_cli(node(0).data_dir(), "broadcast 'hello everyone'");
  EXPECT_EQ(pub.status, 0) << pub.text;
  EXPECT_NE(pub.text.find("over mesh"), std::string::npos) << pub.text;
  auto ch = run_cli(node(2).data_dir(), "broadcast --channel ops 'ops only'");
  EXPECT_EQ(ch.status, 0) << ch.text;
  for (int i : {1, 2})
    ASSERT_TRUE(wait_until(
        [&] {
          return run_cli(node(i).data_dir(), "broadcasts").text.find("a: hello everyone") !=
                 std::string::npos;
        },
        std::chrono::seconds(10)))
        << run_cli(node(i).data_dir(), "broadcasts").text;
  ASSERT_TRUE(wait_until(
      [&] {
        return run_cli(node(0).data_dir(), "broadcasts --channel ops").text.find("#ops c: ops only") !=
               std::string::npos;
      },
      std::chrono::seconds(10)));
  // The channel filter leaves the public message out.
  EXPECT_EQ(run_cli(node(0).data_dir(), "broadcasts --channel ops").text.find("hello everyone"),
            std::string::npos);

  auto mesh = run_cli(node(0).data_dir(), "mesh");
  EXPECT_EQ(mesh.status, 0) << mesh.text;
  EXPECT_NE(mesh.text.find("c  2 hops  session up"), std::string::npos) << mesh.text;
  EXPECT_NE(mesh.text.find("b  1 hop   session up"), std::string::npos) << mesh.text;
}

TEST_F(BitchatLoopback, BadBroadcastRequestsAreRefusedWithAJsonError) {
  auto& api = node(0).api();
  auto empty = api.request("POST", "/v1/p2p/broadcast", nlohmann::json{{"text", ""}});
  EXPECT_EQ(empty.status, 400);
  EXPECT_TRUE(empty.body.contains("error")) << empty.raw;
  auto channel =
      api.request("POST", "/v1/p2p/broadcast", nlohmann::json{{"text", "x"}, {"channel", "no spaces"}});
  EXPECT_EQ(channel.status, 400);
  auto big = api.request("POST", "/v1/p2p/broadcast", nlohmann::json{{"text", std::string(5000, 'x')}});
  EXPECT_EQ(big.status, 413);
  EXPECT_TRUE(big.body.contains("error"));
  auto wrong = api.request_raw("POST", "/v1/p2p/broadcast", "not json");
  EXPECT_EQ(wrong.status, 400);
  auto limit = api.request("GET", "/v1/p2p/broadcasts?limit=abc");
  EXPECT_EQ(limit.status, 400);
  EXPECT_TRUE(limit.body.contains("error"));
}

}  // namespace hyphae::testing
