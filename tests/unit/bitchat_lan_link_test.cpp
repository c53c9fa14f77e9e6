// LanLink: the beacon codec, text options, and real UDP sockets on 127.0.0.1 with static peers
// (multicast is left to the namespace integration test: it cannot be relied on over loopback).
// Every wait polls the io_context until a condition holds, with a generous deadline.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bitchat/link/lan_link.hpp"
#include "core/error.hpp"

namespace hyphae::bitchat {
namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using namespace std::chrono_literals;

constexpr ShortId kIdA = {1, 1, 1, 1, 1, 1, 1, 1};
constexpr ShortId kIdB = {2, 2, 2, 2, 2, 2, 2, 2};
constexpr ShortId kIdC = {3, 3, 3, 3, 3, 3, 3, 3};

struct Event {
  enum class Kind { up, down, frame } kind;
  LinkId link = 0;
  ShortId mesh_id{};
  std::string text;  // address (up) or reason (down)
  std::size_t mtu = 0;
  Bytes frame;
};

class RecordingSink : public LinkSink {
 public:
  void on_neighbour_up(LinkId link, const ShortId& claimed, const std::string& address,
                       std::size_t mtu) override {
    events.push_back({Event::Kind::up, link, claimed, address, mtu, {}});
  }
  void on_neighbour_down(LinkId link, const std::string& reason) override {
    events.push_back({Event::Kind::down, link, {}, reason, 0, {}});
  }
  void on_frame(LinkId link, ByteView frame) override {
    events.push_back({Event::Kind::frame, link, {}, {}, 0, Bytes(frame.begin(), frame.end())});
  }
  std::vector<Event> of(Event::Kind kind) const {
    std::vector<Event> out;
    for (const auto& e : events)
      if (e.kind == kind) out.push_back(e);
    return out;
  }
  std::size_t count(Event::Kind kind) const { return of(kind).size(); }
  std::vector<Event> events;
};

// A plain UDP socket on 127.0.0.1 that records what it receives.
class RawPeer {
 public:
  explicit RawPeer(asio::io_context& io) : socket_(io, udp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    receive();
  }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }
  void send(ByteView bytes, std::uint16_t to_port) {
    socket_.send_to(asio::buffer(bytes.data(), bytes.size()),
                    udp::endpoint(asio::ip::address_v4::loopback(), to_port));
  }
  Bytes beacon(const ShortId& id, BeaconKind kind = BeaconKind::beacon) const {
    return encode_beacon({kind, id, port(), 1200});
  }
  std::vector<Bytes> received;

 private:
  void receive() {
    socket_.async_receive_from(
        asio::buffer(buffer_), from_, [this](const boost::system::error_code& ec, std::size_t n) {
          if (ec) return;
          received.emplace_back(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(n));
          receive();
        });
  }
  udp::socket socket_;
  std::array<std::uint8_t, 65536> buffer_{};
  udp::endpoint from_;
};

class LanLinkTest : public ::testing::Test {
 protected:
  LanLinkOptions options(const ShortId& self, std::vector<std::string> static_peers = {}) {
    LanLinkOptions o;
    o.multicast = false;  // keep parallel tests (and real nodes on the LAN) out
    o.listen_address = "127.0.0.1";
    o.static_peers = std::move(static_peers);
    o.beacon_interval_ms = 100;
    o.neighbour_timeout_ms = 1000;
    o.self = self;
    return o;
  }
  std::unique_ptr<LanLink> make(LanLinkOptions o, RecordingSink& sink) {
    return std::make_unique<LanLink>(LanLink::Strand(asio::make_strand(io.get_executor())), std::move(o),
                                     sink);
  }
  // Runs the io_context until `done` holds (true) or `limit` passes (false).
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io.restart();
      io.run_for(10ms);
    }
    return true;
  }
  void run_for(std::chrono::milliseconds d) {
    run_until([] { return false; }, d);
  }
  static std::string peer_of(const LanLink& link) {
    return "127.0.0.1:" + std::to_string(link.listen_port());
  }

  // A and B up on each other: B has A as its static peer; A finds B from B's beacon.
  void pair_up(LanLinkOptions a_options, LanLinkOptions b_options) {
    a = make(std::move(a_options), sink_a);
    ASSERT_FALSE(a->start()) << a->start_error();
    ASSERT_NE(a->listen_port(), 0);
    b_options.static_peers.push_back(peer_of(*a));
    b = make(std::move(b_options), sink_b);
    ASSERT_FALSE(b->start()) << b->start_error();
    ASSERT_TRUE(
        run_until([&] { return sink_a.count(Event::Kind::up) == 1 && sink_b.count(Event::Kind::up) == 1; }));
    a_to_b = sink_a.of(Event::Kind::up)[0].link;
    b_to_a = sink_b.of(Event::Kind::up)[0].link;
  }

  asio::io_context io;
  RecordingSink sink_a, sink_b;
  std::unique_ptr<LanLink> a, b;
  LinkId a_to_b = 0, b_to_a = 0;
};

// ---- 1. Beacon codec ----

TEST(LanLinkBeacon, RoundTripsAndHasTheDocumentedLayout) {
  Beacon b{BeaconKind::beacon, {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3}, 47478, 512};
  Bytes wire = encode_beacon(b);
  ASSERT_EQ(wire.size(), kBeaconSize);
  EXPECT_EQ(to_hex(wire),
            "4859424c"
            "01"
            "01"
            "deadbeef00010203"
            "b976"
            "0200");
  auto back = decode_beacon(wire);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, b);

  Beacon bye{BeaconKind::goodbye, kIdA, 1, 64};
  auto bye_back = decode_beacon(encode_beacon(bye));
  ASSERT_TRUE(bye_back);
  EXPECT_EQ(*bye_back, bye);

  // Longer beacons (future fields) decode; the extra bytes are ignored.
  Bytes longer = wire;
  longer.insert(longer.end(), {9, 9, 9});
  auto l = decode_beacon(longer);
  ASSERT_TRUE(l);
  EXPECT_EQ(*l, b);
  EXPECT_TRUE(has_beacon_magic(wire));
  EXPECT_FALSE(has_beacon_magic(as_bytes("HYB")));
}

TEST(LanLinkBeacon, RejectsTruncatedWrongMagicVersionKindAndFields) {
  Bytes wire = encode_beacon({BeaconKind::beacon, kIdA, 4000, 512});
  for (std::size_t n = 4; n < kBeaconSize; ++n)
    EXPECT_EQ(decode_beacon(ByteView(wire).first(n)).error(), make_error_code(Errc::truncated)) << n;
  // A prefix of the magic is a truncated beacon; a byte off the magic makes it malformed.
  EXPECT_EQ(decode_beacon(ByteView(wire).first(2)).error(), make_error_code(Errc::truncated));
  EXPECT_EQ(decode_beacon({}).error(), make_error_code(Errc::truncated));
  EXPECT_EQ(decode_beacon(as_bytes("HX")).error(), make_error_code(Errc::malformed));

  auto with = [&](std::size_t at, std::uint8_t value) {
    Bytes w = wire;
    w[at] = value;
    return decode_beacon(w);
  };
  EXPECT_EQ(with(0, 'X').error(), make_error_code(Errc::malformed));               // magic
  EXPECT_EQ(with(3, 'K').error(), make_error_code(Errc::malformed));               // magic
  EXPECT_EQ(with(4, 2).error(), make_error_code(Errc::unsupported));               // version
  EXPECT_EQ(with(4, 0).error(), make_error_code(Errc::unsupported));               // version
  EXPECT_EQ(with(5, 3).error(), make_error_code(Errc::unsupported));               // kind
  EXPECT_EQ(with(5, 0).error(), make_error_code(Errc::unsupported));               // kind
  EXPECT_FALSE(decode_beacon(encode_beacon({BeaconKind::beacon, kIdA, 0, 512})));  // port 0
  EXPECT_FALSE(decode_beacon(encode_beacon({BeaconKind::beacon, kIdA, 1, 63})));   // mtu under 64
  EXPECT_FALSE(decode_beacon(encode_beacon({BeaconKind::beacon, kBroadcastId, 1, 512})));
}

// ---- 6. Options ----

TEST(LanLinkOptions, ParsesTextOptionsAndIgnoresUnknownKeys) {
  auto o = LanLinkOptions::parse({{"interfaces", "eth0, wlan0,"},
                                  {"group", "239.1.2.3"},
                                  {"group_port", "5000"},
                                  {"listen", "127.0.0.1:6000"},
                                  {"static_peers", "10.0.0.2:7000,peer.local:7001"},
                                  {"beacon_interval_ms", "250"},
                                  {"neighbour_timeout_ms", "900"},
                                  {"mtu", "1400"},
                                  {"multicast", "on"},
                                  {"type", "bitchat"},
                                  {"caps.requires_internet", "false"}});
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->interfaces, (std::vector<std::string>{"eth0", "wlan0"}));
  EXPECT_EQ(o->group, "239.1.2.3");
  EXPECT_EQ(o->group_port, 5000);
  EXPECT_EQ(o->listen_address, "127.0.0.1");
  EXPECT_EQ(o->listen_port, 6000);
  EXPECT_EQ(o->static_peers, (std::vector<std::string>{"10.0.0.2:7000", "peer.local:7001"}));
  EXPECT_EQ(o->beacon_interval_ms, 250u);
  EXPECT_EQ(o->neighbour_timeout_ms, 900u);
  EXPECT_EQ(o->mtu, 1400u);
  EXPECT_TRUE(o->multicast);

  auto defaults = LanLinkOptions::parse({});
  ASSERT_TRUE(defaults) << defaults.error();
  EXPECT_TRUE(defaults->interfaces.empty());
  EXPECT_EQ(defaults->group, "239.255.66.77");
  EXPECT_EQ(defaults->group_port, 47477);
  EXPECT_EQ(defaults->listen_address, "0.0.0.0");
  EXPECT_EQ(defaults->listen_port, 0);
  EXPECT_EQ(defaults->mtu, 512u);
  EXPECT_FALSE(LanLinkOptions::parse({{"multicast", "off"}})->multicast);
  EXPECT_EQ(LanLinkOptions::parse({{"listen", "0.0.0.0:0"}})->listen_port, 0);
}

TEST(LanLinkOptions, ErrorsNameTheKey) {
  auto error_of = [](std::map<std::string, std::string> m) {
    auto o = LanLinkOptions::parse(m);
    return o ? std::string("(parsed)") : o.error();
  };
  auto starts_with = [](const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; };
  for (const char* bad : {"63", "65508", "0", "big", "-1", "512x", ""})
    EXPECT_TRUE(starts_with(error_of({{"mtu", bad}}), "mtu: ")) << bad << ": " << error_of({{"mtu", bad}});
  for (const char* bad :
       {"127.0.0.1", "127.0.0.1:", ":80", "localhost:80", "127.0.0.1:65536", "1.2.3.4:x", ""})
    EXPECT_TRUE(starts_with(error_of({{"listen", bad}}), "listen: ")) << bad;
  for (const char* bad : {"0", "65536", "port", "-5"})
    EXPECT_TRUE(starts_with(error_of({{"group_port", bad}}), "group_port: ")) << bad;
  for (const char* bad : {"10.0.0.1", "239.1.2", "ff02::1"})
    EXPECT_TRUE(starts_with(error_of({{"group", bad}}), "group: ")) << bad;
  EXPECT_TRUE(starts_with(error_of({{"static_peers", "10.0.0.1:7000,10.0.0.2"}}), "static_peers: "));
  EXPECT_TRUE(starts_with(error_of({{"static_peers", "10.0.0.1:0"}}), "static_peers: "));
  EXPECT_TRUE(starts_with(error_of({{"beacon_interval_ms", "5"}}), "beacon_interval_ms: "));
  EXPECT_TRUE(starts_with(error_of({{"neighbour_timeout_ms", "1000"}, {"beacon_interval_ms", "1000"}}),
                          "neighbour_timeout_ms: "));
  EXPECT_TRUE(starts_with(error_of({{"multicast", "maybe"}}), "multicast: "));
  EXPECT_TRUE(starts_with(error_of({{"interfaces", "a-very-long-interface-name"}}), "interfaces: "));
}

// ---- 2. Discovery and frames ----

TEST_F(LanLinkTest, TwoLinksFindEachOtherAndCarryFramesBothWays) {
  // A's options also name a static peer nobody listens on: ICMP errors must not hurt.
  udp::socket probe(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
  std::string dead_peer = "127.0.0.1:" + std::to_string(probe.local_endpoint().port());
  probe.close();
  auto a_options = options(kIdA, {dead_peer});
  a_options.mtu = 1200;
  pair_up(a_options, options(kIdB));
  ASSERT_NE(a_to_b, 0u);
  ASSERT_NE(a_to_b, b_to_a);
  const auto up_at_a = sink_a.of(Event::Kind::up)[0], up_at_b = sink_b.of(Event::Kind::up)[0];
  EXPECT_EQ(up_at_a.mesh_id, kIdB);
  EXPECT_EQ(up_at_b.mesh_id, kIdA);
  EXPECT_EQ(up_at_a.text, peer_of(*b));
  EXPECT_EQ(up_at_b.text, peer_of(*a));
  EXPECT_EQ(up_at_a.mtu, 512u);  // min(ours 1200, theirs 512)
  EXPECT_EQ(up_at_b.mtu, 512u);

  Bytes hello = {0x01, 0x02, 0x03, 0x00, 0xff};
  ASSERT_TRUE(a->send(a_to_b, hello));
  ASSERT_TRUE(run_until([&] { return sink_b.count(Event::Kind::frame) == 1; }));
  EXPECT_EQ(sink_b.of(Event::Kind::frame)[0].link, b_to_a);
  EXPECT_EQ(sink_b.of(Event::Kind::frame)[0].frame, hello);

  Bytes big(4000);  // over the MTU: still one datagram, still received
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7 + 1);
  ASSERT_TRUE(b->send(b_to_a, big));
  ASSERT_TRUE(run_until([&] { return sink_a.count(Event::Kind::frame) == 1; }));
  EXPECT_EQ(sink_a.of(Event::Kind::frame)[0].link, a_to_b);
  EXPECT_EQ(sink_a.of(Event::Kind::frame)[0].frame, big);

  EXPECT_FALSE(a->send(a_to_b + b_to_a + 1000, hello));                              // unknown neighbour
  EXPECT_FALSE(a->send(a_to_b, {}));                                                 // empty
  EXPECT_FALSE(a->send(a_to_b, Bytes(kMaxUdpPayload + 1)));                          // over a datagram
  EXPECT_FALSE(a->send(a_to_b, encode_beacon({BeaconKind::beacon, kIdC, 1, 512})));  // would read as a beacon
  EXPECT_TRUE(a->send(a_to_b, Bytes(kMaxUdpPayload, 0x01)));
  ASSERT_TRUE(run_until([&] { return sink_b.count(Event::Kind::frame) == 2; }));
  EXPECT_EQ(sink_b.of(Event::Kind::frame)[1].frame.size(), kMaxUdpPayload);

  // Stable: A has no static peer, so it must keep beaconing B by unicast, or B would time it out.
  run_for(1500ms);
  EXPECT_EQ(sink_a.count(Event::Kind::up), 1u);
  EXPECT_EQ(sink_b.count(Event::Kind::up), 1u);
  EXPECT_EQ(sink_a.count(Event::Kind::down), 0u);
  EXPECT_EQ(sink_b.count(Event::Kind::down), 0u);

  auto status = a->status_json();
  EXPECT_EQ(status["kind"], "lan");
  EXPECT_EQ(status["listen_port"], a->listen_port());
  EXPECT_EQ(status["mtu"], 1200);
  ASSERT_EQ(status["neighbours"].size(), 1u);
  EXPECT_EQ(status["neighbours"][0]["link"], a_to_b);
  EXPECT_EQ(status["neighbours"][0]["mesh_id"], "0202020202020202");
  EXPECT_EQ(status["neighbours"][0]["address"], peer_of(*b));
  EXPECT_LT(status["neighbours"][0]["last_heard_ms_ago"].get<std::uint64_t>(), 1000u);
  EXPECT_EQ(status["counters"]["frames_sent"], 2);
  EXPECT_EQ(status["counters"]["frames_received"], 1);
  EXPECT_EQ(status["counters"]["bytes_received"], big.size());
  EXPECT_GE(status["counters"]["beacons_sent"].get<int>(), 5);
  EXPECT_GE(status["counters"]["beacons_received"].get<int>(), 5);
  EXPECT_EQ(b->status_json()["static_peers"][0], peer_of(*a));
  EXPECT_EQ(status["static_peers"][0], dead_peer);
}

// ---- 3. Unknown sources ----

TEST_F(LanLinkTest, FramesFromUnknownSourcesAreDroppedAndCounted) {
  a = make(options(kIdA), sink_a);
  ASSERT_FALSE(a->start());
  RawPeer raw(io);
  raw.send(as_bytes("not from a neighbour"), a->listen_port());
  raw.send({}, a->listen_port());  // empty: dropped without counting
  ASSERT_TRUE(run_until([&] { return a->counters().unknown_source == 1; }));
  run_for(100ms);
  EXPECT_EQ(a->counters().unknown_source, 1u);
  EXPECT_EQ(sink_a.count(Event::Kind::frame), 0u);
  EXPECT_EQ(a->status_json()["counters"]["unknown_source"], 1);

  // Once it beacons, the same source's frames are delivered, and it got a beacon back at once.
  raw.send(raw.beacon(kIdC), a->listen_port());
  ASSERT_TRUE(run_until([&] { return sink_a.count(Event::Kind::up) == 1 && !raw.received.empty(); }));
  auto reply = decode_beacon(raw.received[0]);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->mesh_id, kIdA);
  EXPECT_EQ(reply->port, a->listen_port());
  raw.send(as_bytes("now a neighbour"), a->listen_port());
  ASSERT_TRUE(run_until([&] { return sink_a.count(Event::Kind::frame) == 1; }));
  EXPECT_EQ(to_string(sink_a.of(Event::Kind::frame)[0].frame), "now a neighbour");
}

TEST_F(LanLinkTest, BeaconsDriveNeighbourState) {
  a = make(options(kIdA), sink_a);
  ASSERT_FALSE(a->start());
  RawPeer raw(io);
  raw.send(raw.beacon(kIdA), a->listen_port());  // our own mesh id: ignored
  Bytes bad = raw.beacon(kIdC);
  bad[4] = 9;
  raw.send(bad, a->listen_port());
  ASSERT_TRUE(run_until([&] { return a->counters().malformed_beacons == 1; }));
  EXPECT_EQ(a->neighbour_count(), 0u);

  raw.send(raw.beacon(kIdC), a->listen_port());
  ASSERT_TRUE(run_until([&] { return sink_a.count(Event::Kind::up) == 1; }));
  LinkId first = sink_a.events.back().link;
  EXPECT_EQ(sink_a.events.back().mesh_id, kIdC);
  EXPECT_EQ(sink_a.events.back().mtu, 512u);

  // Same address, another mesh id: the old neighbour goes, a new one comes.
  raw.send(raw.beacon(kIdB), a->listen_port());
  ASSERT_TRUE(run_until([&] { return sink_a.count(Event::Kind::up) == 2; }));
  ASSERT_EQ(sink_a.events.size(), 3u);
  EXPECT_EQ(sink_a.events[1].kind, Event::Kind::down);
  EXPECT_EQ(sink_a.events[1].link, first);
  EXPECT_EQ(sink_a.events[1].text, "mesh id changed");
  LinkId second = sink_a.events[2].link;
  EXPECT_NE(second, first);
  EXPECT_EQ(sink_a.events[2].mesh_id, kIdB);

  // drop(): down now, back with a new id on the next beacon.
  a->drop(second, "sent garbage");
  ASSERT_EQ(sink_a.events.size(), 4u);
  EXPECT_EQ(sink_a.events[3].link, second);
  EXPECT_EQ(sink_a.events[3].text, "sent garbage");
  EXPECT_FALSE(a->send(second, as_bytes("x")));
  raw.send(raw.beacon(kIdB), a->listen_port());
  ASSERT_TRUE(run_until([&] { return sink_a.count(Event::Kind::up) == 3; }));
  LinkId third = sink_a.events.back().link;
  EXPECT_NE(third, second);

  // A goodbye with another mesh id is stale and ignored; the right one takes it down at once.
  raw.send(raw.beacon(kIdC, BeaconKind::goodbye), a->listen_port());
  raw.send(raw.beacon(kIdB, BeaconKind::goodbye), a->listen_port());
  ASSERT_TRUE(run_until([&] { return sink_a.count(Event::Kind::down) == 3; }));
  EXPECT_EQ(sink_a.events.back().link, third);
  EXPECT_EQ(sink_a.events.back().text, "goodbye");
  EXPECT_EQ(a->neighbour_count(), 0u);
}

// ---- 4. Goodbye on stop ----

TEST_F(LanLinkTest, StopSaysGoodbyeLongBeforeTheTimeout) {
  auto a_options = options(kIdA), b_options = options(kIdB);
  a_options.neighbour_timeout_ms = b_options.neighbour_timeout_ms = 10'000;
  pair_up(a_options, b_options);
  auto stopped_at = std::chrono::steady_clock::now();
  a->stop();
  // A's own neighbours go down at once, with the reason.
  ASSERT_EQ(sink_a.count(Event::Kind::down), 1u);
  EXPECT_EQ(sink_a.of(Event::Kind::down)[0].link, a_to_b);
  EXPECT_EQ(sink_a.of(Event::Kind::down)[0].text, "link stopped");
  ASSERT_TRUE(run_until([&] { return sink_b.count(Event::Kind::down) == 1; }));
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, 5000ms);
  EXPECT_EQ(sink_b.of(Event::Kind::down)[0].link, b_to_a);
  EXPECT_EQ(sink_b.of(Event::Kind::down)[0].text, "goodbye");

  a->stop();  // twice: nothing more
  EXPECT_EQ(sink_a.count(Event::Kind::down), 1u);
  EXPECT_FALSE(a->send(a_to_b, as_bytes("late")));
  EXPECT_TRUE(a->start());  // a stopped link does not start again
  // B keeps beaconing the gone A; nothing comes back up.
  run_for(300ms);
  EXPECT_EQ(sink_b.count(Event::Kind::up), 1u);
}

// ---- 5. Timeout ----

TEST_F(LanLinkTest, UnheardNeighbourTimesOutAndTheDestructorIsQuiet) {
  auto b_options = options(kIdB);
  b_options.neighbour_timeout_ms = 300;
  pair_up(options(kIdA), b_options);
  const auto events_at_a = sink_a.events.size();
  a.reset();  // no goodbye, no sink calls
  auto gone_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until([&] { return sink_b.count(Event::Kind::down) == 1; }));
  EXPECT_GE(std::chrono::steady_clock::now() - gone_at, 150ms);
  auto down = sink_b.of(Event::Kind::down)[0];
  EXPECT_EQ(down.link, b_to_a);
  EXPECT_EQ(down.text.rfind("no beacon for ", 0), 0u) << down.text;
  EXPECT_EQ(sink_a.events.size(), events_at_a);
  // B's beacons to the closed port (ICMP port unreachable) do not stop it.
  run_for(300ms);
  EXPECT_EQ(b->neighbour_count(), 0u);
  RawPeer raw(io);
  raw.send(raw.beacon(kIdC), b->listen_port());
  ASSERT_TRUE(run_until([&] { return sink_b.count(Event::Kind::up) == 2; }));
}

// ---- Start ----

TEST_F(LanLinkTest, StartNamesAMissingInterface) {
  auto o = options(kIdA);
  o.multicast = true;
  o.interfaces = {"nosuch0"};
  a = make(o, sink_a);
  auto ec = a->start();
  EXPECT_TRUE(ec);
  EXPECT_NE(a->start_error().find("nosuch0"), std::string::npos) << a->start_error();
  EXPECT_EQ(a->listen_port(), 0);
  a->stop();
  EXPECT_TRUE(sink_a.events.empty());
}

TEST_F(LanLinkTest, StartsWithMulticastOnWhateverInterfacesThereAre) {
  // The group port of this run only: other tests and nodes do not hear it.
  udp::socket probe(io, udp::endpoint(asio::ip::address_v4::any(), 0));
  auto o = options(kIdA);
  o.multicast = true;
  o.listen_address = "0.0.0.0";
  o.group_port = probe.local_endpoint().port();
  probe.close();
  a = make(o, sink_a);
  ASSERT_FALSE(a->start()) << a->start_error();
  EXPECT_TRUE(a->status_json()["interfaces"].is_array());
  run_for(250ms);
  a->stop();
  for (const auto& e : sink_a.events) EXPECT_NE(e.kind, Event::Kind::frame);
}

TEST_F(LanLinkTest, NoInterfacesAndNoPeersStillStarts) {
  a = make(options(kIdA), sink_a);
  EXPECT_FALSE(a->start());
  EXPECT_NE(a->listen_port(), 0);
  EXPECT_TRUE(a->start());  // twice: refused
  a->stop();
}

}  // namespace
}  // namespace hyphae::bitchat
