// The relay transport on both ends of a circuit, in one process: two RelayTransports whose carrier is
// a queue into a RelayCore (the relay side), so reservations, circuits, the Noise session inside and
// the ends of a circuit run without sockets.
#include "transport/relay/relay_transport.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/identity.hpp"
#include "relay/relay_core.hpp"

namespace hyphae::transport {
namespace {

using relay::RelayCore;
using relay::RelayMessage;

struct Sink : TransportSink {
  std::vector<PeerId> up, down;
  std::vector<CloseReason> reasons;
  std::vector<Bytes> records;
  void on_session_up(Transport&, const PeerId& p, std::uint64_t) override { up.push_back(p); }
  void on_session_down(Transport&, const PeerId& p, std::uint64_t, const CloseReason& r) override {
    down.push_back(p);
    reasons.push_back(r);
  }
  void on_record(Transport&, const PeerId&, std::uint64_t, RecordKind, ByteView b) override {
    records.emplace_back(b.begin(), b.end());
  }
  void on_drained(Transport&, const PeerId&) override {}
  void on_availability(Transport&, bool, const std::string&) override {}
  bool wants_session(Transport&, const PeerId&) override { return true; }
};

// Everything a client sends to the relay waits in `to_relay` until pump() hands it to the core.
struct Lab;
struct Carrier : RelayCarrier {
  Lab* lab = nullptr;
  PeerId self;
  bool up = true;
  bool carrier_up(const PeerId&) const override { return up; }
  std::error_code send_to_relay(const PeerId& relay, ByteView message) override;
  std::size_t carrier_backlog(const PeerId&) const override { return 0; }
  void want_carrier(const PeerId&) override {}
};

struct Lab {
  boost::asio::io_context io;
  Identity alice_id = Identity::generate(), carol_id = Identity::generate();
  PeerId relay_peer = Identity::generate().peer_id();
  Sink alice_sink, carol_sink;
  Carrier alice_carrier, carol_carrier;
  std::unique_ptr<RelayTransport> alice, carol;
  RelayCore core{relay::RelayLimits{}, [](const PeerId&) { return true; }};
  std::deque<std::pair<PeerId, Bytes>> to_relay;

  Lab() {
    auto make = [&](const Identity& id, Sink& sink, Carrier& carrier) {
      carrier.lab = this;
      carrier.self = id.peer_id();
      TransportContext context{.name = "relay",
                               .strand = boost::asio::make_strand(io.get_executor()),
                               .identity = &id,
                               .sink = &sink,
                               .max_record_bytes = 1 << 20};
      auto t = std::make_unique<RelayTransport>(std::move(context), carrier, 2);
      EXPECT_FALSE(t->start());
      return t;
    };
    alice = make(alice_id, alice_sink, alice_carrier);
    carol = make(carol_id, carol_sink, carol_carrier);
  }
  RelayTransport& of(const PeerId& p) { return p == alice_id.peer_id() ? *alice : *carol; }
  // Runs posted work and the relay until nothing moves.
  void pump() {
    for (int round = 0; round < 1000; ++round) {
      io.poll();
      io.restart();
      if (to_relay.empty()) return;
      auto [from, bytes] = std::move(to_relay.front());
      to_relay.pop_front();
      auto m = relay::decode_relay_message(bytes);
      ASSERT_TRUE(m);
      RelayCore::Out out;
      core.on_message(from, *m, 1000, out);
      for (auto& s : out) {
        auto reply = relay::decode_relay_message(s.message);
        ASSERT_TRUE(reply);
        of(s.to).on_relay_message(relay_peer, *reply);
      }
    }
    FAIL() << "the lab did not settle";
  }
  void reserve_carol() {
    ASSERT_TRUE(carol->want_relay(relay_peer));
    pump();
    ASSERT_EQ(carol->reserved_relays(), std::vector<PeerId>{relay_peer});
  }
  void dial_carol() {
    ASSERT_FALSE(
        alice->add_addresses(carol_id.peer_id(), {"/p2p/" + relay_peer.to_string() + "/p2p-circuit"}));
    alice->tick(0);
    pump();
  }
};

std::error_code Carrier::send_to_relay(const PeerId&, ByteView message) {
  lab->to_relay.emplace_back(self, Bytes(message.begin(), message.end()));
  return {};
}

TEST(RelayTransport, ACircuitCarriesANoiseSessionBetweenTheTwoEnds) {
  Lab lab;
  lab.reserve_carol();
  lab.dial_carol();
  ASSERT_EQ(lab.alice_sink.up.size(), 1u);
  ASSERT_EQ(lab.carol_sink.up.size(), 1u);
  EXPECT_EQ(lab.alice_sink.up[0], lab.carol_id.peer_id());
  EXPECT_EQ(lab.carol_sink.up[0], lab.alice_id.peer_id());  // proven by the handshake, not the relay's word
  auto info = lab.alice->session_info(lab.carol_id.peer_id());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->next_hop, lab.relay_peer);
  EXPECT_EQ(info->hops, 2);
  EXPECT_EQ(lab.alice->relay_of(lab.carol_id.peer_id()), lab.relay_peer);
  // Records both ways; several sent at once share the next flush.
  for (std::uint8_t i = 0; i < 3; ++i)
    EXPECT_FALSE(lab.alice->send(lab.carol_id.peer_id(), RecordKind::data, Bytes{i, i}));
  lab.pump();
  ASSERT_EQ(lab.carol_sink.records.size(), 3u);
  EXPECT_EQ(lab.carol_sink.records[2], (Bytes{2, 2}));
  EXPECT_FALSE(lab.carol->send(lab.alice_id.peer_id(), RecordKind::ack, Bytes(16, 7)));
  lab.pump();
  ASSERT_EQ(lab.alice_sink.records.size(), 1u);
  EXPECT_EQ(lab.core.stats().circuits_open, 1u);
  // Closing one end tells the other; the relay forgets the circuit.
  lab.alice->close(lab.carol_id.peer_id(), {CloseCode::idle, "done"});
  lab.pump();
  ASSERT_EQ(lab.carol_sink.down.size(), 1u);
  EXPECT_EQ(lab.core.stats().circuits, 0u);
  EXPECT_EQ(lab.alice->session(lab.carol_id.peer_id()), 0u);
}

TEST(RelayTransport, WithoutAReservationTheCircuitIsRefusedAndNothingComesUp) {
  Lab lab;
  lab.dial_carol();  // carol holds no reservation at the relay
  EXPECT_TRUE(lab.alice_sink.up.empty());
  EXPECT_TRUE(lab.carol_sink.up.empty());
  EXPECT_EQ(lab.alice->status_json()["circuits_refused"], 1);
  EXPECT_EQ(lab.alice->send(lab.carol_id.peer_id(), RecordKind::data, Bytes{1}),
            make_error_code(Errc::no_link));
  // An incoming circuit through a relay carol never reserved at is refused by carol herself.
  RelayMessage incoming;
  incoming.type = relay::RelayType::incoming;
  incoming.circuit = relay::kRelayCircuitBit | 9;
  incoming.peer = lab.alice_id.peer_id();
  lab.carol->on_relay_message(lab.relay_peer, incoming);
  ASSERT_EQ(lab.to_relay.size(), 1u);
  auto answer = relay::decode_relay_message(lab.to_relay.back().second);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->type, relay::RelayType::close);
  EXPECT_EQ(answer->status, relay::RelayStatus::refused_by_target);
}

TEST(RelayTransport, LosingTheLinkToTheRelayEndsItsSessionsAndItsReservation) {
  Lab lab;
  lab.reserve_carol();
  lab.dial_carol();
  ASSERT_EQ(lab.alice_sink.up.size(), 1u);
  lab.alice->on_carrier_down(lab.relay_peer);
  ASSERT_EQ(lab.alice_sink.down.size(), 1u);
  EXPECT_EQ(lab.alice_sink.reasons[0].code, CloseCode::io_error);
  bool changed = false;
  lab.carol->on_reservations_changed = [&] { changed = true; };
  lab.carol->on_carrier_down(lab.relay_peer);
  EXPECT_TRUE(changed);
  EXPECT_TRUE(lab.carol->reserved_relays().empty());
  ASSERT_EQ(lab.carol_sink.down.size(), 1u);
}

}  // namespace
}  // namespace hyphae::transport
