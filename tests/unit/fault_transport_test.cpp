// FaultTransport over an in-test fake transport: pass-through, lossy, slow, offline and dead.
#include "transport/fault/fault_transport.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace hyphae::transport {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

PeerId peer_n(std::uint8_t n) {
  std::array<std::uint8_t, 32> pub{};
  pub.fill(n);
  return PeerId::from_ed25519(pub);
}

// The inner transport: sessions are whatever the test raises; sends are recorded.
class FakeTransport final : public Transport {
 public:
  struct Sent {
    PeerId peer;
    RecordKind kind;
    std::string body;
  };

  explicit FakeTransport(TransportSink& sink) : sink_(sink) {}

  std::string_view name() const override { return "fake"; }
  std::string_view type() const override { return "fakes"; }
  const router::Capabilities& capabilities() const override { return caps_; }
  std::error_code start() override { return {}; }
  void stop() override {
    while (!sessions.empty()) close(sessions.begin()->first, transport::CloseCode::stopping);
  }
  bool available() const override { return up; }
  std::uint64_t session(const PeerId& peer) const override {
    auto it = sessions.find(peer);
    return it == sessions.end() ? 0 : it->second;
  }
  std::error_code send(const PeerId& peer, RecordKind kind, ByteView body) override {
    if (!session(peer)) return hyphae::Errc::no_link;
    sent.push_back({peer, kind, to_string(body)});
    return {};
  }
  std::size_t backlog(const PeerId& peer) const override { return session(peer) ? 1 : 0; }
  void close(const PeerId& peer, const transport::CloseReason& reason) override {
    closes.emplace_back(peer, reason);
    if (!down_on_close) return;  // the test reports the down later, as an async transport would
    auto it = sessions.find(peer);
    if (it == sessions.end()) return;
    auto id = it->second;
    sessions.erase(it);
    sink_.on_session_down(*this, peer, id, reason);
  }
  std::optional<SessionInfo> session_info(const PeerId& peer) const override {
    if (!session(peer)) return std::nullopt;
    SessionInfo info;
    info.id = session(peer);
    return info;
  }
  std::vector<PeerId> peers_with_sessions() const override {
    std::vector<PeerId> out;
    for (const auto& [peer, id] : sessions) out.push_back(peer);
    return out;
  }
  std::error_code add_addresses(const PeerId&, const std::vector<std::string>&) override { return {}; }
  void connect_soon(const PeerId&) override { ++connects; }
  void tick(std::uint64_t) override {}
  std::uint16_t listen_port() const override { return 4242; }
  nlohmann::json status_json() const override {
    return {{"name", "fake"}, {"type", "fakes"}, {"available", up}, {"sessions", sessions.size()}};
  }

  std::uint64_t raise_up(const PeerId& peer) {
    auto id = next_id++;
    sessions[peer] = id;
    sink_.on_session_up(*this, peer, id);
    return id;
  }
  void raise_down(const PeerId& peer, std::uint64_t id) {
    sessions.erase(peer);
    sink_.on_session_down(*this, peer, id, {transport::CloseCode::remote, "gone"});
  }
  void raise_record(const PeerId& peer, std::string_view body) {
    sink_.on_record(*this, peer, session(peer), RecordKind::data, as_bytes(body));
  }

  TransportSink& sink_;
  router::Capabilities caps_;
  std::map<PeerId, std::uint64_t> sessions;
  std::vector<Sent> sent;
  std::vector<std::pair<PeerId, transport::CloseReason>> closes;
  bool up = true;
  bool down_on_close = true;
  int connects = 0;
  std::uint64_t next_id = 100;
};

// The node's side: every callback, and which transport it named.
struct RecordingSink final : TransportSink {
  struct Event {
    std::string what;
    PeerId peer;
    std::uint64_t session = 0;
    std::string detail;
  };
  void on_session_up(Transport& t, const PeerId& peer, std::uint64_t session) override {
    note(t, {"up", peer, session, ""});
  }
  void on_session_down(Transport& t, const PeerId& peer, std::uint64_t session,
                       const transport::CloseReason& reason) override {
    note(t, {"down", peer, session, reason.text()});
  }
  void on_record(Transport& t, const PeerId& peer, std::uint64_t session, RecordKind,
                 ByteView body) override {
    note(t, {"record", peer, session, to_string(body)});
  }
  void on_drained(Transport& t, const PeerId& peer) override { note(t, {"drained", peer, 0, ""}); }
  void on_availability(Transport& t, bool available, const std::string& reason) override {
    note(t, {available ? "available" : "unavailable", {}, 0, reason});
  }
  bool wants_session(Transport& t, const PeerId& peer) override {
    note(t, {"wants", peer, 0, ""});
    return true;
  }
  void note(Transport& t, Event e) {
    from.push_back(&t);
    events.push_back(std::move(e));
  }
  std::vector<std::string> whats() const {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.what);
    return out;
  }

  std::vector<Event> events;
  std::vector<const Transport*> from;
};

struct FaultTransportTest : ::testing::Test {
  FaultTransportTest() {
    fault = FaultTransport::wrap(node, strand, [&](TransportSink& s) {
      auto f = std::make_unique<FakeTransport>(s);
      fake = f.get();
      return f;
    });
  }
  // Runs the io_context for `d` (or until it has nothing left to do).
  void run_for(SteadyClock::duration d) {
    io.restart();
    io.run_for(d);
  }
  bool send(const PeerId& p, std::string_view body) {
    return !fault->send(p, RecordKind::data, as_bytes(body));
  }

  boost::asio::io_context io;
  boost::asio::strand<boost::asio::any_io_executor> strand{io.get_executor()};
  RecordingSink node;
  FakeTransport* fake = nullptr;
  std::unique_ptr<FaultTransport> fault;
  PeerId a = peer_n(1), b = peer_n(2);
};

TEST_F(FaultTransportTest, PassesEverythingThroughWithNoFault) {
  EXPECT_EQ(fault->inner(), fake);
  EXPECT_EQ(fault->name(), "fake");
  EXPECT_EQ(fault->type(), "fakes");
  EXPECT_EQ(fault->listen_port(), 4242);
  EXPECT_TRUE(fault->available());
  auto id = fake->raise_up(a);
  EXPECT_EQ(fault->session(a), id);
  EXPECT_EQ(fault->session_info(a)->id, id);
  EXPECT_EQ(fault->peers_with_sessions(), std::vector<PeerId>{a});
  EXPECT_TRUE(send(a, "hello"));
  EXPECT_FALSE(send(b, "nobody"));
  ASSERT_EQ(fake->sent.size(), 1u);
  EXPECT_EQ(fake->sent[0].body, "hello");
  EXPECT_EQ(fault->backlog(a), 1u);
  fake->raise_record(a, "in");
  fake->sink_.on_drained(*fake, a);
  EXPECT_TRUE(fake->sink_.wants_session(*fake, b));
  fake->sink_.on_availability(*fake, false, "inner down");
  fake->raise_down(a, id);
  EXPECT_EQ(node.whats(),
            (std::vector<std::string>{"up", "record", "drained", "wants", "unavailable", "down"}));
  EXPECT_EQ(node.events[1].detail, "in");
  EXPECT_EQ(node.events[4].detail, "inner down");
  for (const auto* t : node.from) EXPECT_EQ(t, fault.get());  // never the inner transport
  fault->connect_soon(b);
  EXPECT_EQ(fake->connects, 1);
  auto status = fault->status_json();
  EXPECT_EQ(status["name"], "fake");
  EXPECT_EQ(status["fault"]["mode"], "none");
}

TEST_F(FaultTransportTest, ModeNamesRoundTrip) {
  for (auto m : {FaultMode::none, FaultMode::slow, FaultMode::lossy, FaultMode::offline, FaultMode::dead})
    EXPECT_EQ(fault_mode_from_string(to_string(m)), m);
  EXPECT_FALSE(fault_mode_from_string("flaky"));
  fault->set_fault({FaultMode::lossy, 0, 7.5});
  EXPECT_EQ(fault->fault().loss, 1.0);  // clamped
  auto status = fault->status_json();
  EXPECT_EQ(status["fault"]["mode"], "lossy");
  EXPECT_EQ(status["fault"]["delay_ms"], 0);
  EXPECT_EQ(status["fault"]["loss"], 1.0);
}

TEST_F(FaultTransportTest, LossyOneIsASilentBlackhole) {
  fake->raise_up(a);
  fault->set_fault({FaultMode::lossy, 0, 1.0});
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(send(a, "x"));
  EXPECT_TRUE(fake->sent.empty());
  EXPECT_EQ(fault->dropped_records(), 100u);
  EXPECT_TRUE(fault->available());
  EXPECT_FALSE(send(b, "no session"));
  EXPECT_EQ(node.whats(), std::vector<std::string>{"up"});  // nothing tells the node
}

TEST_F(FaultTransportTest, LossyHalfWithAFixedSeedDropsSomeButNotAll) {
  fake->raise_up(a);
  fault->set_seed(42);
  fault->set_fault({FaultMode::lossy, 0, 0.5});
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(send(a, std::to_string(i)));
  EXPECT_GT(fake->sent.size(), 350u);
  EXPECT_LT(fake->sent.size(), 650u);
  EXPECT_EQ(fake->sent.size() + fault->dropped_records(), 1000u);
  // The same seed gives the same drops.
  auto first = fake->sent.size();
  fake->sent.clear();
  fault->set_seed(42);
  for (int i = 0; i < 1000; ++i) send(a, std::to_string(i));
  EXPECT_EQ(fake->sent.size(), first);
}

TEST_F(FaultTransportTest, SlowHoldsRecordsForTheDelayInOrder) {
  fake->raise_up(a);
  fault->set_fault({FaultMode::slow, 200, 0});
  const auto start = SteadyClock::now();
  EXPECT_TRUE(send(a, "one"));
  EXPECT_TRUE(send(a, "two"));
  EXPECT_FALSE(send(b, "no session"));
  EXPECT_EQ(fault->backlog(a), 1u + 6u);  // the inner's plus the held bodies
  run_for(100ms);
  if (SteadyClock::now() - start < 200ms) {
    EXPECT_TRUE(fake->sent.empty()) << "arrived before the delay";
  }
  // Back to none: a new record queues behind the held ones rather than overtaking them.
  fault->set_fault({});
  EXPECT_TRUE(send(a, "three"));
  EXPECT_TRUE(fake->sent.empty());
  while (fake->sent.size() < 3 && SteadyClock::now() - start < 5s) run_for(5ms);
  const auto arrived = SteadyClock::now() - start;
  ASSERT_EQ(fake->sent.size(), 3u);
  EXPECT_GE(arrived, 200ms);
  EXPECT_EQ(fake->sent[0].body, "one");
  EXPECT_EQ(fake->sent[1].body, "two");
  EXPECT_EQ(fake->sent[2].body, "three");
  EXPECT_TRUE(send(a, "four"));  // nothing held any more: straight through
  EXPECT_EQ(fake->sent.size(), 4u);
}

TEST_F(FaultTransportTest, SlowDropsRecordsWhoseSessionChanged) {
  auto first = fake->raise_up(a);
  fault->set_fault({FaultMode::slow, 30, 0});
  EXPECT_TRUE(send(a, "old session"));
  fake->raise_down(a, first);
  fake->raise_up(a);
  EXPECT_TRUE(send(a, "new session"));
  const auto start = SteadyClock::now();
  while (fake->sent.empty() && SteadyClock::now() - start < 5s) run_for(5ms);
  run_for(10ms);
  ASSERT_EQ(fake->sent.size(), 1u);
  EXPECT_EQ(fake->sent[0].body, "new session");
  EXPECT_EQ(fault->dropped_records(), 1u);
}

TEST_F(FaultTransportTest, SlowRecordsDieWithTheTransport) {
  fake->raise_up(a);
  fault->set_fault({FaultMode::slow, 20, 0});
  EXPECT_TRUE(send(a, "held"));
  fault.reset();  // the pending timer must not reach the destroyed decorator
  run_for(60ms);
  SUCCEED();
}

TEST_F(FaultTransportTest, OfflineHidesTheLinkButKeepsSessions) {
  auto id = fake->raise_up(a);
  fault->set_fault({FaultMode::offline});
  EXPECT_FALSE(fault->available());
  ASSERT_EQ(node.events.back().what, "unavailable");
  EXPECT_EQ(node.events.back().detail, "fault injected: offline");
  EXPECT_EQ(fault->session(a), 0u);
  EXPECT_FALSE(send(a, "out"));
  EXPECT_TRUE(fake->sent.empty());
  const auto seen = node.events.size();
  fake->raise_record(a, "in");
  fake->sink_.on_availability(*fake, true, "inner flap");  // the node already hears "down"
  EXPECT_EQ(node.events.size(), seen);
  EXPECT_TRUE(fake->closes.empty());
  EXPECT_EQ(fake->session(a), id);
  EXPECT_FALSE(fault->status_json()["available"]);

  fault->set_fault({});
  EXPECT_TRUE(fault->available());
  EXPECT_EQ(node.events.back().what, "available");
  EXPECT_EQ(fault->session(a), id);
  fake->raise_record(a, "in again");
  EXPECT_EQ(node.events.back().detail, "in again");
  EXPECT_TRUE(send(a, "out again"));
  EXPECT_EQ(fake->sent.size(), 1u);
}

TEST_F(FaultTransportTest, DeadClosesSessionsAndHidesNewOnes) {
  auto ida = fake->raise_up(a);
  fault->set_fault({FaultMode::dead});
  EXPECT_FALSE(fault->available());
  ASSERT_EQ(fake->closes.size(), 1u);
  EXPECT_EQ(fake->closes[0].second.code, transport::CloseCode::fault_injected);
  EXPECT_EQ(node.whats(), (std::vector<std::string>{"up", "unavailable", "down"}));
  EXPECT_EQ(node.events[1].detail, "fault injected: dead");
  EXPECT_EQ(node.events[2].session, ida);
  EXPECT_FALSE(fake->sink_.wants_session(*fake, b));

  // A session the inner transport brings up while dead is closed at once and never reported.
  auto seen = node.events.size();
  fake->raise_up(b);
  EXPECT_EQ(fake->closes.size(), 2u);
  EXPECT_FALSE(fake->sessions.contains(b));
  EXPECT_EQ(fault->session(b), 0u);
  EXPECT_FALSE(send(b, "x"));
  fault->connect_soon(b);
  EXPECT_EQ(fake->connects, 0);
  EXPECT_EQ(node.events.size(), seen);

  fault->set_fault({});
  EXPECT_TRUE(fault->available());
  EXPECT_EQ(node.events.back().what, "available");
  auto idb = fake->raise_up(b);
  EXPECT_EQ(node.events.back().what, "up");
  EXPECT_EQ(fault->session(b), idb);
  EXPECT_TRUE(send(b, "back"));
  for (const auto* t : node.from) EXPECT_EQ(t, fault.get());
}

TEST_F(FaultTransportTest, DeadHidesALateDownOfAHiddenSession) {
  fake->down_on_close = false;  // the inner transport reports closes later
  fault->set_fault({FaultMode::dead});
  auto id = fake->raise_up(a);
  EXPECT_EQ(fake->closes.size(), 1u);
  fault->set_fault({});
  EXPECT_EQ(fault->session(a), 0u);  // still closing: not the node's session
  EXPECT_TRUE(fault->peers_with_sessions().empty());
  fake->raise_record(a, "stale");
  fake->raise_down(a, id);
  EXPECT_EQ(node.whats(), (std::vector<std::string>{"unavailable", "available"}));
}

TEST(FaultTransport, MakeWrapsARegistryTransport) {
  boost::asio::io_context io;
  RecordingSink node;
  FakeTransport* fake = nullptr;
  TransportRegistry registry;
  registry.add("fakes", [&](TransportContext c) -> std::expected<std::unique_ptr<Transport>, std::string> {
    auto f = std::make_unique<FakeTransport>(*c.sink);
    fake = f.get();
    return f;
  });
  // Not default-constructed: a default strand<any_io_executor> has no executor and crashes.
  TransportContext context{.name = "fake",
                           .options = {},
                           .strand = boost::asio::strand<boost::asio::any_io_executor>(io.get_executor()),
                           .identity = nullptr,
                           .sink = &node};
  auto fault = FaultTransport::make(registry, "fakes", context);
  ASSERT_TRUE(fault) << fault.error();
  ASSERT_EQ((*fault)->inner(), fake);
  fake->raise_up(peer_n(1));
  ASSERT_EQ(node.from.size(), 1u);
  EXPECT_EQ(node.from[0], fault->get());
  EXPECT_FALSE(FaultTransport::make(registry, "nope", context));
}

}  // namespace
}  // namespace hyphae::transport
