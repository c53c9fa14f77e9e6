// mDNS on one LAN segment (network namespaces on a bridge): four nodes with nothing configured but
// a listener on the LAN find each other through `_p2p._udp.local` and exchange messages knowing
// only each other's PeerIds. A node listening on loopback advertises nothing.
#include <thread>

#include "harness.hpp"
#include "netns.hpp"

namespace hyphae::testing {
namespace {

using namespace std::chrono_literals;

nlohmann::json mdns_of(LocalNode& node) {
  return ok(node.api().request("GET", "/v1/p2p/discovery"))["mdns"];
}

TEST(Mdns, FourNodesOnOneLanFindEachOtherAndExchangeMessages) {
  if (auto why = NetnsLine::unavailable_reason())
    GTEST_SKIP() << "network namespaces are not available here: " << *why;
  NetnsLan lan(5);
  TempDir dir;
  std::vector<std::unique_ptr<LocalNode>> nodes;
  for (std::size_t i = 0; i < 4; ++i) {
    auto node = std::make_unique<LocalNode>("n" + std::to_string(i), hyphae_binary(),
                                            dir.path() / ("n" + std::to_string(i)),
                                            std::vector<std::string>{"--listen", "0.0.0.0:4001"});
    node->set_netns(lan.ns(i));
    node->set_listen_host("");  // the flag above; the node's port comes from node.json
    node->start();
    nodes.push_back(std::move(node));
  }
  // A fifth node listens on loopback: it hears the others but has nothing to advertise.
  LocalNode quiet("quiet", hyphae_binary(), dir.path() / "quiet");
  quiet.set_netns(lan.ns(4));
  quiet.start();
  ASSERT_TRUE(wait_until([&] { return mdns_of(quiet)["peers"] == 4; }, 20s)) << mdns_of(quiet).dump();
  for (auto& node : nodes) {
    ASSERT_TRUE(wait_until([&] { return mdns_of(*node)["peers"] == 3; }, 20s))
        << node->name() << ": " << mdns_of(*node).dump();
    EXPECT_EQ(mdns_of(*node)["running"], true);
  }
  EXPECT_EQ(mdns_of(quiet)["answers_sent"], 0);
  for (auto& node : nodes) EXPECT_EQ(mdns_of(*node)["peers"], 3) << node->name();
  // n0 writes to each of the others, knowing only their PeerIds.
  std::vector<std::string> ids;
  for (std::size_t i = 1; i < 4; ++i) {
    auto r = ok(nodes[0]->api().request(
                    "POST", "/v1/messages",
                    nlohmann::json{{"to", nodes[i]->peer_id()}, {"payload", "hello over the LAN"}}),
                201);
    ids.push_back(r["id"].get<std::string>());
  }
  for (const auto& id : ids)
    ASSERT_TRUE(wait_until(
        [&] {
          return nodes[0]->api().request("GET", "/v1/messages/" + id).body.value("status", "") == "delivered";
        },
        15s))
        << id;
  for (std::size_t i = 1; i < 4; ++i) {
    auto view = ok(nodes[0]->api().request("GET", "/v1/p2p/peers/" + nodes[i]->peer_id()));
    EXPECT_EQ(view["found_by"], "cache") << view.dump();
    ASSERT_FALSE(view["addresses"].empty());
    EXPECT_NE(view["addresses"][0].get<std::string>().find("10.78.0." + std::to_string(i + 1)),
              std::string::npos)
        << view.dump();
    EXPECT_EQ(inbox(*nodes[i]).size(), 1u);
  }
  // And back: n3 answers n1.
  auto back = ok(nodes[3]->api().request("POST", "/v1/messages",
                                         nlohmann::json{{"to", nodes[1]->peer_id()}, {"payload", "hi n1"}}),
                 201);
  ASSERT_TRUE(wait_until(
      [&] {
        return nodes[3]
                   ->api()
                   .request("GET", "/v1/messages/" + back["id"].get<std::string>())
                   .body.value("status", "") == "delivered";
      },
      15s));
}

}  // namespace
}  // namespace hyphae::testing
