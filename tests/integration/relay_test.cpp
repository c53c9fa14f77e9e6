// A super peer's relay service between real processes on loopback, attacked by a stranger that
// completed a handshake: floods of circuit requests for peers without reservations, bytes for
// circuits that do not exist, held-message requests that are forged, unsigned, for strangers or over
// the quota, and a malformed relay message. Each is a counted refusal or drop; nothing is held that
// should not be; the node serves on. A basic node refuses to relay at all.
#include <chrono>
#include <fstream>

#include "core/envelope.hpp"
#include "core/identity.hpp"
#include "harness.hpp"
#include "node/sealing.hpp"
#include "raw_peer.hpp"
#include "relay/relay_messages.hpp"

namespace hyphae::testing {
namespace {

using namespace std::chrono_literals;
using relay::RelayMessage;
using relay::RelayStatus;
using relay::RelayType;

nlohmann::json relay_stats(LocalNode& node) {
  return ok(node.api().request("GET", "/v1/p2p/discovery"))["relay"];
}

Bytes message(RelayType type, std::uint64_t circuit = 0, std::optional<PeerId> peer = std::nullopt,
              ByteView data = {}) {
  RelayMessage m;
  m.type = type;
  m.circuit = circuit;
  m.peer = peer;
  m.data = data;
  return encode_relay_message(m);
}

// The relay messages `peer` received, decoded.
std::vector<RelayMessage> received(const RawPeer& peer, std::vector<Bytes>& keep) {
  keep = peer.relay_records();
  std::vector<RelayMessage> out;
  for (const auto& b : keep)
    if (auto m = relay::decode_relay_message(b)) out.push_back(*m);
  return out;
}

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// An envelope from `sender` to `recipient`, signed and sealed as a node hands it to a coordinator.
Bytes held_envelope(const Identity& sender, const PeerId& recipient, bool sign = true) {
  Envelope env;
  env.id = MessageId::generate();
  env.from = sender.peer_id();
  env.to = recipient;
  env.timestamp_ms = wall_ms();
  env.ttl_s = 3600;
  env.flags = envelope_flags::ack_requested | envelope_flags::sealed;
  noise::KeyPair keys;
  keys.priv = sender.x25519_private();
  keys.pub = sender.x25519_public();
  env.payload = *seal_payload(keys, *Identity::x25519_public_of(recipient), as_bytes("held"));
  if (sign) sign_envelope(env, sender);
  return encode_envelope(env);
}

TEST(Relay, ASuperPeerRefusesAndCountsEveryFloodAndServesOn) {
  TempDir dir;
  const auto config = dir.path() / "hub.yaml";
  std::ofstream(config) << "relay:\n  max_held_per_peer: 5\n  max_circuits_per_peer: 4\n";
  LocalNode hub("hub", hyphae_binary(), dir.path() / "hub", {"--role", "super_peer"});
  hub.set_config_file(config);
  hub.start();
  auto hub_id = PeerId::from_string(hub.peer_id());
  ASSERT_TRUE(hub_id);
  std::vector<Bytes> keep;

  RawPeer target(hub.listen_port(), *hub_id);
  target.send(stream::RecordType::relay, message(RelayType::reserve));
  target.pump_until([&] { return !target.relay_records().empty(); });
  auto got = received(target, keep);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, RelayType::reserved);
  EXPECT_GT(got[0].ttl_ms, 0u);
  EXPECT_EQ(got[0].max_circuits, 4u);

  RawPeer stranger(hub.listen_port(), *hub_id);
  // 2000 circuit requests for peers with no reservation: each refused, none kept.
  std::vector<Bytes> connects;
  for (std::uint64_t i = 1; i <= 2000; ++i)
    connects.push_back(message(RelayType::connect, i, Identity::generate().peer_id()));
  stranger.send_burst(stream::RecordType::relay, connects);
  stranger.pump_until([&] { return stranger.relay_records().size() >= 2000; });
  got = received(stranger, keep);
  ASSERT_EQ(got.size(), 2000u);
  for (const auto& m : got) {
    EXPECT_EQ(m.type, RelayType::closed);
    EXPECT_TRUE(m.status == RelayStatus::no_reservation || m.status == RelayStatus::rate_limited);
  }
  // Circuits to the reserved target (which never accepts them): at most max_circuits_per_peer exist
  // at once, and they end with the caller's link.
  {
    RawPeer caller(hub.listen_port(), *hub_id);
    std::vector<Bytes> to_target;
    for (std::uint64_t i = 1; i <= 10; ++i)
      to_target.push_back(message(RelayType::connect, i, target.identity().peer_id()));
    caller.send_burst(stream::RecordType::relay, to_target);
    caller.pump_until([&] { return caller.relay_records().size() >= 6; });
    got = received(caller, keep);
    ASSERT_EQ(got.size(), 6u);
    for (const auto& m : got) EXPECT_EQ(m.status, RelayStatus::circuit_limit);
    EXPECT_EQ(relay_stats(hub)["circuits"], 4) << relay_stats(hub).dump();
  }
  ASSERT_TRUE(wait_until([&] { return relay_stats(hub)["circuits"] == 0; }, 10s)) << relay_stats(hub).dump();
  // 5000 data messages for circuits that do not exist.
  std::vector<Bytes> stray;
  const Bytes junk(100, 0xAB);
  for (std::uint64_t i = 0; i < 5000; ++i)
    stray.push_back(message(RelayType::data, 100'000 + i, std::nullopt, junk));
  stranger.send_burst(stream::RecordType::relay, stray);
  ASSERT_TRUE(wait_until([&] { return relay_stats(hub)["dropped"].get<int>() >= 5000; }, 10s))
      << relay_stats(hub).dump();
  EXPECT_EQ(relay_stats(hub)["bytes_relayed"], 0);

  // Held messages: unsigned, someone else's, for a peer the hub does not serve: all refused.
  const Identity other = Identity::generate();
  std::vector<Bytes> stores;
  stores.push_back(message(RelayType::store, 0, std::nullopt, Bytes{1, 2, 3}));
  stores.push_back(message(RelayType::store, 0, std::nullopt,
                           held_envelope(stranger.identity(), target.identity().peer_id(), false)));
  stores.push_back(
      message(RelayType::store, 0, std::nullopt, held_envelope(other, target.identity().peer_id())));
  stores.push_back(message(RelayType::store, 0, std::nullopt,
                           held_envelope(stranger.identity(), Identity::generate().peer_id())));
  // Ten good ones for the reserved target: five fit its quota.
  for (int i = 0; i < 10; ++i)
    stores.push_back(message(RelayType::store, 0, std::nullopt,
                             held_envelope(stranger.identity(), target.identity().peer_id())));
  const auto before = stranger.relay_records().size();
  stranger.send_burst(stream::RecordType::relay, stores);
  stranger.pump_until([&] { return stranger.relay_records().size() >= before + stores.size(); });
  got = received(stranger, keep);
  std::size_t held = 0, refused = 0;
  for (std::size_t i = before; i < got.size(); ++i) {
    if (got[i].type != RelayType::store_result) continue;
    (got[i].status == RelayStatus::ok ? held : refused)++;
  }
  EXPECT_EQ(held, 5u);
  EXPECT_EQ(refused, 9u);
  auto stats = relay_stats(hub);
  EXPECT_EQ(stats["held_messages"], 5) << stats.dump();
  EXPECT_EQ(stats["held_refused"], 9) << stats.dump();
  // The target is connected, so the five are handed to it at once; its acks delete them.
  target.pump_until([&] { return target.data_records().size() >= 5; });
  EXPECT_EQ(target.data_records().size(), 5u);
  // `hyphae relay` says the same.
  const auto cli = run_cli(hub.data_dir(), "relay");
  EXPECT_EQ(cli.status, 0) << cli.text;
  EXPECT_NE(cli.text.find("held for offline peers: 5 (0 handed over, 9 refused)"), std::string::npos)
      << cli.text;

  // A malformed relay message closes that link only.
  stranger.send(stream::RecordType::relay, Bytes{99, 1, 2});
  stranger.pump_until([] { return false; });
  EXPECT_TRUE(stranger.closed());
  EXPECT_TRUE(hub.running());
  RawPeer later(hub.listen_port(), *hub_id);
  later.send(stream::RecordType::relay, message(RelayType::reserve));
  later.pump_until([&] { return !later.relay_records().empty(); });
  EXPECT_EQ(received(later, keep).at(0).type, RelayType::reserved);
}

TEST(Relay, ABasicNodeDoesNotRelayOrHold) {
  TempDir dir;
  LocalNode plain("plain", hyphae_binary(), dir.path() / "plain");
  plain.start();
  auto id = PeerId::from_string(plain.peer_id());
  ASSERT_TRUE(id);
  RawPeer peer(plain.listen_port(), *id);
  peer.send_burst(
      stream::RecordType::relay,
      {message(RelayType::reserve), message(RelayType::connect, 1, Identity::generate().peer_id()),
       message(RelayType::store, 0, std::nullopt, held_envelope(peer.identity(), *id))});
  peer.pump_until([&] { return peer.relay_records().size() >= 3; });
  std::vector<Bytes> keep;
  auto got = received(peer, keep);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].type, RelayType::refused);
  EXPECT_EQ(got[1].type, RelayType::closed);
  EXPECT_EQ(got[2].type, RelayType::store_result);
  for (const auto& m : got) EXPECT_EQ(m.status, RelayStatus::not_a_relay);
  EXPECT_FALSE(relay_stats(plain)["serving"].get<bool>());

  // Posing as a relay: terms nobody asked for are ignored, circuits it never requested or reserved
  // for are refused, bytes for unknown circuits go nowhere.
  RelayMessage terms;
  terms.type = RelayType::reserved;
  terms.ttl_ms = 3'600'000;
  RelayMessage incoming;
  incoming.type = RelayType::incoming;
  incoming.circuit = relay::kRelayCircuitBit | 7;
  incoming.peer = Identity::generate().peer_id();
  peer.send_burst(
      stream::RecordType::relay,
      {encode_relay_message(terms), encode_relay_message(incoming), message(RelayType::connected, 42),
       message(RelayType::relayed, 42, std::nullopt, Bytes{1, 2}), message(RelayType::closed, 43)});
  peer.pump_until([&] { return peer.relay_records().size() >= 4; });
  got = received(peer, keep);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3].type, RelayType::close);
  EXPECT_EQ(got[3].circuit, incoming.circuit);
  EXPECT_EQ(got[3].status, RelayStatus::refused_by_target);
  EXPECT_TRUE(relay_stats(plain)["reserved_at"].empty());
  EXPECT_TRUE(peer.established());
  EXPECT_FALSE(peer.closed());
}

}  // namespace
}  // namespace hyphae::testing
