// Circuit relaying without sockets: the relay message codec, RelayCore's reservations, circuits and
// limits on a simulated clock, and floods of what a stranger can send a relay.
#include "relay/relay_core.hpp"

#include <gtest/gtest.h>

#include <set>

#include "core/error.hpp"
#include "core/identity.hpp"

namespace hyphae::relay {
namespace {

PeerId fresh_peer() {
  return Identity::generate().peer_id();
}

RelayMessage decode(const Bytes& b) {
  auto m = decode_relay_message(b);
  EXPECT_TRUE(m) << "undecodable";
  return m ? *m : RelayMessage{};
}

TEST(RelayMessages, EveryTypeRoundTrips) {
  const PeerId p = fresh_peer();
  const Bytes payload{1, 2, 3, 4};
  for (auto type : {RelayType::reserve, RelayType::connect, RelayType::accept, RelayType::data,
                    RelayType::close, RelayType::store, RelayType::reserved, RelayType::refused,
                    RelayType::incoming, RelayType::connected, RelayType::relayed, RelayType::closed}) {
    RelayMessage m;
    m.type = type;
    m.circuit = 77;
    m.peer = p;
    m.data = payload;
    m.status = RelayStatus::circuit_limit;
    m.reason = "why";
    m.ttl_ms = 1;
    m.max_bytes = 2;
    m.max_duration_ms = 3;
    m.max_circuits = 4;
    const Bytes wire = encode_relay_message(m);
    auto back = decode_relay_message(wire);
    ASSERT_TRUE(back) << static_cast<int>(type);
    EXPECT_EQ(back->type, type);
    EXPECT_EQ(back->circuit, 77u);
    EXPECT_EQ(back->peer, p);
    EXPECT_EQ(Bytes(back->data.begin(), back->data.end()), payload);
    EXPECT_EQ(back->status, RelayStatus::circuit_limit);
    EXPECT_EQ(back->reason, "why");
    EXPECT_EQ(back->ttl_ms + back->max_bytes + back->max_duration_ms + back->max_circuits, 10u);
  }
  Bytes fast;
  encode_relay_data(fast, RelayType::relayed, kRelayCircuitBit | 5, payload);
  auto m = decode(fast);
  EXPECT_EQ(m.type, RelayType::relayed);
  EXPECT_EQ(m.circuit, kRelayCircuitBit | 5);
}

TEST(RelayMessages, MalformedInputIsRefused) {
  const auto bad = [](Bytes b) {
    return decode_relay_message(b).error() == make_error_code(Errc::malformed);
  };
  EXPECT_TRUE(bad({}));
  EXPECT_TRUE(bad({0}));
  EXPECT_TRUE(bad({7}));
  EXPECT_TRUE(bad({99}));
  EXPECT_TRUE(bad({static_cast<std::uint8_t>(RelayType::connect), 0x08, 0x01}));              // no target
  EXPECT_TRUE(bad({static_cast<std::uint8_t>(RelayType::data), 0x08, 0x01}));                 // no data
  EXPECT_TRUE(bad({static_cast<std::uint8_t>(RelayType::accept)}));                           // no circuit
  EXPECT_TRUE(bad({static_cast<std::uint8_t>(RelayType::data), 0x08, 0x01, 0x1a, 0x05, 1}));  // truncated
  EXPECT_TRUE(bad({static_cast<std::uint8_t>(RelayType::incoming), 0x08, 0x01, 0x12, 0x02, 9, 9}));  // bad id
  RelayMessage big;
  big.type = RelayType::data;
  big.circuit = 1;
  Bytes huge(kMaxRelayData + 1, 7);
  big.data = huge;
  EXPECT_TRUE(bad(encode_relay_message(big)));
  big.type = RelayType::store;
  EXPECT_TRUE(decode_relay_message(encode_relay_message(big)));
  EXPECT_FALSE(decode_relay_message(encode_relay_message(big), 1000));
}

// A relay with three clients, on a simulated clock.
struct Lab {
  RelayLimits limits;
  std::set<PeerId> online;
  std::unique_ptr<RelayCore> core;
  PeerId a = fresh_peer(), b = fresh_peer(), c = fresh_peer();
  std::uint64_t now = 1000;
  RelayCore::Out out;

  explicit Lab(RelayLimits l = {}) : limits(l) {
    online = {a, b, c};
    core = std::make_unique<RelayCore>(limits, [this](const PeerId& p) { return online.contains(p); });
  }
  RelayCore::Out send(const PeerId& from, RelayMessage m) {
    out.clear();
    core->on_message(from, m, now, out);
    return std::move(out);
  }
  RelayCore::Out reserve(const PeerId& who) {
    RelayMessage m;
    m.type = RelayType::reserve;
    return send(who, m);
  }
  RelayCore::Out connect(const PeerId& from, const PeerId& to, std::uint64_t id) {
    RelayMessage m;
    m.type = RelayType::connect;
    m.circuit = id;
    m.peer = to;
    return send(from, m);
  }
  RelayCore::Out accept(const PeerId& who, std::uint64_t id) {
    RelayMessage m;
    m.type = RelayType::accept;
    m.circuit = id;
    return send(who, m);
  }
  RelayCore::Out data(const PeerId& from, std::uint64_t id, const Bytes& bytes) {
    RelayMessage m;
    m.type = RelayType::data;
    m.circuit = id;
    m.data = bytes;
    return send(from, m);
  }
  // Opens a circuit a -> b (b reserved); returns the relay's id for b's side.
  std::uint64_t open(const PeerId& from, const PeerId& to, std::uint64_t id) {
    auto o = connect(from, to, id);
    EXPECT_EQ(o.size(), 1u);
    if (o.empty()) return 0;
    auto incoming = decode(o[0].message);
    EXPECT_EQ(incoming.type, RelayType::incoming);
    EXPECT_EQ(o[0].to, to);
    EXPECT_EQ(incoming.peer, from);
    auto c = accept(to, incoming.circuit);
    EXPECT_EQ(c.size(), 1u);
    if (!c.empty()) {
      EXPECT_EQ(c[0].to, from);
      EXPECT_EQ(decode(c[0].message).type, RelayType::connected);
      EXPECT_EQ(decode(c[0].message).circuit, id);
    }
    return incoming.circuit;
  }
};

TEST(RelayCore, AReservationGrantsItsTermsAndACircuitCarriesBytesBothWays) {
  Lab lab;
  auto r = lab.reserve(lab.b);
  ASSERT_EQ(r.size(), 1u);
  auto terms = decode(r[0].message);
  EXPECT_EQ(terms.type, RelayType::reserved);
  EXPECT_EQ(terms.ttl_ms, lab.limits.reservation_ttl_ms);
  EXPECT_EQ(terms.max_bytes, lab.limits.max_circuit_bytes);
  EXPECT_EQ(terms.max_circuits, lab.limits.max_circuits_per_peer);
  EXPECT_TRUE(lab.core->has_reservation(lab.b, lab.now));

  const auto target_id = lab.open(lab.a, lab.b, 5);
  EXPECT_TRUE(target_id & kRelayCircuitBit);
  auto fwd = lab.data(lab.a, 5, Bytes{1, 2, 3});
  ASSERT_EQ(fwd.size(), 1u);
  EXPECT_EQ(fwd[0].to, lab.b);
  auto m = decode(fwd[0].message);
  EXPECT_EQ(m.type, RelayType::relayed);
  EXPECT_EQ(m.circuit, target_id);
  EXPECT_EQ(Bytes(m.data.begin(), m.data.end()), (Bytes{1, 2, 3}));
  auto back = lab.data(lab.b, target_id, Bytes{9});
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].to, lab.a);
  EXPECT_EQ(decode(back[0].message).circuit, 5u);
  EXPECT_EQ(lab.core->stats().bytes_relayed, 4u);
  EXPECT_EQ(lab.core->stats().circuits_open, 1u);

  // Either end closing tells the other one.
  RelayMessage close;
  close.type = RelayType::close;
  close.circuit = target_id;
  auto closed = lab.send(lab.b, close);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].to, lab.a);
  EXPECT_EQ(decode(closed[0].message).type, RelayType::closed);
  EXPECT_EQ(decode(closed[0].message).status, RelayStatus::closed_by_peer);
  EXPECT_EQ(lab.core->stats().circuits, 0u);
}

TEST(RelayCore, CircuitsNeedAReservedConnectedTarget) {
  Lab lab;
  auto refused = lab.connect(lab.a, lab.b, 1);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].to, lab.a);
  EXPECT_EQ(decode(refused[0].message).status, RelayStatus::no_reservation);
  lab.reserve(lab.b);
  lab.online.erase(lab.b);
  EXPECT_EQ(decode(lab.connect(lab.a, lab.b, 2)[0].message).status, RelayStatus::not_connected);
  lab.online.insert(lab.b);
  // Ids with the relay's bit, zero, reused ids and circuits to oneself are refused.
  EXPECT_EQ(decode(lab.connect(lab.a, lab.b, kRelayCircuitBit | 1)[0].message).status,
            RelayStatus::malformed);
  EXPECT_EQ(decode(lab.connect(lab.a, lab.b, 0)[0].message).status, RelayStatus::malformed);
  EXPECT_EQ(decode(lab.connect(lab.b, lab.b, 3)[0].message).status, RelayStatus::malformed);
  lab.open(lab.a, lab.b, 4);
  EXPECT_EQ(decode(lab.connect(lab.a, lab.b, 4)[0].message).status, RelayStatus::malformed);
  // The reservation expires.
  lab.now += lab.limits.reservation_ttl_ms;
  lab.core->tick(lab.now, lab.out);
  EXPECT_FALSE(lab.core->has_reservation(lab.b, lab.now));
  EXPECT_EQ(decode(lab.connect(lab.a, lab.b, 6)[0].message).status, RelayStatus::no_reservation);
}

TEST(RelayCore, DataAndDurationLimitsEndCircuitsForBothEnds) {
  RelayLimits limits;
  limits.max_circuit_bytes = 10;
  limits.max_circuit_duration_ms = 5000;
  Lab lab(limits);
  lab.reserve(lab.b);
  auto id = lab.open(lab.a, lab.b, 1);
  EXPECT_EQ(lab.data(lab.a, 1, Bytes(6, 0)).size(), 1u);
  auto over = lab.data(lab.b, id, Bytes(5, 0));  // 11 bytes in all
  ASSERT_EQ(over.size(), 2u);
  for (const auto& s : over) EXPECT_EQ(decode(s.message).status, RelayStatus::data_limit);
  EXPECT_EQ(lab.core->stats().circuits, 0u);

  lab.open(lab.a, lab.b, 2);
  lab.now += 4999;
  lab.core->tick(lab.now, lab.out);
  EXPECT_TRUE(lab.out.empty());
  lab.now += 1;
  lab.core->tick(lab.now, lab.out);
  ASSERT_EQ(lab.out.size(), 2u);
  EXPECT_EQ(decode(lab.out[0].message).status, RelayStatus::duration_limit);
  lab.out.clear();

  // A target that never accepts: the circuit times out.
  lab.connect(lab.a, lab.b, 3);
  lab.now += lab.limits.accept_timeout_ms;
  lab.core->tick(lab.now, lab.out);
  ASSERT_EQ(lab.out.size(), 2u);
  EXPECT_EQ(decode(lab.out[0].message).status, RelayStatus::timeout);
  EXPECT_EQ(lab.core->stats().circuits, 0u);
}

TEST(RelayCore, PerPeerTotalAndReservationLimitsHold) {
  RelayLimits limits;
  limits.max_circuits_per_peer = 3;
  limits.max_circuits = 4;
  limits.max_reservations = 2;
  limits.request_burst = 1000;
  Lab lab(limits);
  lab.reserve(lab.b);
  lab.reserve(lab.c);
  EXPECT_EQ(decode(lab.reserve(lab.a)[0].message).status, RelayStatus::reservation_limit);
  EXPECT_EQ(decode(lab.reserve(lab.b)[0].message).type, RelayType::reserved);  // a renewal is fine
  for (std::uint64_t i = 1; i <= 3; ++i) lab.open(lab.a, lab.b, i);
  EXPECT_EQ(decode(lab.connect(lab.a, lab.c, 4)[0].message).status, RelayStatus::circuit_limit);  // a's 3
  EXPECT_EQ(decode(lab.connect(lab.c, lab.b, 5)[0].message).status, RelayStatus::circuit_limit);  // b's 3
  EXPECT_EQ(lab.core->stats().circuits, 3u);
  const PeerId d = fresh_peer();
  lab.online.insert(d);
  lab.open(d, lab.c, 6);
  EXPECT_EQ(lab.core->stats().circuits, 4u);
  const PeerId e = fresh_peer();
  EXPECT_EQ(decode(lab.connect(e, lab.c, 7)[0].message).status, RelayStatus::circuit_limit);  // 4 in all
  // A peer's link going down ends its circuits; the other ends hear why.
  lab.out.clear();
  lab.core->on_peer_down(lab.a, lab.out);
  ASSERT_EQ(lab.out.size(), 3u);
  for (const auto& s : lab.out) {
    EXPECT_EQ(s.to, lab.b);
    EXPECT_EQ(decode(s.message).status, RelayStatus::link_lost);
  }
  EXPECT_EQ(lab.core->stats().circuits, 1u);
  lab.core->on_peer_down(lab.b, lab.out);
  EXPECT_FALSE(lab.core->has_reservation(lab.b, lab.now));
}

TEST(RelayCore, AFloodOfRequestsAndStrayDataLeavesNoState) {
  RelayLimits limits;
  limits.request_burst = 50;
  limits.requests_per_second = 10;
  Lab lab(limits);
  lab.reserve(lab.b);
  // 10 000 connects from one peer in one instant: the burst gets through the bucket, the rest are
  // refused as rate-limited, and the per-peer limit caps the circuits.
  std::size_t rate_limited = 0;
  for (std::uint64_t i = 1; i <= 10'000; ++i) {
    auto o = lab.connect(lab.a, lab.b, i);
    if (o.size() == 1 && o[0].to == lab.a && decode(o[0].message).status == RelayStatus::rate_limited)
      ++rate_limited;
  }
  EXPECT_GE(rate_limited, 10'000u - limits.request_burst);
  EXPECT_LE(lab.core->stats().circuits, limits.max_circuits_per_peer);
  // Data for circuits that do not exist, from everyone: dropped, counted, nothing kept.
  for (std::uint64_t i = 0; i < 100'000; ++i) EXPECT_TRUE(lab.data(lab.c, i, Bytes{1}).empty());
  EXPECT_GE(lab.core->stats().dropped, 100'000u);
  // Pending circuits time out and leave nothing.
  lab.now += limits.accept_timeout_ms;
  lab.core->tick(lab.now, lab.out);
  EXPECT_EQ(lab.core->stats().circuits, 0u);
}

TEST(RelayCore, TenThousandCircuitsFitTheirBudget) {
  RelayLimits limits;
  limits.max_circuits = 10'000;
  limits.max_circuits_per_peer = 10'000;
  limits.request_burst = 1e9;
  Lab lab(limits);
  std::vector<PeerId> targets;
  for (int i = 0; i < 100; ++i) {
    targets.push_back(fresh_peer());
    lab.online.insert(targets.back());
    lab.reserve(targets.back());
  }
  for (std::uint64_t i = 0; i < 10'000; ++i) lab.open(lab.a, targets[i % targets.size()], i + 1);
  EXPECT_EQ(lab.core->stats().circuits_open, 10'000u);
  EXPECT_LE(RelayCore::bytes_per_circuit(), 20u * 1024);
  EXPECT_EQ(decode(lab.connect(lab.c, targets[0], 1)[0].message).status, RelayStatus::circuit_limit);
}

}  // namespace
}  // namespace hyphae::relay
