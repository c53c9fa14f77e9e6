// The registry server as a real process, each case on SQLite and on PostgreSQL (a real server CTest
// starts: tests/services/pg_fixture.sh): announces, lookups, pages, tokens, forged, replayed and
// expired records, rate limits, bounded bodies, heartbeats, restarts, HTTPS; and two nodes that were
// never introduced finding each other through it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "api/client.hpp"
#include "core/identity.hpp"
#include "discovery/multiaddr.hpp"
#include "discovery/peer_record.hpp"
#include "discovery/signed_envelope.hpp"
#include "testnet/local_node.hpp"
#include "testnet/local_registry.hpp"
#include "util/json_util.hpp"

namespace hyphae {
namespace {

using namespace std::chrono_literals;

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// A signed record of `who` with one TCP address.
Bytes record_of(const Identity& who, std::uint64_t seq, std::uint16_t port = 4001,
                discovery::PeerRole role = discovery::PeerRole::basic, std::vector<PeerId> coordinators = {},
                std::uint64_t expires_ms = 0) {
  discovery::PeerRecord r;
  r.peer = who.peer_id();
  r.seq = seq;
  r.addresses.push_back(*discovery::multiaddr_from_text("/ip4/127.0.0.1/tcp/" + std::to_string(port)));
  r.role = role;
  r.services = {"messaging"};
  r.coordinators = std::move(coordinators);
  r.expires_ms = expires_ms ? expires_ms : wall_ms() + 600'000;
  return *discovery::seal_peer_record(who, r);
}

nlohmann::json announce_body(const Bytes& envelope) {
  return {{"envelope_base64", base64_encode(envelope)}};
}

class Registry : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      std::string why;
      auto server = test_postgresql_url(&why);
      if (!server) GTEST_SKIP() << "PostgreSQL: " << why;
      const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
      std::string name = "t_" + std::string(info->name());
      for (auto& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      if (name.size() > 60) name.resize(60);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      db_url_ = create_test_database(*server, name);
    } else {
      db_url_ = "sqlite:" + (dir_.path() / "registry.db").string();
    }
  }
  std::unique_ptr<LocalRegistry> start(std::vector<std::string> args = {}) {
    auto r = std::make_unique<LocalRegistry>(HYPHAE_BIN, dir_.path() / "registry", db_url_, std::move(args));
    r->start();
    return r;
  }
  ApiClient client(const LocalRegistry& r, const std::string& token) {
    return ApiClient(ApiEndpoint{"127.0.0.1", r.port(), token, {}});
  }
  TempDir dir_;
  std::string db_url_;
};

TEST_P(Registry, AnnouncedRecordsAreLookedUpAndListedPageByPage) {
  auto registry = start();
  const auto token = registry->create_token("lab");
  auto api = client(*registry, token);
  EXPECT_EQ(api.request("GET", "/health").body["backend"], GetParam());
  std::vector<Identity> peers;
  for (int i = 0; i < 5; ++i) peers.push_back(Identity::generate());
  const auto seq = wall_ms();
  for (std::size_t i = 0; i < peers.size(); ++i) {
    auto r = api.request("POST", "/network/lab/announce",
                         announce_body(record_of(peers[i], seq, static_cast<std::uint16_t>(4000 + i))));
    ASSERT_EQ(r.status, 201) << r.raw;
    EXPECT_EQ(r.body["stored"], true);
  }
  // The same record again is a repeat; an older one a replay; a newer one replaces it.
  EXPECT_EQ(api.request("POST", "/network/lab/announce", announce_body(record_of(peers[0], seq))).status,
            200);
  auto replay = api.request("POST", "/network/lab/announce", announce_body(record_of(peers[0], seq - 1)));
  EXPECT_EQ(replay.status, 409) << replay.raw;
  ASSERT_EQ(
      api.request("POST", "/network/lab/announce", announce_body(record_of(peers[0], seq + 1, 5000))).status,
      201);

  auto found = api.request("GET", "/network/lab/peer/" + peers[0].peer_id().to_string());
  ASSERT_EQ(found.status, 200) << found.raw;
  EXPECT_EQ(found.body["userId"], peers[0].peer_id().to_string());
  EXPECT_EQ(found.body["online"], true);
  EXPECT_GE(found.body["lastSeen"].get<std::uint64_t>(), seq);
  EXPECT_EQ(found.body["record"]["seq"], seq + 1);
  EXPECT_EQ(found.body["record"]["addresses"], nlohmann::json::array({"/ip4/127.0.0.1/tcp/5000"}));
  EXPECT_EQ(found.body["lastCoordinators"], nlohmann::json::array());
  // The envelope is the peer's own, verifiable by whoever reads it.
  auto envelope = base64_decode(found.body["envelope_base64"].get<std::string>());
  ASSERT_TRUE(envelope);
  auto opened = discovery::open_peer_record(*envelope);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->peer, peers[0].peer_id());
  EXPECT_EQ(api.request("GET", "/network/lab/peer/" + Identity::generate().peer_id().to_string()).status,
            404);

  // Pages of two, in PeerId order, every peer exactly once.
  std::set<std::string> listed;
  std::string cursor;
  int pages = 0;
  for (;;) {
    auto page =
        api.request("GET", "/network/lab/active-peers?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(page.status, 200) << page.raw;
    ++pages;
    EXPECT_LE(page.body["peers"].size(), 2u);
    for (const auto& p : page.body["peers"])
      EXPECT_TRUE(listed.insert(p["userId"].get<std::string>()).second);
    if (page.body["next_cursor"].is_null()) break;
    cursor = page.body["next_cursor"].get<std::string>();
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(listed.size(), 5u);
  EXPECT_EQ(pages, 3);
  // Another network sees none of them.
  const auto other = registry->create_token("other");
  auto other_api = client(*registry, other);
  EXPECT_EQ(other_api.request("GET", "/network/other/active-peers").body["peers"].size(), 0u);
}

TEST_P(Registry, TokensForgeriesAndBadRequestsAreRefusedWithAClearError) {
  auto registry = start();
  const auto token = registry->create_token("lab");
  const auto other_token = registry->create_token("other");
  auto api = client(*registry, token);
  const auto alice = Identity::generate();
  const auto good = record_of(alice, wall_ms());
  auto expect_error = [](const ApiResponse& r, int status) {
    EXPECT_EQ(r.status, status) << r.raw;
    EXPECT_TRUE(r.body.is_object() && r.body.contains("error")) << r.raw;
  };
  // No token, an unknown token, a token of another network.
  expect_error(client(*registry, "").request("POST", "/network/lab/announce", announce_body(good)), 401);
  expect_error(client(*registry, "hyr_wrong").request("POST", "/network/lab/announce", announce_body(good)),
               401);
  expect_error(client(*registry, other_token).request("GET", "/network/lab/active-peers"), 403);
  // A token holder cannot announce someone else: mallory signs a record naming alice.
  const auto mallory = Identity::generate();
  auto forged_record = *discovery::open_peer_record(good);
  forged_record.seq += 1000;
  forged_record.addresses = {*discovery::multiaddr_from_text("/ip4/10.6.6.6/tcp/666")};
  auto forged = discovery::seal_envelope(mallory, discovery::kPeerRecordDomain, discovery::kPeerRecordCodec,
                                         discovery::encode_peer_record(forged_record));
  expect_error(api.request("POST", "/network/lab/announce", announce_body(forged)), 400);
  auto tampered = good;
  tampered[tampered.size() - 70] ^= 1;
  expect_error(api.request("POST", "/network/lab/announce", announce_body(tampered)), 400);
  // Expired, not base64, not JSON, no field.
  expect_error(
      api.request("POST", "/network/lab/announce",
                  announce_body(record_of(alice, wall_ms(), 4001, discovery::PeerRole::basic, {}, 1000))),
      400);
  expect_error(api.request("POST", "/network/lab/announce", nlohmann::json{{"envelope_base64", "***"}}), 400);
  expect_error(api.request_raw("POST", "/network/lab/announce", "{not json"), 400);
  expect_error(api.request("POST", "/network/lab/announce", nlohmann::json::object()), 400);
  // An oversized body, unknown routes, wrong methods, bad parameters.
  expect_error(api.request_raw("POST", "/network/lab/announce", std::string(200 * 1024, 'x')), 413);
  expect_error(api.request("GET", "/network/lab/nothing"), 404);
  expect_error(api.request("GET", "/network/lab/announce"), 405);
  expect_error(api.request("GET", "/network/bad%20name/active-peers"), 400);
  expect_error(api.request("GET", "/network/lab/active-peers?limit=0"), 400);
  expect_error(api.request("GET", "/network/lab/active-peers?limit=abc"), 400);
  expect_error(api.request("GET", "/network/lab/active-peers?cursor=not-a-peer"), 400);
  expect_error(api.request("GET", "/network/lab/peer/not-a-peer"), 400);
  // Nothing of it was stored: alice is unknown, and her real record still goes in.
  EXPECT_EQ(api.request("GET", "/network/lab/peer/" + alice.peer_id().to_string()).status, 404);
  EXPECT_EQ(api.request("POST", "/network/lab/announce", announce_body(good)).status, 201);
  EXPECT_EQ(
      api.request("GET", "/network/lab/peer/" + alice.peer_id().to_string()).body["record"]["addresses"],
      nlohmann::json::array({"/ip4/127.0.0.1/tcp/4001"}));
  EXPECT_TRUE(registry->running());
}

TEST_P(Registry, RequestsOverATokensRateAreRefusedAndOthersAreNot) {
  auto registry = start({"--rate", "5", "--burst", "10"});
  const auto token = registry->create_token("lab");
  const auto other = registry->create_token("lab");
  auto api = client(*registry, token);
  int ok = 0, limited = 0;
  for (int i = 0; i < 40; ++i) {
    const auto status = api.request("GET", "/network/lab/active-peers").status;
    if (status == 200) ++ok;
    if (status == 429) ++limited;
  }
  EXPECT_GE(limited, 20) << ok << " answered";
  EXPECT_LE(ok, 20);
  // A different token has its own allowance.
  EXPECT_EQ(client(*registry, other).request("GET", "/network/lab/active-peers").status, 200);
}

TEST_P(Registry, HeartbeatsMakeCoordinatorsOnlineInTheirPeersLookups) {
  auto registry = start();
  const auto token = registry->create_token("lab");
  auto api = client(*registry, token);
  const auto bob = Identity::generate();  // a super peer
  const auto carol = Identity::generate();
  auto hb = api.request(
      "POST", "/coordinator/heartbeat",
      nlohmann::json{{"network", "lab"},
                     {"envelope_base64",
                      base64_encode(record_of(bob, wall_ms(), 4100, discovery::PeerRole::super_peer))}});
  ASSERT_EQ(hb.status / 100, 2) << hb.raw;
  // A BASIC peer is no coordinator; a heartbeat for another network needs that network's token.
  EXPECT_EQ(
      api.request("POST", "/coordinator/heartbeat",
                  nlohmann::json{{"network", "lab"}, {"envelope_base64", base64_encode(record_of(carol, 1))}})
          .status,
      400);
  EXPECT_EQ(api.request("POST", "/coordinator/heartbeat",
                        nlohmann::json{
                            {"network", "elsewhere"},
                            {"envelope_base64", base64_encode(record_of(bob, wall_ms() + 1, 4100,
                                                                        discovery::PeerRole::super_peer))}})
                .status,
            403);
  ASSERT_EQ(api.request("POST", "/network/lab/announce",
                        announce_body(
                            record_of(carol, wall_ms(), 4200, discovery::PeerRole::basic, {bob.peer_id()})))
                .status,
            201);
  auto found = api.request("GET", "/network/lab/peer/" + carol.peer_id().to_string());
  ASSERT_EQ(found.status, 200);
  ASSERT_EQ(found.body["lastCoordinators"].size(), 1u) << found.raw;
  const auto& c = found.body["lastCoordinators"][0];
  EXPECT_EQ(c["userId"], bob.peer_id().to_string());
  EXPECT_EQ(c["online"], true);
  auto bob_record = discovery::open_peer_record(*base64_decode(c["envelope_base64"].get<std::string>()));
  ASSERT_TRUE(bob_record);
  EXPECT_EQ(bob_record->role, discovery::PeerRole::super_peer);
  // The coordinator is a peer of the network too.
  EXPECT_EQ(api.request("GET", "/network/lab/peer/" + bob.peer_id().to_string()).status, 200);
}

TEST_P(Registry, AnnouncementsExpireAndSurviveARestartUntilThen) {
  auto registry = start({"--max-ttl", "2"});
  const auto token = registry->create_token("lab");
  const auto alice = Identity::generate();
  {
    auto api = client(*registry, token);
    ASSERT_EQ(api.request("POST", "/network/lab/announce", announce_body(record_of(alice, wall_ms()))).status,
              201);
  }
  registry->stop();
  registry->start();  // same database
  auto api = client(*registry, token);
  auto found = api.request("GET", "/network/lab/peer/" + alice.peer_id().to_string());
  ASSERT_EQ(found.status, 200) << found.raw;
  EXPECT_LE(found.body["expires_ms"].get<std::uint64_t>(), wall_ms() + 2000);
  // The registry's maximum lifetime passes: gone from lookups and from the list.
  ASSERT_TRUE(wait_until(
      [&] { return api.request("GET", "/network/lab/peer/" + alice.peer_id().to_string()).status == 404; },
      5s));
  EXPECT_EQ(api.request("GET", "/network/lab/active-peers").body["peers"].size(), 0u);
}

// Two nodes that were never introduced: each announces itself to the registry; alice messages
// bob's PeerId, the discovery chain finds his record there, and the message is delivered.
TEST_P(Registry, TwoNodesThatWereNeverIntroducedFindEachOtherThroughIt) {
  auto registry = start();
  const auto token = registry->create_token("lab");
  auto node_args = [&](std::vector<std::string> more = {}) {
    std::vector<std::string> args{"--registry", registry->url(),    "--network",
                                  "lab",        "--registry-token", token};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  LocalNode alice("alice", HYPHAE_BIN, dir_.path() / "alice", node_args());
  LocalNode bob("bob", HYPHAE_BIN, dir_.path() / "bob", node_args());
  alice.start();
  bob.start();
  auto api = client(*registry, token);
  ASSERT_TRUE(wait_until(
      [&] { return api.request("GET", "/network/lab/peer/" + bob.peer_id()).status == 200; }, 10s));
  auto sent = alice.api().request("POST", "/v1/messages",
                                  nlohmann::json{{"to", bob.peer_id()}, {"payload", "hi bob"}});
  ASSERT_EQ(sent.status, 201) << sent.raw;
  const auto id = sent.body["id"].get<std::string>();
  ASSERT_TRUE(wait_until(
      [&] {
        return alice.api().request("GET", "/v1/messages/" + id).body.value("status", "") == "delivered";
      },
      15s));
  auto view = alice.api().request("GET", "/v1/p2p/peers/" + bob.peer_id()).body;
  EXPECT_EQ(view["found_by"], "registry") << view.dump();
  // A super peer sends coordinator heartbeats: the registry lists it with its role.
  LocalNode hub("hub", HYPHAE_BIN, dir_.path() / "hub", node_args({"--role", "super_peer"}));
  hub.start();
  ASSERT_TRUE(wait_until(
      [&] { return api.request("GET", "/network/lab/peer/" + hub.peer_id()).status == 200; }, 10s));
  auto hub_entry = api.request("GET", "/network/lab/peer/" + hub.peer_id()).body;
  EXPECT_EQ(hub_entry["record"]["role"], "SUPER_PEER") << hub_entry.dump();
  EXPECT_NE(
      std::find(hub_entry["record"]["services"].begin(), hub_entry["record"]["services"].end(), "relay"),
      hub_entry["record"]["services"].end());
  EXPECT_EQ(view["record"]["source"], "registry");
  auto counters = alice.api().request("GET", "/v1/p2p/discovery").body["registry"];
  EXPECT_GE(counters["announces"].get<int>(), 1);
  EXPECT_EQ(counters["lookups_found"], 1);
  std::size_t received = 0;
  bob.api().stream(
      [&](const nlohmann::json& m) {
        EXPECT_EQ(m["payload"], "hi bob");
        ++received;
        return true;
      },
      500);
  EXPECT_EQ(received, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, Registry, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

// HTTPS with a self-signed certificate: the server speaks TLS only, and a node trusting that
// certificate announces and looks up over it.
TEST(RegistryTls, ServesHttpsWithACertificateAndNodesTrustItByCaFile) {
  TempDir dir;
  std::filesystem::path cert, key;
  make_self_signed_certificate(dir.path(), cert, key);
  LocalRegistry registry(HYPHAE_BIN, dir.path() / "registry", "sqlite:" + (dir.path() / "r.db").string());
  registry.set_tls(cert, key);
  registry.start();
  ASSERT_TRUE(registry.url().starts_with("https://"));
  std::string out;
  EXPECT_EQ(run_command("curl -sS --cacert '" + cert.string() + "' " + registry.url() + "/health", out), 0)
      << out;
  EXPECT_NE(out.find("\"ok\":true"), std::string::npos) << out;
  // Without trusting the certificate, a client refuses it; plain HTTP gets no answer.
  EXPECT_NE(run_command("curl -sS " + registry.url() + "/health", out), 0);
  EXPECT_NE(run_command(
                "curl -sS --max-time 3 http://127.0.0.1:" + std::to_string(registry.port()) + "/health", out),
            0);

  const auto token = registry.create_token("lab");
  auto args = [&] {
    return std::vector<std::string>{"--registry",       registry.url(), "--network",     "lab",
                                    "--registry-token", token,          "--registry-ca", cert.string()};
  };
  LocalNode alice("alice", HYPHAE_BIN, dir.path() / "alice", args());
  LocalNode bob("bob", HYPHAE_BIN, dir.path() / "bob", args());
  alice.start();
  bob.start();
  ASSERT_TRUE(wait_until(
      [&] {
        return bob.api().request("GET", "/v1/p2p/discovery").body["registry"]["announces"].get<int>() >= 1;
      },
      10s))
      << bob.api().request("GET", "/v1/p2p/discovery").body.dump();
  auto view = alice.api().request("POST", "/v1/p2p/peers/" + bob.peer_id() + "/find").body;
  ASSERT_TRUE(wait_until(
      [&] {
        return alice.api().request("GET", "/v1/p2p/peers/" + bob.peer_id()).body["state"] == "CONNECTED";
      },
      10s))
      << alice.api().request("GET", "/v1/p2p/peers/" + bob.peer_id()).body.dump();
  EXPECT_EQ(alice.api().request("GET", "/v1/p2p/peers/" + bob.peer_id()).body["found_by"], "registry");
}

}  // namespace
}  // namespace hyphae
