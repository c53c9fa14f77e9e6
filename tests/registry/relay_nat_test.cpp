// Relays through a super peer between real node processes in network namespaces: Alice and Carol
// each sit behind their own NAT (masquerade, nothing gets in), Bob is a SUPER_PEER on the public
// network, the registry runs in another namespace (on SQLite, and on the test PostgreSQL server
// reached over its Unix socket). Alice knows only Carol's PeerId: she finds her through a PEER_QUERY
// to Bob and reaches her over Bob's relay; a node that knows nobody finds her through the registry's
// record of her coordinators.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "integration/nat_lab.hpp"
#include "testnet/local_node.hpp"
#include "testnet/local_registry.hpp"

namespace hyphae {
namespace {

using namespace std::chrono_literals;
using testing::NatLab;
using testing::NetnsLine;

nlohmann::json get(LocalNode& node, const std::string& path) {
  auto r = node.api().request("GET", path);
  EXPECT_EQ(r.status, 200) << path << ": " << r.raw;
  return r.body;
}

std::string send_text(LocalNode& from, const std::string& to, const std::string& text) {
  auto r = from.api().request("POST", "/v1/messages", nlohmann::json{{"to", to}, {"payload", text}});
  EXPECT_EQ(r.status, 201) << r.raw;
  return r.body.value("id", "");
}

bool delivered(LocalNode& node, const std::string& id) {
  return node.api().request("GET", "/v1/messages/" + id).body.value("status", "") == "delivered";
}

// The texts of the messages in the node's inbox.
std::vector<std::string> inbox_texts(LocalNode& node) {
  std::vector<std::string> out;
  const auto body = get(node, "/v1/messages?limit=1000");
  for (const auto& m : body["messages"]) out.push_back(m.value("payload", ""));
  return out;
}

// The last lines of a node's log, for failure messages.
std::string log_tail(LocalNode& node, std::size_t lines = 40) {
  std::ifstream in(node.log_file());
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out = "\n--- " + node.name() + " log ---\n";
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += all[i] + "\n";
  return out;
}

// The route to `peer` as GET /v1/p2p/routes lists it first (the best), or null.
nlohmann::json route_to(LocalNode& node, const std::string& peer) {
  const auto body = get(node, "/v1/p2p/routes");
  for (const auto& r : body["routes"])
    if (r["destination"] == peer) return r;
  return nullptr;
}

// Whether `node` has a direct (TCP) session with `peer`.
bool linked(LocalNode& node, LocalNode& peer) {
  const auto body = get(node, "/v1/p2p/connections");
  for (const auto& c : body["connections"])
    if (c["peer_id"] == peer.peer_id() && c["transport"] == "tcp") return true;
  return false;
}

class RelayNat : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (auto why = NetnsLine::unavailable_reason()) GTEST_SKIP() << *why;
    if (auto why = NatLab::nat_unavailable()) GTEST_SKIP() << *why;
    if (GetParam() == "postgresql") {
      std::string why;
      auto server = test_postgresql_url(&why);
      if (!server) GTEST_SKIP() << "PostgreSQL: " << why;
      // One database per case: the cases run in parallel.
      std::string name =
          "t_nat_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
      for (auto& c : name)
        c = std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
      if (name.size() > 60) name.resize(60);
      db_url_ = test_postgresql_socket_url(create_test_database(*server, name));
    } else {
      db_url_ = "sqlite:" + (dir_.path() / "registry.db").string();
    }
    lab_ = std::make_unique<NatLab>();
    registry_ = std::make_unique<LocalRegistry>(HYPHAE_BIN, dir_.path() / "registry", db_url_);
    registry_->set_netns(lab_->ns(NatLab::srv), NatLab::kServer);
    registry_->start();
    token_ = registry_->create_token("lab");
  }

  std::unique_ptr<LocalNode> node(const std::string& name, NatLab::Ns where, const std::string& host,
                                  std::vector<std::string> more = {}) {
    std::vector<std::string> args{"--registry", registry_->url(),   "--network",
                                  "lab",        "--registry-token", token_};
    args.insert(args.end(), more.begin(), more.end());
    auto n = std::make_unique<LocalNode>(name, HYPHAE_BIN, dir_.path() / name, args);
    n->set_netns(lab_->ns(where));
    n->set_listen_host(host);
    n->start();
    return n;
  }
  static std::string peer_arg(LocalNode& n) {
    return n.peer_id() + "@" + std::string(NatLab::kPublic) + ":" + std::to_string(n.listen_port());
  }

  TempDir dir_;
  std::string db_url_, token_;
  std::unique_ptr<NatLab> lab_;
  std::unique_ptr<LocalRegistry> registry_;
};

TEST_P(RelayNat, APeerBehindANatIsFoundAndReachedThroughASuperPeersRelay) {
  // No hole punching here: the sessions stay on the relay (the next case moves them off).
  auto bob = node("bob", NatLab::pub, NatLab::kPublic, {"--role", "super_peer"});
  auto carol = node("carol", NatLab::lan_c, NatLab::kLanC, {"--peer", peer_arg(*bob), "--no-hole-punching"});
  auto alice = node("alice", NatLab::lan_a, NatLab::kLanA, {"--peer", peer_arg(*bob), "--no-hole-punching"});

  // The NATs are real: nothing from the public side reaches into a home network.
  EXPECT_NE(lab_->exec(NatLab::pub, "curl -s -m 2 http://" + std::string(NatLab::kLanC) + ":" +
                                        std::to_string(carol->listen_port()))
                .status,
            0);
  // Carol reserves a slot at Bob (his record says super peer) and lists him as her coordinator.
  ASSERT_TRUE(
      wait_until([&] { return get(*carol, "/v1/p2p/discovery")["relay"]["reserved_at"].size() == 1; }, 20s))
      << get(*carol, "/v1/p2p/discovery").dump();
  EXPECT_EQ(get(*carol, "/v1/p2p/discovery")["relay"]["reserved_at"][0], bob->peer_id());
  ASSERT_TRUE(wait_until([&] { return get(*bob, "/v1/p2p/discovery")["relay"]["reservations"] >= 2; }, 20s));

  // Alice knows only Carol's PeerId (and Bob, her neighbour).
  ASSERT_TRUE(wait_until([&] { return linked(*alice, *bob); }, 20s));
  const auto id = send_text(*alice, carol->peer_id(), "through the relay");
  ASSERT_TRUE(wait_until([&] { return delivered(*alice, id); }, 30s))
      << get(*alice, "/v1/p2p/peers/" + carol->peer_id()).dump();
  auto view = get(*alice, "/v1/p2p/peers/" + carol->peer_id());
  EXPECT_EQ(view["found_by"], "peer_query") << view.dump();
  auto route = route_to(*alice, carol->peer_id());
  ASSERT_FALSE(route.is_null()) << get(*alice, "/v1/p2p/routes").dump();
  EXPECT_EQ(route["kind"], "server") << route.dump();
  EXPECT_EQ(route["next_hop"], bob->peer_id()) << route.dump();
  EXPECT_EQ(route["transport"], "relay");
  auto texts = inbox_texts(*carol);
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "through the relay"), 1);
  // Bob carried ciphertext for them; Carol answers over the same circuit.
  auto bob_relay = get(*bob, "/v1/p2p/discovery")["relay"];
  EXPECT_GE(bob_relay["circuits_opened"].get<int>(), 1) << bob_relay.dump();
  EXPECT_GT(bob_relay["bytes_relayed"].get<int>(), 0);
  const auto reply = send_text(*carol, alice->peer_id(), "and back");
  ASSERT_TRUE(wait_until([&] { return delivered(*carol, reply); }, 20s));
  texts = inbox_texts(*alice);
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "and back"), 1);

  // Dave knows nobody at all, only the registry: Carol's record there names Bob as her coordinator
  // (with Bob's own record), so Dave dials Bob and reaches her over his relay.
  auto dave = node("dave", NatLab::lan_a, NatLab::kLanA, {"--no-hole-punching"});
  const auto from_dave = send_text(*dave, carol->peer_id(), "via the registry");
  ASSERT_TRUE(wait_until([&] { return delivered(*dave, from_dave); }, 30s))
      << get(*dave, "/v1/p2p/peers/" + carol->peer_id()).dump();
  view = get(*dave, "/v1/p2p/peers/" + carol->peer_id());
  EXPECT_EQ(view["found_by"], "registry") << view.dump();
  route = route_to(*dave, carol->peer_id());
  ASSERT_FALSE(route.is_null());
  EXPECT_EQ(route["kind"], "server") << route.dump();
  EXPECT_EQ(route["next_hop"], bob->peer_id());
  texts = inbox_texts(*carol);
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "via the registry"), 1);
}

TEST_P(RelayNat, AnOfflinePeersMessagesWaitAtItsCoordinatorAndArriveOnceWhenItReturns) {
  auto bob = node("bob", NatLab::pub, NatLab::kPublic, {"--role", "super_peer"});
  auto carol = node("carol", NatLab::lan_c, NatLab::kLanC, {"--peer", peer_arg(*bob)});
  auto alice = node("alice", NatLab::lan_a, NatLab::kLanA, {"--peer", peer_arg(*bob)});
  // Bob holds Carol's record naming him as her coordinator.
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = get(*bob, "/v1/p2p/peers/" + carol->peer_id());
        return r.contains("record") && r["record"]["coordinators"].size() == 1 &&
               r["record"]["coordinators"][0] == bob->peer_id();
      },
      20s))
      << get(*bob, "/v1/p2p/peers/" + carol->peer_id()).dump();
  carol->stop();
  ASSERT_TRUE(wait_until(
      [&] {
        auto c = get(*bob, "/v1/p2p/peers/" + carol->peer_id());
        return c.value("state", "") != "CONNECTED" &&
               get(*bob, "/v1/p2p/connections")["connections"].size() == 1;
      },
      20s));

  // Alice's search ends in store-and-forward; Bob, Carol's coordinator, takes the message to hold.
  ASSERT_TRUE(wait_until([&] { return linked(*alice, *bob); }, 20s));
  const auto id = send_text(*alice, carol->peer_id(), "while you were away");
  ASSERT_TRUE(wait_until([&] { return get(*bob, "/v1/p2p/discovery")["relay"]["held_messages"] == 1; }, 40s))
      << get(*alice, "/v1/p2p/peers/" + carol->peer_id()).dump() << get(*bob, "/v1/p2p/discovery").dump();
  // Bob's answer (held) reaches Alice a moment after Bob counted the message.
  EXPECT_TRUE(wait_until([&] { return get(*alice, "/v1/p2p/discovery")["relay"]["held_at_relays"] == 1; }, 10s))
      << get(*alice, "/v1/p2p/discovery").dump();
  EXPECT_FALSE(delivered(*alice, id));  // only Carol's own ack makes it delivered

  // Carol comes back: Bob hands the message over, she acks it to him, he deletes it.
  carol->start();
  ASSERT_TRUE(wait_until(
      [&] {
        auto texts = inbox_texts(*carol);
        return std::count(texts.begin(), texts.end(), "while you were away") == 1;
      },
      20s));
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = get(*bob, "/v1/p2p/discovery")["relay"];
        return r["held_messages"] == 0 && r["held_delivered"] == 1;
      },
      20s))
      << get(*bob, "/v1/p2p/discovery").dump();
  // Alice's copy is delivered once Carol acks it end to end (Alice finds her again through Bob); the
  // retransmission is recognised, so Carol still has it once.
  ASSERT_TRUE(wait_until([&] { return delivered(*alice, id); }, 60s))
      << get(*alice, "/v1/p2p/peers/" + carol->peer_id()).dump();
  auto texts = inbox_texts(*carol);
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "while you were away"), 1);
}

TEST_P(RelayNat, WhereTheNatsAllowARelayedSessionMovesToAHolePunchedDirectOne) {
  auto bob = node("bob", NatLab::pub, NatLab::kPublic, {"--role", "super_peer"});
  auto carol = node("carol", NatLab::lan_c, NatLab::kLanC, {"--peer", peer_arg(*bob)});
  auto alice = node("alice", NatLab::lan_a, NatLab::kLanA, {"--peer", peer_arg(*bob)});
  ASSERT_TRUE(
      wait_until([&] { return get(*carol, "/v1/p2p/discovery")["relay"]["reserved_at"].size() == 1; }, 20s));
  ASSERT_TRUE(wait_until([&] { return linked(*alice, *bob); }, 20s));
  const auto id = send_text(*alice, carol->peer_id(), "first over the relay");
  ASSERT_TRUE(wait_until([&] { return delivered(*alice, id); }, 30s))
      << get(*alice, "/v1/messages/" + id).dump() << log_tail(*alice) << log_tail(*carol) << log_tail(*bob);
  // Both NATs drop unsolicited input and keep source ports: the two simultaneous dials from the
  // listening ports meet, and a direct TCP session replaces the circuit on both sides.
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = route_to(*alice, carol->peer_id());
        return !r.is_null() && r["kind"] == "direct" && r["transport"] == "tcp";
      },
      40s))
      << get(*alice, "/v1/p2p/routes").dump() << get(*alice, "/v1/p2p/discovery").dump();
  auto relay_alice = get(*alice, "/v1/p2p/discovery")["relay"];
  auto relay_carol = get(*carol, "/v1/p2p/discovery")["relay"];
  EXPECT_GE(relay_alice["punch_attempts"].get<int>() + relay_carol["punch_attempts"].get<int>(), 1);
  EXPECT_GE(relay_alice["punch_successes"].get<int>() + relay_carol["punch_successes"].get<int>(), 1);
  // The direct session is one Alice reaches Carol's home network by: its far end is Carol's NAT.
  bool direct = false;
  const auto links = get(*alice, "/v1/p2p/connections");
  for (const auto& c : links["connections"])
    if (c["peer_id"] == carol->peer_id() && c["transport"] == "tcp") {
      direct = true;
      EXPECT_NE(c.value("remote_address", "").find(NatLab::kWanC), std::string::npos) << c.dump();
    }
  EXPECT_TRUE(direct) << links.dump();
  ASSERT_TRUE(wait_until([&] { return get(*bob, "/v1/p2p/discovery")["relay"]["circuits"] == 0; }, 20s));
  const auto second = send_text(*alice, carol->peer_id(), "then direct");
  ASSERT_TRUE(wait_until([&] { return delivered(*alice, second); }, 20s));
  EXPECT_EQ(get(*alice, "/v1/messages/" + second).value("transport", ""), "tcp");
}

INSTANTIATE_TEST_SUITE_P(Backends, RelayNat, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace hyphae
