// mDNS on one LAN segment (network namespaces on a bridge): four nodes with nothing configured but
// a listener on the LAN find each other through `_p2p._udp.local` and exchange messages knowing
// only each other's PeerIds. A node listening on loopback advertises nothing.
#include "discovery/mdns.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/udp.hpp>
#include <thread>

#include "core/identity.hpp"
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

namespace hyphae::testing {
namespace {

// The avahi tools in a namespace of the same LAN, each namespace with its own avahi-daemon.
struct Avahi {
  std::string script = std::string(HYPHAE_SOURCE_DIR) + "/tests/services/avahi_netns.sh";
  std::string ns;
  std::filesystem::path dir;
  Avahi(std::string netns, std::filesystem::path work) : ns(std::move(netns)), dir(std::move(work)) {
    auto r = NetnsLine::run("bash " + script + " start " + ns + " " + dir.string() + " avahi-" + ns);
    if (r.status != 0) throw std::runtime_error("avahi did not start: " + r.output);
  }
  ~Avahi() { NetnsLine::run("bash " + script + " stop " + dir.string()); }
  std::string run(const std::string& command) {
    return NetnsLine::run("timeout 10 bash " + script + " run " + ns + " " + dir.string() + " " + command)
        .output;
  }
};

TEST(Mdns, AvahiSeesOurNodeAndOurNodeFindsAServicePublishedWithAvahi) {
  if (auto why = NetnsLine::unavailable_reason())
    GTEST_SKIP() << "network namespaces are not available here: " << *why;
  if (NetnsLine::run("command -v avahi-daemon avahi-browse avahi-publish dbus-daemon").status != 0)
    GTEST_SKIP() << "avahi-daemon, avahi-utils or dbus is missing (scripts/setup.sh installs them)";
  NetnsLan lan(2);
  TempDir dir;
  Avahi avahi(lan.ns(1), dir.path() / "avahi");
  LocalNode node("node", hyphae_binary(), dir.path() / "node", {"--listen", "0.0.0.0:4001"});
  node.set_netns(lan.ns(0));
  node.set_listen_host("");
  node.start();
  // avahi-browse resolves our service, with the TXT record libp2p tools read.
  const std::string expected = "dnsaddr=/ip4/" + NetnsLan::address(0) + "/tcp/4001/p2p/" + node.peer_id();
  std::string seen;
  ASSERT_TRUE(wait_until(
      [&] {
        seen = avahi.run("avahi-browse -rtp _p2p._udp");
        return seen.find(expected) != std::string::npos;
      },
      15s))
      << seen;
  EXPECT_NE(seen.find("=;eth0;IPv4;"), std::string::npos) << seen;  // a resolved entry
  // A service avahi-publish announces is found by our node.
  const auto other = Identity::generate().peer_id().to_string();
  ChildProcess publish(
      "/bin/bash",
      {avahi.script, "run", avahi.ns, avahi.dir.string(), "avahi-publish", "-s", "interop-test", "_p2p._udp",
       "4001", "dnsaddr=/ip4/" + NetnsLan::address(1) + "/tcp/4001/p2p/" + other},
      dir.path() / "publish.log");
  ASSERT_TRUE(wait_until(
      [&] {
        auto view = node.api().request("GET", "/v1/p2p/peers/" + other).body;
        for (const auto& a : view["addresses"])
          if (a == "/ip4/" + NetnsLan::address(1) + "/tcp/4001") return true;
        return false;
      },
      20s))
      << node.api().request("GET", "/v1/p2p/discovery").body.dump();
  publish.stop(SIGTERM);
}

}  // namespace
}  // namespace hyphae::testing

namespace hyphae::testing {
namespace {

// A stranger on the LAN floods mDNS answers for 600 fresh PeerIds and sends garbage: the node keeps
// at most 256 peers heard, counts the garbage as dropped, and still answers and finds real peers.
TEST(Mdns, AFloodOfAdvertisedPeersAndGarbageStaysBounded) {
  if (auto why = NetnsLine::unavailable_reason())
    GTEST_SKIP() << "network namespaces are not available here: " << *why;
  NetnsLan lan(2);
  TempDir dir;
  LocalNode node("node", hyphae_binary(), dir.path() / "node", {"--listen", "0.0.0.0:4001"});
  node.set_netns(lan.ns(0));
  node.set_listen_host("");
  node.start();
  in_netns(lan.ns(1), [&] {
    boost::asio::io_context io;
    boost::asio::ip::udp::socket socket(io, boost::asio::ip::udp::v4());
    socket.set_option(boost::asio::ip::multicast::outbound_interface(
        boost::asio::ip::make_address_v4(NetnsLan::address(1))));
    const boost::asio::ip::udp::endpoint group(boost::asio::ip::make_address_v4("224.0.0.251"), 5353);
    for (int i = 0; i < 600; ++i) {
      discovery::MdnsAdvert advert;
      advert.self = Identity::generate().peer_id();
      advert.peer_name = discovery::random_mdns_peer_name();
      advert.addresses = {"/ip4/10.78.0.2/tcp/" + std::to_string(5000 + i)};
      socket.send_to(boost::asio::buffer(*discovery::mdns_response(advert)), group);
      const std::string garbage = "\x01\x02 not dns " + std::to_string(i);
      socket.send_to(boost::asio::buffer(garbage), group);
      if (i % 25 == 0)
        std::this_thread::sleep_for(2ms);  // paced: the bound is under test, not the socket buffer
    }
  });
  ASSERT_TRUE(wait_until([&] { return mdns_of(node)["packets_dropped"].get<int>() >= 500; }, 10s))
      << mdns_of(node).dump();
  std::this_thread::sleep_for(300ms);
  auto m = mdns_of(node);
  EXPECT_EQ(m["peers"], 256) << m.dump();
  EXPECT_TRUE(node.running());
}

}  // namespace
}  // namespace hyphae::testing
