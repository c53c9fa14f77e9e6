// Table-driven tests of router::select: one row per row/branch of seed 000's decision tree, seed 001's
// decision matrix and seed 002's multi-factor policy, plus forced preferences, health, redundancy,
// errors and determinism.
#include "router/selection.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"

using namespace hyphae::router;
using hyphae::Errc;

namespace {

// Seed 000's three columns.
std::vector<TransportView> trio() {
  return {{"bitchat", Capabilities::bitchat_preset(), {}},
          {"betanet", Capabilities::betanet_preset(), {}},
          {"mesh", Capabilities::mesh_preset(), {}}};
}
// Seed 002's four protocols.
std::vector<TransportView> quartet() {
  return {{"bitchat", Capabilities::bitchat_preset(), {}},
          {"websocket", Capabilities::websocket_preset(), {}},
          {"betanet", Capabilities::betanet_preset(), {}},
          {"quic", Capabilities::quic_preset(), {}}};
}

std::vector<std::string> names(const Selection& s, const std::vector<TransportView>& ts) {
  std::vector<std::string> out;
  for (auto i : s.ranked()) out.emplace_back(ts[i].name);
  return out;
}

MessageRequirements msg(std::size_t size = 100) {
  MessageRequirements m;
  m.size = size;
  return m;
}
Context ctx_dev(DeviceType d, bool internet = true) {
  Context c;
  c.device = d;
  c.has_internet = internet;
  return c;
}

struct Row {
  const char* seed;  // the seed line this row reproduces
  std::vector<TransportView> transports;
  MessageRequirements req;
  Context ctx;
  std::vector<std::string> expect;  // prefix of the ranked order (first = primary)
  std::vector<Reason> reasons;      // each must be among the selection's reasons
  int expect_count = -1;            // exact number of ranked transports, when >= 0
};

void run(const std::vector<Row>& rows) {
  for (const Row& r : rows) {
    SCOPED_TRACE(r.seed);
    Selection s = select(r.req, r.transports, r.ctx);
    ASSERT_TRUE(s.ok()) << explain(s, r.transports, r.req, r.ctx);
    auto got = names(s, r.transports);
    ASSERT_GE(got.size(), r.expect.size()) << explain(s, r.transports, r.req, r.ctx);
    for (std::size_t i = 0; i < r.expect.size(); ++i)
      EXPECT_EQ(got[i], r.expect[i]) << "position " << i << ": " << explain(s, r.transports, r.req, r.ctx);
    for (Reason code : r.reasons)
      EXPECT_TRUE(s.has(code)) << "missing " << reason_name(code) << ": "
                               << explain(s, r.transports, r.req, r.ctx);
    if (r.expect_count >= 0) {
      EXPECT_EQ(static_cast<int>(s.count), r.expect_count);
    }
  }
}

Row with(Row r, auto&& f) {
  f(r);
  return r;
}

}  // namespace

TEST(SelectionDecisionTree, EveryBranch) {
  const Context desk = ctx_dev(DeviceType::desktop);
  std::vector<Row> rows{
      with(Row{"000: Has Internet? NO -> BitChat (BLE)",
               trio(),
               msg(),
               ctx_dev(DeviceType::desktop, false),
               {"bitchat"},
               {Reason::no_internet, Reason::offline_store_forward},
               1},
           [](Row&) {}),
      with(Row{"000: Requires Privacy? YES -> BetaNet (Sphinx)",
               trio(),
               msg(),
               desk,
               {"betanet"},
               {Reason::privacy_private}},
           [](Row& r) { r.req.privacy = Privacy::private_; }),
      with(Row{"000: Is Broadcast? YES -> BitChat (broadcast)",
               trio(),
               msg(),
               desk,
               {"bitchat", "mesh"},
               {Reason::broadcast},
               2},
           [](Row& r) { r.req.cast = Cast::broadcast; }),
      with(Row{"000: Optimize for? Latency -> Mesh",
               trio(),
               msg(),
               desk,
               {"mesh"},
               {Reason::optimize_latency}},
           [](Row& r) { r.req.optimize_for = Optimize::latency; }),
      with(Row{"000: Optimize for? Privacy -> BetaNet",
               trio(),
               msg(),
               desk,
               {"betanet"},
               {Reason::optimize_privacy}},
           [](Row& r) { r.req.optimize_for = Optimize::privacy; }),
      with(Row{"000: Optimize for? Battery -> BetaNet",
               trio(),
               msg(),
               desk,
               {"betanet", "mesh", "bitchat"},
               {Reason::optimize_battery, Reason::device_desktop}},
           [](Row& r) { r.req.optimize_for = Optimize::battery; }),
      // "Mesh ... Best For: Low latency / Direct conns" and the T=11 failover: BetaNet down -> BitChat.
      with(Row{"000: T=13 Initiate failover -> Switch to BitChat",
               trio(),
               msg(),
               ctx_dev(DeviceType::desktop, false),
               {"bitchat"},
               {Reason::no_internet},
               1},
           [](Row& r) { r.transports[1].health.available = false; }),
  };
  run(rows);
}

TEST(SelectionDecisionMatrix, EveryRow) {
  const Context desk = ctx_dev(DeviceType::desktop);
  std::vector<Row> rows{
      with(Row{"001: | Offline messaging | no | yes | yes | BitChat (offline-capable) |",
               trio(),
               msg(),
               ctx_dev(DeviceType::desktop, false),
               {"bitchat"},
               {Reason::no_internet, Reason::privacy_private, Reason::broadcast},
               1},
           [](Row& r) {
             r.req.privacy = Privacy::private_;
             r.req.cast = Cast::broadcast;
           }),
      with(Row{"001: | Privacy-critical | yes | yes | no | BetaNet (Sphinx anonymity) |",
               trio(),
               msg(),
               desk,
               {"betanet"},
               {Reason::privacy_private},
               2},
           [](Row& r) { r.req.privacy = Privacy::private_; }),
      with(Row{"001: | Broadcast announcement | yes | no | yes | BitChat (supports broadcast) |",
               trio(),
               msg(),
               desk,
               {"bitchat"},
               {Reason::broadcast}},
           [](Row& r) { r.req.cast = Cast::broadcast; }),
      Row{"001: | Online, standard | yes | no | no | BetaNet (better latency) |",
          trio(),
          msg(),
          desk,
          {"betanet", "mesh", "bitchat"},
          {Reason::device_desktop},
          3},
      with(Row{"001: | Low battery | yes | no | no | BetaNet (lower battery impact) |",
               trio(),
               msg(),
               desk,
               {"betanet"},
               {Reason::optimize_battery}},
           [](Row& r) { r.req.optimize_for = Optimize::battery; }),
      // Seed 001 _select_transport falls through to 'htx' by default: no device type configured.
      Row{"001: # Default: Best performance -> return self.transports['htx']",
          trio(),
          msg(2000),
          Context{},
          {"betanet"},
          {Reason::default_priority}},
  };
  run(rows);
}

TEST(SelectionPolicy, DevicePriorities) {
  std::vector<Row> rows{
      Row{"002: Mobile: BitChat > WebSocket > BetaNet > QUIC",
          quartet(),
          msg(),
          ctx_dev(DeviceType::mobile),
          {"bitchat", "websocket", "betanet", "quic"},
          {Reason::device_mobile},
          4},
      Row{"002: Desktop: BetaNet > QUIC > WebSocket > BitChat",
          quartet(),
          msg(),
          ctx_dev(DeviceType::desktop),
          {"betanet", "quic", "websocket", "bitchat"},
          {Reason::device_desktop},
          4},
      Row{"002: Server: QUIC > BetaNet > WebSocket > BitChat",
          quartet(),
          msg(),
          ctx_dev(DeviceType::server),
          {"quic", "betanet", "websocket", "bitchat"},
          {Reason::device_server},
          4},
  };
  run(rows);
}

TEST(SelectionPolicy, SizeThresholds) {
  std::vector<Row> rows{
      Row{"002: Small (<1KB): BitChat preferred for efficiency",
          quartet(),
          msg(1023),
          Context{},
          {"bitchat"},
          {Reason::size_small}},
      Row{"002: Medium (1KB-10KB): BetaNet optimal balance (1 KB)",
          quartet(),
          msg(1024),
          Context{},
          {"betanet"},
          {Reason::size_medium}},
      Row{"002: Medium (1KB-10KB): BetaNet optimal balance (10 KB)",
          quartet(),
          msg(10240),
          Context{},
          {"betanet"},
          {Reason::size_medium}},
      Row{"002: Large (>10KB): QUIC for throughput",
          quartet(),
          msg(10241),
          Context{},
          {"quic"},
          {Reason::size_large}},
      // "Large messages prefer QUIC for throughput" also beats a device priority.
      Row{"002: Large messages prefer QUIC for throughput (desktop)",
          quartet(),
          msg(200'000),
          ctx_dev(DeviceType::desktop),
          {"quic", "websocket", "betanet"},
          {Reason::size_large},
          3},
  };
  run(rows);
}

TEST(SelectionPolicy, BatteryThresholds) {
  auto bat = [](float f, bool charging = false) {
    Context c = ctx_dev(DeviceType::desktop);
    c.battery_fraction = f;
    c.charging = charging;
    return c;
  };
  std::vector<Row> rows{
      Row{"002: 'critical': 0.10, # <10% battery -> allowed_transports=['bitchat']",
          quartet(),
          msg(),
          bat(0.05f),
          {"bitchat"},
          {Reason::battery_critical},
          1},
      Row{"002: Low battery (<20%): BitChat only",
          quartet(),
          msg(),
          bat(0.15f),
          {"bitchat"},
          {Reason::battery_low},
          1},
      Row{"002: Medium battery (20-50%): BitChat > BetaNet",
          quartet(),
          msg(),
          bat(0.35f),
          {"bitchat", "betanet"},
          {Reason::battery_medium},
          2},
      Row{"002: High battery (>50%): All protocols available ('high': 0.80 band)",
          quartet(),
          msg(),
          bat(0.65f),
          {"betanet", "quic", "websocket", "bitchat"},
          {Reason::battery_high},
          4},
      Row{"002: High battery (>50%): All protocols available (>= 80%)",
          quartet(),
          msg(),
          bat(0.95f),
          {"betanet"},
          {Reason::battery_full},
          4},
      Row{"charging: no battery limits even at 15%",
          quartet(),
          msg(),
          bat(0.15f, true),
          {"betanet"},
          {Reason::charging},
          4},
      // Seed 001 "Low battery -> BetaNet" vs seed 002 "<20%: BitChat only": the measured battery wins.
      with(Row{"001 vs 002: low battery measured at 15% -> BitChat only",
               trio(),
               msg(),
               bat(0.15f),
               {"bitchat"},
               {Reason::battery_low},
               1},
           [](Row& r) { r.req.optimize_for = Optimize::battery; }),
  };
  run(rows);
}

TEST(SelectionPolicy, NetworkQualityAndEmergency) {
  auto net = [](DeviceType d, float q) {
    Context c = ctx_dev(d);
    c.network_quality = q;
    return c;
  };
  Context low = ctx_dev(DeviceType::desktop);
  low.battery_fraction = 0.05f;
  std::vector<Row> rows{
      Row{"002: Network Quality: Poor: BitChat mesh resilience",
          quartet(),
          msg(),
          net(DeviceType::desktop, 0.1f),
          {"bitchat"},
          {Reason::network_poor}},
      Row{"002: Network Quality: Good: BetaNet/QUIC performance",
          quartet(),
          msg(),
          net(DeviceType::desktop, 0.5f),
          {"betanet", "quic"},
          {Reason::device_desktop}},
      Row{"002: Network Quality: Excellent: QUIC maximum throughput",
          quartet(),
          msg(),
          net(DeviceType::server, 0.9f),
          {"quic"},
          {Reason::network_excellent}},
      with(Row{"002: Emergency messages prefer fastest available transport",
               quartet(),
               msg(),
               ctx_dev(DeviceType::mobile),
               {"quic", "websocket", "betanet", "bitchat"},
               {Reason::emergency_fastest}},
           [](Row& r) { r.req.priority = Priority::emergency; }),
      with(Row{"EMERGENCY at 5% battery still takes the fastest",
               quartet(),
               msg(),
               low,
               {"quic"},
               {Reason::battery_critical, Reason::emergency_ignores_battery, Reason::emergency_fastest},
               4},
           [](Row& r) { r.req.priority = Priority::emergency; }),
      with(Row{"002: ANONYMOUS -> _encrypt_onion: anonymity >= 2 only",
               quartet(),
               msg(),
               ctx_dev(DeviceType::mobile),
               {"betanet"},
               {Reason::privacy_anonymous},
               1},
           [](Row& r) { r.req.privacy = Privacy::anonymous; }),
      with(Row{"thermal hot: high-battery-impact transports last",
               quartet(),
               msg(),
               ctx_dev(DeviceType::server),
               {"betanet", "websocket", "bitchat", "quic"},
               {Reason::thermal_hot}},
           [](Row& r) {
             r.transports[3].caps.battery_impact = BatteryImpact::high;
             r.ctx.thermal = Thermal::hot;
           }),
  };
  run(rows);
}

TEST(SelectionPreference, ForcedSuccess) {
  auto ts = trio();
  MessageRequirements m = msg();
  m.transport_preference = "bitchat";
  Context c = ctx_dev(DeviceType::desktop);
  Selection s = select(m, ts, c);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(names(s, ts), std::vector<std::string>{"bitchat"});
  EXPECT_TRUE(s.has(Reason::preferred_forced));

  m.redundancy = 2;
  s = select(m, ts, c);
  EXPECT_EQ(names(s, ts), (std::vector<std::string>{"bitchat", "betanet"}));
  EXPECT_EQ(s.send_count, 2);

  MessageRequirements b = msg();
  b.transport_preference = "betanet";
  c.battery_fraction = 0.15f;
  s = select(b, ts, c);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(names(s, ts), std::vector<std::string>{"betanet"});
  EXPECT_TRUE(s.has(Reason::preference_overrides_battery));
}

TEST(SelectionPreference, ForcedFailures) {
  struct Case {
    const char* what;
    std::string_view pref;
    std::size_t size;
    Cast cast;
    bool internet;
    bool mesh_down;
    Errc err;
    Reason excluded;
  };
  const Case cases[] = {
      {"too large for BitChat's 64 KB", "bitchat", 100'000, Cast::unicast, true, false, Errc::too_large,
       Reason::too_large},
      {"BetaNet needs internet while offline", "betanet", 100, Cast::unicast, false, false, Errc::no_link,
       Reason::needs_internet},
      {"Mesh unavailable", "mesh", 100, Cast::unicast, true, true, Errc::no_link, Reason::unavailable},
      {"BetaNet cannot broadcast", "betanet", 100, Cast::broadcast, true, false, Errc::unsupported,
       Reason::cannot_broadcast},
      {"unknown name", "carrier-pigeon", 100, Cast::unicast, true, false, Errc::not_found, Reason::none},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    auto ts = trio();
    ts[2].health.available = !k.mesh_down;
    MessageRequirements m = msg(k.size);
    m.transport_preference = k.pref;
    m.cast = k.cast;
    Context c = ctx_dev(DeviceType::desktop, k.internet);
    Selection s = select(m, ts, c);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.error, hyphae::make_error_code(k.err)) << explain(s, ts, m, c);
    EXPECT_EQ(s.count, 0);
    if (k.excluded != Reason::none) {
      for (std::size_t i = 0; i < ts.size(); ++i)
        if (ts[i].name == k.pref) {
          EXPECT_EQ(s.excluded[i], k.excluded);
        }
    } else {
      EXPECT_TRUE(s.has(Reason::preferred_unknown));
      EXPECT_NE(explain(s, ts, m, c).find("carrier-pigeon"), std::string::npos);
    }
  }
  auto ts = trio();
  MessageRequirements m = msg(100'000);
  m.transport_preference = "bitchat";
  Context c = ctx_dev(DeviceType::desktop);
  std::string text = explain(select(m, ts, c), ts, m, c);
  EXPECT_NE(text.find("100000 B exceeds its maximum of 65536 B"), std::string::npos) << text;
}

TEST(SelectionHealth, UnavailableAndDegradedSkipped) {
  Context desk = ctx_dev(DeviceType::desktop);
  auto ts = quartet();
  ts[2].health.available = false;  // betanet
  Selection s = select(msg(), ts, desk);
  EXPECT_EQ(names(s, ts), (std::vector<std::string>{"quic", "websocket", "bitchat"}));
  EXPECT_EQ(s.excluded[2], Reason::unavailable);

  ts = quartet();
  ts[2].health.degraded = true;
  s = select(msg(), ts, desk);
  EXPECT_EQ(names(s, ts), (std::vector<std::string>{"quic", "websocket", "bitchat", "betanet"}));
  EXPECT_TRUE(s.has(Reason::degraded_last));

  for (auto& t : ts) t.health.degraded = true;  // only degraded left: still usable, normal order
  s = select(msg(), ts, desk);
  EXPECT_EQ(names(s, ts)[0], "betanet");
  EXPECT_FALSE(s.has(Reason::degraded_last));

  ts = quartet();  // measured latency replaces the typical one
  ts[3].health.recent_latency_ms = 3000;
  MessageRequirements e = msg();
  e.priority = Priority::emergency;
  s = select(e, ts, desk);
  EXPECT_EQ(names(s, ts)[0], "websocket");

  ts = quartet();  // failure count breaks ties between equal transports
  ts[1].caps = ts[3].caps;
  ts[3].health.failure_count = 2;
  s = select(msg(), ts, desk);
  EXPECT_EQ(names(s, ts)[1], "websocket");
}

TEST(SelectionRedundancy, DistinctTransports) {
  auto ts = quartet();
  Context desk = ctx_dev(DeviceType::desktop);
  for (std::uint8_t n = 1; n <= 6; ++n) {
    MessageRequirements m = msg();
    m.redundancy = n;
    m.priority = Priority::high;
    Selection s = select(m, ts, desk);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s.send_count, std::min<int>(n, 4));
    std::vector<int> seen(ts.size(), 0);
    for (auto i : s.to_send()) EXPECT_EQ(++seen[i], 1);
    EXPECT_EQ(s.has(Reason::redundancy_short), n > 4);
  }
}

TEST(SelectionErrors, NothingFits) {
  Context desk = ctx_dev(DeviceType::desktop);
  std::vector<TransportView> none;
  EXPECT_EQ(select(msg(), none, desk).error, hyphae::make_error_code(Errc::no_link));

  auto ts = trio();
  Selection s = select(msg(5'000'000), ts, desk);
  EXPECT_EQ(s.error, hyphae::make_error_code(Errc::too_large));
  EXPECT_TRUE(s.has(Reason::nothing_fits));

  std::vector<TransportView> only_betanet{{"betanet", Capabilities::betanet_preset(), {}}};
  MessageRequirements b = msg();
  b.cast = Cast::broadcast;
  EXPECT_EQ(select(b, only_betanet, desk).error, hyphae::make_error_code(Errc::unsupported));

  MessageRequirements a = msg();  // anonymous while offline: BetaNet could carry it once back online
  a.privacy = Privacy::anonymous;
  s = select(a, ts, ctx_dev(DeviceType::desktop, false));
  EXPECT_EQ(s.error, hyphae::make_error_code(Errc::no_link));
  EXPECT_EQ(s.excluded[0], Reason::not_anonymous);

  Context low = desk;  // battery 15%, only direct links registered
  low.battery_fraction = 0.15f;
  std::vector<TransportView> direct{{"quic", Capabilities::quic_preset(), {}}};
  s = select(msg(), direct, low);
  EXPECT_EQ(s.error, hyphae::make_error_code(Errc::no_link));
  std::string text = explain(s, direct, msg(), low);
  EXPECT_NE(text.find("battery 15% < 20%"), std::string::npos) << text;

  std::vector<TransportView> many(kMaxTransports + 1, TransportView{"x", Capabilities{}, {}});
  EXPECT_EQ(select(msg(), many, desk).error, hyphae::make_error_code(Errc::invalid_argument));
}

TEST(SelectionDeterminism, SameInputSameOutputAnyOrder) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 2000; ++iter) {
    auto ts = quartet();
    for (auto& t : ts) {
      t.health.available = rng() % 5 != 0;
      t.health.degraded = rng() % 4 == 0;
      t.health.recent_latency_ms = rng() % 3 == 0 ? rng() % 3000 : 0;
      t.health.failure_count = rng() % 3;
    }
    MessageRequirements m = msg(rng() % 100'000);
    m.priority = static_cast<Priority>(rng() % 4);
    m.cast = static_cast<Cast>(rng() % 3);
    m.privacy = static_cast<Privacy>(rng() % 3);
    m.optimize_for = static_cast<Optimize>(rng() % 5);
    m.redundancy = static_cast<std::uint8_t>(1 + rng() % 3);
    Context c;
    c.has_internet = rng() % 3 != 0;
    c.device = static_cast<DeviceType>(rng() % 4);
    c.battery_fraction = static_cast<float>(rng() % 120) / 100.0f - 0.1f;
    c.charging = rng() % 4 == 0;
    c.thermal = static_cast<Thermal>(rng() % 4);
    c.network_quality = static_cast<float>(rng() % 110) / 100.0f - 0.1f;

    Selection a = select(m, ts, c), b = select(m, ts, c);
    EXPECT_EQ(names(a, ts), names(b, ts));
    EXPECT_EQ(a.error, b.error);
    EXPECT_EQ(explain(a, ts, m, c), explain(b, ts, m, c));
    // Reversing the input gives the same choice unless two transports tie on every key (none do here).
    std::vector<TransportView> rev(ts.rbegin(), ts.rend());
    Selection r = select(m, rev, c);
    EXPECT_EQ(names(a, ts), names(r, rev)) << explain(a, ts, m, c);
  }
}

TEST(SelectionCapabilities, PresetsFollowTheCapabilityTable) {
  constexpr auto bc = Capabilities::bitchat_preset();
  constexpr auto bn = Capabilities::betanet_preset();
  constexpr auto me = Capabilities::mesh_preset();
  static_assert(bc.role() == Role::offline_mesh && bn.role() == Role::privacy &&
                me.role() == Role::direct_bulk);
  static_assert(Capabilities::websocket_preset().role() == Role::direct_light);
  static_assert(Capabilities::quic_preset().role() == Role::direct_bulk);
  EXPECT_EQ(bc.max_message_size, 65536u);
  EXPECT_EQ(bn.max_message_size, 1u << 20);
  EXPECT_EQ(bc.typical_latency_ms, 2000u);
  EXPECT_EQ(bn.typical_latency_ms, 500u);
  EXPECT_EQ(me.typical_latency_ms, 100u);
  EXPECT_EQ(bc.bandwidth_bps, 100'000u);
  EXPECT_EQ(me.bandwidth_bps, 100'000'000u);
  EXPECT_TRUE(bc.offline_capable && !bc.requires_internet && bc.store_and_forward && bc.max_hops == 7);
  EXPECT_TRUE(bn.forward_secrecy && bn.anonymity_level == 3 && bn.max_hops == 5 && !bn.broadcast);
  EXPECT_EQ(bc.battery_impact, BatteryImpact::medium);
  EXPECT_EQ(bn.data_cost, DataCost::medium);
  EXPECT_EQ(bc.mtu, 244u);
  std::string d = bc.describe();
  EXPECT_NE(d.find("role=offline_mesh"), std::string::npos) << d;
  EXPECT_NE(d.find("multi-hop=7"), std::string::npos) << d;
  for (int r = 0; r <= static_cast<int>(Reason::too_many_transports); ++r)
    EXPECT_FALSE(reason_name(static_cast<Reason>(r)).empty());
}

// transport_priority orders the transports when no device type is configured and the size
// preference does not decide (a medium message with no privacy transport present).
TEST(SelectionPriority, TransportPriorityOrdersWithoutADeviceType) {
  const std::vector<TransportView> ts{{"bitchat", Capabilities::bitchat_preset(), {}},
                                      {"quic", Capabilities::quic_preset(), {}}};
  Context c;
  c.priority_rank = rank_from_priority({"htx", "ble", "mesh"});  // the default
  EXPECT_EQ(names(select(msg(2000), ts, c), ts), (std::vector<std::string>{"bitchat", "quic"}));
  c.priority_rank = rank_from_priority({"tcp", "bitchat"});
  EXPECT_EQ(names(select(msg(2000), ts, c), ts), (std::vector<std::string>{"quic", "bitchat"}));
  // A device type's own priorities win over the list (mobile: BitChat first).
  c.device = DeviceType::mobile;
  EXPECT_EQ(names(select(msg(2000), ts, c), ts)[0], "bitchat");
}

TEST(SelectionPriority, RankFromPriorityFillsInTheRolesTheListLeavesOut) {
  // index: offline_mesh, privacy, direct_bulk, direct_light
  EXPECT_EQ(rank_from_priority({"htx", "ble", "mesh"}), (std::array<std::uint8_t, 4>{1, 0, 2, 3}));
  EXPECT_EQ(rank_from_priority({}), (std::array<std::uint8_t, 4>{1, 0, 2, 3}));
  EXPECT_EQ(rank_from_priority({"websocket", "quic"}), (std::array<std::uint8_t, 4>{3, 2, 1, 0}));
  EXPECT_EQ(rank_from_priority({"mesh", "bitchat", "tcp"}), (std::array<std::uint8_t, 4>{0, 2, 1, 3}));
}
