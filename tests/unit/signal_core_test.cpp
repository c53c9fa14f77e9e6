// The signaling core without sockets: a device proves its PeerId before anything reaches it;
// rooms announce joins and leaves and list members with capabilities; offers, answers, candidates
// and relay requests are forwarded opaquely; bad input, forged signatures, floods and full rooms
// get a clear ERROR or a close, never a crash.
#include "signaling/signal_core.hpp"

#include <gtest/gtest.h>

#include "core/identity.hpp"
#include "util/json_util.hpp"

namespace hyphae::signaling {
namespace {

struct Device {
  Identity id = Identity::generate();
  SignalCore::ConnId conn;
  std::string name() const { return id.peer_id().to_string(); }
};

struct Fixture {
  SignalCore core;
  std::uint64_t now = 1000;
  std::vector<SignalCore::Output> sent;
  std::vector<SignalCore::Close> closed;
  explicit Fixture(SignalOptions o = {}) : core(o) {}
  void take(SignalCore::Actions a) {
    sent.insert(sent.end(), a.send.begin(), a.send.end());
    closed.insert(closed.end(), a.close.begin(), a.close.end());
  }
  std::vector<nlohmann::json> to(SignalCore::ConnId conn) {
    std::vector<nlohmann::json> out;
    for (const auto& s : sent)
      if (s.to == conn) out.push_back(s.message);
    return out;
  }
  void send(const Device& d, const nlohmann::json& m) { take(core.received(d.conn, m.dump(), now)); }
  std::string sign(const Device& d) {
    const auto message = SignalCore::challenge_message(*core.challenge_of(d.conn), d.name());
    const auto sig =
        d.id.sign(ByteView(reinterpret_cast<const std::uint8_t*>(message.data()), message.size()));
    return base64_encode(ByteView(sig.data(), sig.size()));
  }
  Device join(SignalCore::ConnId conn) {
    Device d;
    d.conn = conn;
    take(core.connected(conn, d.name(), now));
    send(d, {{"type", "AUTH"}, {"signature", sign(d)}});
    return d;
  }
};

TEST(SignalCore, ADeviceProvesItsPeerIdBeforeAnythingReachesIt) {
  Fixture f;
  Device alice;
  alice.conn = 1;
  f.take(f.core.connected(1, alice.name(), f.now));
  auto challenge = f.to(1).back();
  EXPECT_EQ(challenge["type"], "CHALLENGE");
  EXPECT_EQ(challenge["deviceId"], alice.name());
  auto bob = f.join(2);
  // Unauthenticated: offers to alice are undeliverable, and alice can do nothing but AUTH.
  f.send(bob, {{"type", "OFFER"}, {"to", alice.name()}, {"payload", {{"sdp", "v=0"}}}});
  EXPECT_EQ(f.to(2).back()["type"], "ERROR");
  f.send(alice, {{"type", "JOIN"}, {"room", "r"}});
  EXPECT_EQ(f.to(1).back()["type"], "ERROR");
  // A signature by another key (mallory signing alice's challenge) fails and closes.
  Device mallory;
  mallory.conn = 1;
  const auto message = SignalCore::challenge_message(*f.core.challenge_of(1), alice.name());
  const auto forged =
      mallory.id.sign(ByteView(reinterpret_cast<const std::uint8_t*>(message.data()), message.size()));
  f.send(alice, {{"type", "AUTH"}, {"signature", base64_encode(ByteView(forged.data(), forged.size()))}});
  ASSERT_EQ(f.closed.size(), 1u);
  EXPECT_EQ(f.closed[0].conn, 1u);
  EXPECT_EQ(f.core.counters().auth_failures, 1u);
  f.take(f.core.disconnected(1));
  // The real alice authenticates and then receives bob's offer, opaque, with its sender.
  alice.conn = 3;
  f.take(f.core.connected(3, alice.name(), f.now));
  f.send(alice, {{"type", "AUTH"}, {"signature", f.sign(alice)}});
  EXPECT_EQ(f.to(3).back()["type"], "AUTHENTICATED");
  f.send(bob, {{"type", "OFFER"}, {"to", alice.name()}, {"payload", {{"sdp", "v=0"}}}});
  EXPECT_EQ(f.to(3).back()["from"], bob.name());
  EXPECT_EQ(f.to(3).back()["payload"]["sdp"], "v=0");
  // A second authenticated connection of alice replaces the first, which is closed.
  Device again = alice;
  again.conn = 4;
  f.take(f.core.connected(4, alice.name(), f.now));
  f.send(again, {{"type", "AUTH"}, {"signature", f.sign(again)}});
  EXPECT_EQ(f.closed.back().conn, 3u);
  f.send(bob, {{"type", "ANSWER"}, {"to", alice.name()}, {"payload", 2}});
  EXPECT_EQ(f.to(4).back()["type"], "ANSWER");
}

TEST(SignalCore, OffersAnswersAndCandidatesAreForwardedOpaquelyBetweenAuthenticatedDevices) {
  Fixture f;
  auto alice = f.join(1);
  auto bob = f.join(2);
  EXPECT_EQ(f.to(1).back()["type"], "AUTHENTICATED");
  const nlohmann::json sdp{{"sdp", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}, {"extra", {1, 2, 3}}};
  for (const char* type : {"OFFER", "ANSWER", "ICE_CANDIDATE", "RELAY_REQUEST"}) {
    f.send(alice, {{"type", type}, {"to", bob.name()}, {"payload", sdp}});
    auto got = f.to(2).back();
    EXPECT_EQ(got["type"], type);
    EXPECT_EQ(got["from"], alice.name());
    EXPECT_EQ(got["payload"], sdp);
  }
  EXPECT_EQ(f.core.counters().forwarded, 4u);
  f.send(bob, {{"type", "ANSWER"}, {"to", Identity::generate().peer_id().to_string()}, {"payload", 1}});
  EXPECT_EQ(f.to(2).back()["error"], "that device is not connected");
}

TEST(SignalCore, RoomsListMembersWithCapabilitiesAndAnnounceJoinsAndLeaves) {
  Fixture f;
  auto alice = f.join(1);
  auto bob = f.join(2);
  f.send(alice, {{"type", "JOIN"}, {"room", "lobby"}, {"capabilities", {{"webrtc", true}}}});
  auto room = f.to(1).back();
  EXPECT_EQ(room["type"], "ROOM");
  ASSERT_EQ(room["members"].size(), 1u);
  f.send(bob, {{"type", "JOIN"}, {"room", "lobby"}, {"capabilities", {{"relay", true}}}});
  room = f.to(2).back();
  ASSERT_EQ(room["members"].size(), 2u);
  auto joined = f.to(1).back();
  EXPECT_EQ(joined["type"], "PEER_JOINED");
  EXPECT_EQ(joined["deviceId"], bob.name());
  EXPECT_EQ(joined["capabilities"]["relay"], true);
  f.send(bob, {{"type", "LEAVE"}, {"room", "lobby"}});
  EXPECT_EQ(f.to(1).back()["type"], "PEER_LEFT");
  f.send(bob, {{"type", "JOIN"}, {"room", "lobby"}});
  f.take(f.core.disconnected(2));  // a dropped connection leaves its rooms
  EXPECT_EQ(f.to(1).back()["type"], "PEER_LEFT");
  EXPECT_EQ(f.to(1).back()["deviceId"], bob.name());
  f.take(f.core.disconnected(1));
  EXPECT_EQ(f.core.rooms(), 0u);
  EXPECT_EQ(f.core.connections(), 0u);
}

TEST(SignalCore, BadInputFloodsAndFullRoomsGetAnErrorOrACloseAndTheCoreServesOn) {
  SignalOptions o;
  o.max_members_per_room = 2;
  o.max_rooms_per_device = 2;
  o.max_connections = 3;
  o.burst = 20;
  o.messages_per_second = 10;
  Fixture f(o);
  // Not a PeerId: refused at once.
  f.take(f.core.connected(9, "not-a-peer", f.now));
  ASSERT_EQ(f.closed.size(), 1u);
  auto alice = f.join(1);
  auto bob = f.join(2);
  auto carol = f.join(3);
  for (const char* bad : {"", "{", "[]", "{\"type\":5}", "{\"type\":\"NOPE\"}", "{\"type\":\"JOIN\"}",
                          "{\"type\":\"OFFER\",\"payload\":1}", "{\"type\":\"JOIN\",\"room\":\"\"}"}) {
    f.take(f.core.received(1, bad, f.now));
    EXPECT_EQ(f.to(1).back()["type"], "ERROR") << bad;
  }
  f.take(f.core.received(1, std::string(70 * 1024, 'x'), f.now));  // oversized: closed
  EXPECT_EQ(f.closed.back().conn, 1u);
  f.take(f.core.disconnected(1));
  alice = f.join(4);
  // Full room, too many rooms.
  f.send(alice, {{"type", "JOIN"}, {"room", "a"}});
  f.send(bob, {{"type", "JOIN"}, {"room", "a"}});
  f.send(carol, {{"type", "JOIN"}, {"room", "a"}});
  EXPECT_EQ(f.to(3).back()["error"], "room limit reached");
  f.send(alice, {{"type", "JOIN"}, {"room", "b"}});
  f.send(alice, {{"type", "JOIN"}, {"room", "c"}});
  EXPECT_EQ(f.to(4).back()["error"], "room limit reached");
  // A full server refuses the next connection.
  Device extra;
  f.take(f.core.connected(5, extra.name(), f.now));
  EXPECT_EQ(f.closed.back().conn, 5u);
  // A flood: the first burst passes, then ERRORs, then the connection is closed.
  const auto closes_before = f.closed.size();
  for (int i = 0; i < 100; ++i) f.send(bob, {{"type", "PING"}});
  EXPECT_GT(f.core.counters().rate_limited, 0u);
  EXPECT_EQ(f.closed.size(), closes_before + 1);
  EXPECT_EQ(f.closed.back().conn, 2u);
  // Time restores the allowance.
  f.now += 5000;
  f.send(carol, {{"type", "PING"}});
  EXPECT_EQ(f.to(3).back()["type"], "PONG");
}

}  // namespace
}  // namespace hyphae::signaling
