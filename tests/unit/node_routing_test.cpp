// The node's send path over two in-test transports ("a" and "b", a fake type registered in the
// builtin registry): failover, ack timeouts, the QoS transmit queue and re-routing, in cases where a
// message used to be stranded in `queued` while a usable session existed, or sent twice.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/envelope.hpp"
#include "core/error.hpp"
#include "core/identity.hpp"
#include "node/node.hpp"
#include "store/store.hpp"
#include "node/sealing.hpp"
#include "support/recording_transport.hpp"
#include "testnet/local_node.hpp"
#include "transport/transport.hpp"

namespace hyphae {
namespace {

using transport::RecordKind;
using transport::TransportSink;

struct Fake;
std::map<std::string, Fake*>& fakes() {
  static std::map<std::string, Fake*> m;
  return m;
}

struct Fake final : hyphae::testing::RecordingTransport {
  Fake(std::string n, router::Capabilities c, TransportSink* s, transport::SessionIds* ids)
      : RecordingTransport(n, "fake", c, s, ids) {
    fakes()[n] = this;
  }
  ~Fake() override {
    const std::string n(name());
    if (fakes()[n] == this) fakes().erase(n);
  }
};

// The built-in types plus "fake": the registry these tests hand to their nodes.
std::shared_ptr<const transport::TransportRegistry> fake_types() {
  static const auto types = [] {
    auto r = std::make_shared<transport::TransportRegistry>(transport::builtin_registry());
    r->add("fake",
           [](transport::TransportContext ctx)
               -> std::expected<std::unique_ptr<transport::Transport>, std::string> {
             auto base = router::Capabilities::direct_tcp_preset();
             base.mtu = 1 << 20;
             base.max_message_size = 1 << 20;
             base.requires_internet = false;
             auto caps = transport::apply_capability_options(base, ctx.options);
             if (!caps) return std::unexpected(caps.error());
             return std::make_unique<Fake>(ctx.name, *caps, ctx.sink, ctx.session_ids);
           });
    return std::shared_ptr<const transport::TransportRegistry>(std::move(r));
  }();
  return types;
}

// A node on a ManualClock: its ack deadlines and degradation run on simulated time (pass_ms), so
// no test waits in real time for a deadline, and "not yet" is checked at the exact millisecond.
struct Hosted {
  boost::asio::io_context io;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  std::shared_ptr<store::WriteFaults> store_faults = std::make_shared<store::WriteFaults>();
  TempDir dir{"hyphae-routing-test-"};
  std::unique_ptr<Node> node;
  explicit Hosted(std::function<void(NodeConfig&)> tune = {}) {
    NodeConfig config;
    config.data_dir = dir.path();
    config.log_level = "off";
    config.transports["tcp"].enabled = false;
    config.transports["a"].options["type"] = "fake";
    config.transports["b"].options["type"] = "fake";
    config.ack_timeout_ms = 100;
    config.power_sysfs_root = dir.path().string();  // no readings
    if (tune) tune(config);
    auto created = Node::create(io.get_executor(), config, {fake_types(), nullptr, clock, store_faults});
    if (!created) throw std::runtime_error(created.error());
    node = std::move(*created);
    on([&] { EXPECT_FALSE(node->start()); });
  }
  ~Hosted() {
    on([&] { node->stop(); });
  }
  void on(std::function<void()> f) {
    boost::asio::post(node->executor(), f);
    io.run_for(std::chrono::milliseconds(20));
  }
  void run_ms(int ms) { io.run_for(std::chrono::milliseconds(ms)); }
  // Simulated time passes; then the node's next tick (every 50 ms of real time) handles what fell due.
  void pass_ms(int ms) {
    clock->advance(static_cast<std::uint64_t>(ms));
    run_ms(70);
  }
  Fake& a() { return *fakes().at("a"); }
  Fake& b() { return *fakes().at("b"); }
  MessageId send(const PeerId& to, SendOptions o = {}) {
    std::optional<std::expected<MessageId, std::error_code>> r;
    on([&] { node->send(to, Bytes{1, 2, 3}, o, [&](auto x) { r = x; }); });
    for (int i = 0; i < 100 && !r; ++i) run_ms(10);
    EXPECT_TRUE(r && *r);
    return **r;
  }
  std::string state(const MessageId& id) {
    std::string s;
    on([&] { s = node->status(id)->state; });
    return s;
  }
};

PeerId some_peer() {
  return Identity::generate().peer_id();
}

TEST(NodeRouting, AForcedTransportWhoseAckTimesOutKeepsWaitingOnIt) {
  Hosted h;
  auto p = some_peer();
  h.on([&] {
    h.a().raise(p);
    h.b().raise(p);
  });
  SendOptions o;
  o.transport = "a";
  auto id = h.send(p, o);
  EXPECT_EQ(h.a().data_to(p), 1u);
  h.pass_ms(1500);                  // 15 ack timeouts' worth
  EXPECT_EQ(h.state(id), "sent");   // still waiting for its ack on a, not queued with a excluded
  EXPECT_EQ(h.b().data_to(p), 0u);  // and never on b
}

TEST(NodeRouting, AfterItsFallbackDiesAMessageGoesBackToTheTransportThatTimedOut) {
  Hosted h;
  auto p = some_peer();
  h.on([&] {
    h.a().raise(p);
    h.b().raise(p);
  });
  auto id = h.send(p);
  const bool first_on_a = h.a().data_to(p) == 1;
  h.pass_ms(100);  // the ack times out: failover to the other transport
  EXPECT_EQ(first_on_a ? h.b().data_to(p) : h.a().data_to(p), 1u);
  h.on([&] {
    if (first_on_a)
      h.b().close(p, transport::CloseCode::remote);
    else
      h.a().close(p, transport::CloseCode::remote);
  });
  h.run_ms(300);
  EXPECT_EQ(h.state(id), "sent");  // waiting on the live session again, not stranded in queued
}

TEST(NodeRouting, MessagesWaitingInTheTransmitQueueMoveWhenTheirSessionIsLost) {
  Hosted h([](NodeConfig& c) {
    c.qos_busy_backlog_bytes = 10;
    c.ack_timeout_ms = 100000;
  });
  auto p = some_peer();
  h.on([&] {
    h.a().raise(p);
    h.a().backlogs[p] = 1000;  // busy after the first send
  });
  std::vector<MessageId> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(h.send(p));
  EXPECT_EQ(h.a().data_to(p), 1u);
  h.on([&] { h.b().raise(p); });
  h.on([&] { h.a().close(p, transport::CloseCode::io_error); });
  h.run_ms(200);
  std::size_t queued = 0;
  for (auto& id : ids) queued += h.state(id) == "queued";
  EXPECT_EQ(queued, 0u);
  EXPECT_EQ(h.b().data_to(p), 5u);  // all five, the one lost in flight included
}

TEST(NodeRouting, ABusyPeerDoesNotHoldUpOthers) {
  Hosted h([](NodeConfig& c) {
    c.qos_busy_backlog_bytes = 10;
    c.qos_capacity = {10, 50, 4, 500};
    c.ack_timeout_ms = 100000;
  });
  auto p = some_peer(), q = some_peer();
  h.on([&] {
    h.a().raise(p);
    h.a().raise(q);
    h.a().backlogs[p] = 1000;
  });
  for (int i = 0; i < 10; ++i) h.send(p);
  auto qid = h.send(q);
  h.run_ms(100);
  EXPECT_EQ(h.a().data_to(p), 1u);  // busy after one
  EXPECT_EQ(h.a().data_to(q), 1u);  // q's message went out although p fills its share
  EXPECT_EQ(h.state(qid), "sent");
  // Once p's transport drains, the rest of p's messages follow.
  h.on([&] {
    h.a().backlogs[p] = 0;
    h.a().sink().on_drained(h.a(), p);
  });
  EXPECT_EQ(h.a().data_to(p), 10u);
}

TEST(NodeRouting, GoingOnlineSendsWhatWaitedForAnInternetTransport) {
  Hosted h([](NodeConfig& c) {
    c.connectivity = "offline";
    c.transports["a"].options["caps.requires_internet"] = "true";
  });
  auto p = some_peer();
  h.on([&] {
    h.a().raise(p);
    h.b().raise(p);
  });
  SendOptions o;
  o.transport = "a";
  auto id = h.send(p, o);
  EXPECT_EQ(h.a().data_to(p), 0u);  // offline: a cannot carry it
  h.on([&] { h.node->set_connectivity_override(true); });
  EXPECT_EQ(h.a().data_to(p), 1u);
  EXPECT_EQ(h.state(id), "sent");
}

TEST(NodeRouting, ARouteChangeDoesNotResendARedundantMessage) {
  Hosted h([](NodeConfig& c) {
    c.ack_timeout_ms = 100000;
    c.transports["b"].options["caps.offline_capable"] = "true";
    c.transports["b"].options["caps.requires_internet"] = "false";
    c.transports["b"].options["caps.typical_latency_ms"] = "5000";
    c.connectivity = "online";
    c.optimize_for = router::Optimize::latency;
  });
  auto p = some_peer();
  h.on([&] {
    h.a().raise(p);
    h.b().raise(p);
  });
  SendOptions o;
  o.redundancy = 2;
  h.send(p, o);
  EXPECT_EQ(h.a().data_to(p), 1u);
  EXPECT_EQ(h.b().data_to(p), 1u);
  h.on([&] { h.node->set_power_overrides(0.15, false, std::nullopt); });  // now b is preferred
  h.on([&] { h.node->set_power_overrides(std::nullopt, std::nullopt, std::nullopt); });
  EXPECT_EQ(h.a().data_to(p), 1u);  // both copies are still in flight: nothing sent again
  EXPECT_EQ(h.b().data_to(p), 1u);
}

TEST(NodeRouting, PeersTurnedAwayByAFullClassAreAdmittedUntilTheirLanesAreEmpty) {
  Hosted h([](NodeConfig& c) {
    c.qos_busy_backlog_bytes = 10;
    c.qos_capacity = {10, 50, 40, 500};
    c.ack_timeout_ms = 100000;
  });
  auto p = some_peer(), q = some_peer();
  h.on([&] {
    h.a().raise(p);
    h.a().raise(q);
    h.a().backlogs[p] = 1000;
  });
  for (int i = 0; i < 41; ++i) h.send(p);
  for (int i = 0; i < 100; ++i) h.send(q);
  h.on([&] {
    h.a().backlogs[p] = 0;
    h.a().sink().on_drained(h.a(), p);
  });
  h.run_ms(100);
  EXPECT_EQ(h.a().data_to(q), 100u);
  EXPECT_EQ(h.a().data_to(p), 41u);
}

TEST(NodeRouting, AResendOnTheSameSessionIsNotTimedOutByTheFirstSendsDeadline) {
  Hosted h([](NodeConfig& c) { c.ack_timeout_ms = 1000; });
  auto p = some_peer();
  h.on([&] {
    h.a().raise(p);
    h.b().raise(p);
  });
  auto id = h.send(p);
  const bool on_a = h.a().data_to(p) == 1;
  auto& first = on_a ? h.a() : h.b();
  auto& other = on_a ? h.b() : h.a();
  h.pass_ms(600);
  // The first transport goes away and comes back on the same session; the other is lost meanwhile.
  h.on([&] {
    first.up = false;
    first.sink().on_availability(first, false, "test");
  });
  EXPECT_EQ(other.data_to(p), 1u);
  h.on([&] { other.close(p, transport::CloseCode::remote); });
  h.on([&] {
    first.up = true;
    first.sink().on_availability(first, true, "test");
  });
  EXPECT_EQ(first.data_to(p), 2u);  // resent on the same session
  h.on([&] { other.raise(p); });
  const auto copies_on_other = other.data_to(p);
  h.pass_ms(600);                                // past the first send's deadline, before the resend's
  EXPECT_EQ(other.data_to(p), copies_on_other);  // no early failover
  EXPECT_EQ(h.state(id), "sent");
}

}  // namespace
}  // namespace hyphae

namespace hyphae {
namespace {

// The delivered state must reach the store before the outbox entry leaves memory: when that commit
// fails, the node keeps the entry (as delivered) and writes it again, instead of forgetting it while
// the store still says "sent".
TEST(NodeRouting, ADeliveryWhoseCommitFailsIsKeptAndWrittenAgain) {
  Hosted h;
  auto p = some_peer();
  h.on([&] { h.a().raise(p); });
  auto id = h.send(p);
  ASSERT_EQ(h.a().data_to(p), 1u);
  h.on([&] {
    h.store_faults->fail_next(1);
    h.a().sink().on_record(h.a(), p, h.a().session(p), RecordKind::ack, id.bytes);
  });
  h.run_ms(100);
  EXPECT_EQ(h.state(id), "delivered");
  h.run_ms(1500);  // the retry (once a second) commits
  EXPECT_EQ(h.state(id), "delivered");
  EXPECT_EQ(h.a().data_to(p), 1u);  // and it was never sent again
  // After a restart the store says so too.
  h.on([&] { h.node->stop(); });
  auto again = Node::create(h.io.get_executor(),
                            [&] {
                              NodeConfig config;
                              config.data_dir = h.dir.path();
                              config.log_level = "off";
                              config.transports["tcp"].enabled = false;
                              config.transports["a"].options["type"] = "fake";
                              return config;
                            }(),
                            {fake_types()});
  ASSERT_TRUE(again);
  std::optional<MessageStatus> status;
  boost::asio::post((*again)->executor(), [&] { status = (*again)->status(id); });
  h.io.restart();  // the stopped node left the io_context without work
  h.run_ms(20);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, "delivered");
}

}  // namespace
}  // namespace hyphae

namespace hyphae {
namespace {

// A message handed to a direct session goes unsigned; when it fails over to a transport whose
// sessions do not end at the peer (relays, mixes), it is signed at origin and sealed to the
// recipient there, and the recipient can verify and open it.
TEST(NodeRouting, FailoverOntoARelayedTransportSignsAndSealsTheMessage) {
  Hosted h([](NodeConfig& c) { c.transports["b"].options["caps.authenticated_sessions"] = "false"; });
  const auto recipient = Identity::generate();
  const auto p = recipient.peer_id();
  h.on([&] { h.a().raise(p); });
  auto id = h.send(p);
  ASSERT_EQ(h.a().data_to(p), 1u);
  auto direct = decode_envelope(h.a().sent.back().body);
  ASSERT_TRUE(direct);
  EXPECT_FALSE(direct->is_signed());  // the Noise session authenticates it
  EXPECT_FALSE(direct->is_sealed());
  // The direct session is lost; only the relayed transport reaches the peer.
  h.on([&] {
    h.b().raise(p);
    h.a().close(p, transport::CloseCode::io_error);
  });
  h.run_ms(100);
  ASSERT_EQ(h.b().data_to(p), 1u);
  auto relayed = decode_envelope(h.b().sent.back().body);
  ASSERT_TRUE(relayed);
  EXPECT_EQ(relayed->id, id);
  EXPECT_TRUE(relayed->is_signed());
  EXPECT_FALSE(verify_envelope_signature(*relayed));  // verifies against the sender's PeerId
  EXPECT_EQ(relayed->to, p);
  ASSERT_TRUE(relayed->is_sealed());
  noise::KeyPair keys;
  keys.priv = recipient.x25519_private();
  keys.pub = recipient.x25519_public();
  auto opened = open_payload(keys, relayed->payload);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->payload, (Bytes{1, 2, 3}));
  // The recipient's ack over the relayed transport completes it.
  h.on([&] { h.b().deliver(p, RecordKind::ack, id.bytes); });
  EXPECT_EQ(h.state(id), "delivered");
}

// Each transport has its own ack deadline: ack_timeout_ms, or for a multi-hop transport three
// typical latencies when longer. A direct one keeps ack_timeout_ms whatever its latency.
TEST(NodeRouting, AMultiHopTransportGetsALongerAckDeadline) {
  Hosted h([](NodeConfig& c) {
    c.transports["a"].options["caps.typical_latency_ms"] = "300";  // direct: still 100 ms
    c.transports["b"].options["caps.typical_latency_ms"] = "300";
    c.transports["b"].options["caps.multi_hop"] = "true";
  });
  const auto p = some_peer();
  h.on([&] { h.b().raise(p); });  // only b reaches the peer
  auto timeouts = [&] {
    std::string text;
    h.on([&] { text = h.node->metrics_text(); });
    return text.find("p2p_errors_total{kind=\"ack_timeout\"} 1") != std::string::npos;
  };
  h.send(p);
  ASSERT_EQ(h.b().data_to(p), 1u);
  h.pass_ms(899);  // nine of ack_timeout_ms (100), one short of b's 900
  EXPECT_FALSE(timeouts());
  h.pass_ms(1);
  EXPECT_TRUE(timeouts());
  // Over the direct one the deadline stays at ack_timeout_ms.
  const auto q = some_peer();
  h.on([&] { h.a().raise(q); });
  SendOptions o;
  o.transport = "a";
  h.send(q, o);
  h.pass_ms(99);
  {
    std::string text;
    h.on([&] { text = h.node->metrics_text(); });
    EXPECT_NE(text.find("p2p_errors_total{kind=\"ack_timeout\"} 1"), std::string::npos);
  }
  h.pass_ms(1);
  std::string text;
  h.on([&] { text = h.node->metrics_text(); });
  EXPECT_NE(text.find("p2p_errors_total{kind=\"ack_timeout\"} 2"), std::string::npos);
}

}  // namespace
}  // namespace hyphae
