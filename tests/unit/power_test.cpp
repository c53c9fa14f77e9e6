#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "power/policy.hpp"
#include "power/sysfs.hpp"

using namespace hyphae::power;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

PowerState battery(double fraction, bool charging = false) {
  PowerState s;
  s.battery_fraction = fraction;
  s.charging = charging;
  return s;
}

PowerState temperature(double c) {
  PowerState s;
  s.temperature_c = c;
  return s;
}

const TransportSet kMeshOnly{TransportClass::offline_mesh};
const TransportSet kMeshAndPrivacy{TransportClass::offline_mesh, TransportClass::privacy};

}  // namespace

// --- Battery levels at every boundary -------------------------------------------------------------

struct BatteryCase {
  double fraction;
  BatteryLevel level;
};

class PowerBatteryBoundary : public ::testing::TestWithParam<BatteryCase> {};

TEST_P(PowerBatteryBoundary, LevelMatchesSeedThresholds) {
  const BatteryCase c = GetParam();
  EXPECT_EQ(battery_level(battery(c.fraction)), c.level) << c.fraction;
  EXPECT_EQ(decide(battery(c.fraction)).battery_level, c.level) << c.fraction;
}

INSTANTIATE_TEST_SUITE_P(
    PowerSeed002, PowerBatteryBoundary,
    ::testing::Values(
        BatteryCase{0.0, BatteryLevel::critical}, BatteryCase{0.0999, BatteryLevel::critical},
        BatteryCase{0.10, BatteryLevel::low}, BatteryCase{0.1999, BatteryLevel::low},
        BatteryCase{0.20, BatteryLevel::medium}, BatteryCase{0.4999, BatteryLevel::medium},
        BatteryCase{0.50, BatteryLevel::high}, BatteryCase{0.7999, BatteryLevel::high},
        BatteryCase{0.80, BatteryLevel::full}, BatteryCase{0.8001, BatteryLevel::full},
        BatteryCase{1.0, BatteryLevel::full},
        // Out-of-range readings are clamped.
        BatteryCase{-0.5, BatteryLevel::critical}, BatteryCase{1.7, BatteryLevel::full},
        // sysfs gives whole percents: n/100.0 must land on the same side as the literal.
        BatteryCase{9 / 100.0, BatteryLevel::critical}, BatteryCase{10 / 100.0, BatteryLevel::low},
        BatteryCase{19 / 100.0, BatteryLevel::low}, BatteryCase{20 / 100.0, BatteryLevel::medium},
        BatteryCase{49 / 100.0, BatteryLevel::medium}, BatteryCase{50 / 100.0, BatteryLevel::high},
        BatteryCase{79 / 100.0, BatteryLevel::high}, BatteryCase{80 / 100.0, BatteryLevel::full}));

TEST(PowerPolicy, RulesPerBatteryLevel) {
  const PowerPolicy critical = decide(battery(0.05));
  EXPECT_EQ(critical.allowed_transports, kMeshOnly);
  EXPECT_EQ(critical.heartbeat_interval, 300s);  // seed: 5 minutes
  EXPECT_FALSE(critical.discovery_enabled);
  EXPECT_EQ(critical.discovery_interval, 0ms);
  EXPECT_EQ(critical.max_connections, 1u);  // seed: max_concurrent_connections=1

  const PowerPolicy low = decide(battery(0.15));
  EXPECT_EQ(low.allowed_transports, kMeshOnly);
  EXPECT_EQ(low.heartbeat_interval, 120s);
  EXPECT_TRUE(low.discovery_enabled);
  EXPECT_EQ(low.discovery_interval, 120s);

  const PowerPolicy medium = decide(battery(0.35));
  EXPECT_EQ(medium.allowed_transports, kMeshAndPrivacy);
  EXPECT_FALSE(medium.allowed_transports.contains(TransportClass::direct));
  EXPECT_EQ(medium.heartbeat_interval, 60s);
  EXPECT_EQ(medium.discovery_interval, 60s);

  for (double f : {0.6, 0.9}) {
    const PowerPolicy p = decide(battery(f));
    EXPECT_EQ(p.allowed_transports, TransportSet::all());
    EXPECT_EQ(p.heartbeat_interval, 30s);
    EXPECT_EQ(p.discovery_interval, 30s);
    EXPECT_EQ(p.max_connections, 0u);
  }
}

TEST(PowerPolicy, NoBatteryMeansNoLimits) {
  const PowerPolicy p = decide(PowerState{});
  EXPECT_EQ(p.battery_level, BatteryLevel::none);
  EXPECT_EQ(p.thermal_level, ThermalLevel::normal);
  EXPECT_EQ(p.allowed_transports, TransportSet::all());
  EXPECT_TRUE(p.discovery_enabled);
  EXPECT_FALSE(p.thermal_throttling);
  ASSERT_EQ(p.reasons.size(), 2u);
  EXPECT_EQ(p.reasons[0], "no battery reported: no battery limits");
  EXPECT_EQ(p.reasons[1], "no temperature reported: no thermal limits");
}

TEST(PowerPolicy, NanReadingsAreIgnored) {
  PowerState s;
  s.battery_fraction = std::numeric_limits<double>::quiet_NaN();
  s.temperature_c = std::numeric_limits<double>::quiet_NaN();
  const PowerPolicy p = decide(s);
  EXPECT_EQ(p.battery_level, BatteryLevel::none);
  EXPECT_EQ(p.thermal_level, ThermalLevel::normal);
  EXPECT_NE(p.reasons[0].find("not a number"), std::string::npos);
}

TEST(PowerPolicy, ChargingOverridesLowBattery) {
  for (double f : {0.0, 0.05, 0.0999, 0.15, 0.35, 0.79}) {
    const PowerPolicy p = decide(battery(f, /*charging=*/true));
    EXPECT_EQ(p.battery_level, BatteryLevel::full) << f;
    EXPECT_EQ(p.allowed_transports, TransportSet::all()) << f;
    EXPECT_TRUE(p.discovery_enabled) << f;
    EXPECT_EQ(p.reasons[0].rfind("charging at battery ", 0), 0u) << p.reasons[0];
  }
}

TEST(PowerPolicy, ReasonsNameTheLevelAndTheEffect) {
  const PowerPolicy p = decide(battery(0.0999));
  EXPECT_EQ(
      p.reasons[0],
      "battery 9.99 % is critical (< 10 %): transports offline_mesh; keepalive every 300 s; discovery off; "
      "at most 1 connection(s)");
  const PowerPolicy q = decide(battery(0.2));
  EXPECT_EQ(q.reasons[0],
            "battery 20 % is medium (20 % to 50 %): transports offline_mesh+privacy; keepalive every 60 s; "
            "discovery every 60 s; at most 10 connection(s)");
}

// --- Thermal -------------------------------------------------------------------------------------

struct ThermalCase {
  double celsius;
  ThermalLevel level;
};

class PowerThermalBoundary : public ::testing::TestWithParam<ThermalCase> {};

TEST_P(PowerThermalBoundary, LevelMatchesSeedThresholds) {
  const ThermalCase c = GetParam();
  EXPECT_EQ(thermal_level(temperature(c.celsius)), c.level) << c.celsius;
}

INSTANTIATE_TEST_SUITE_P(
    PowerSeed002, PowerThermalBoundary,
    ::testing::Values(ThermalCase{-10.0, ThermalLevel::normal}, ThermalCase{34.99, ThermalLevel::normal},
                      ThermalCase{35.0, ThermalLevel::warm}, ThermalCase{39.99, ThermalLevel::warm},
                      ThermalCase{40.0, ThermalLevel::hot}, ThermalCase{44.99, ThermalLevel::hot},
                      ThermalCase{45.0, ThermalLevel::critical}, ThermalCase{50.0, ThermalLevel::critical},
                      ThermalCase{95.0, ThermalLevel::critical}));

TEST(PowerPolicy, ThermalRules) {
  const PowerPolicy normal = decide(temperature(30));
  EXPECT_FALSE(normal.thermal_throttling);
  EXPECT_EQ(normal.throughput_factor, 1.0);
  EXPECT_EQ(normal.discovery_interval, 30s);

  const PowerPolicy warm = decide(temperature(37));
  EXPECT_FALSE(warm.thermal_throttling);
  EXPECT_EQ(warm.discovery_interval, 60s);

  const PowerPolicy hot = decide(temperature(42));
  EXPECT_TRUE(hot.thermal_throttling);
  EXPECT_EQ(hot.throughput_factor, 0.5);
  EXPECT_EQ(hot.heartbeat_interval, 60s);
  EXPECT_FALSE(hot.reduce_tx_power);

  const PowerPolicy critical = decide(temperature(46));
  EXPECT_TRUE(critical.thermal_throttling);
  EXPECT_EQ(critical.throughput_factor, 0.25);
  EXPECT_TRUE(critical.reduce_tx_power);
  EXPECT_FALSE(critical.discovery_enabled);
  EXPECT_EQ(critical.heartbeat_interval, 120s);
  EXPECT_EQ(critical.max_connections, 2u);
  EXPECT_EQ(critical.allowed_transports, TransportSet::all());  // thermal never removes transports
  EXPECT_EQ(
      critical.reasons[1],
      "temperature 46 °C is critical (>= 45 °C): throttled to 25 % of the send rate; reduced transmission "
      "power; keepalive every 120 s; discovery off; at most 2 connection(s)");
}

TEST(PowerPolicy, StricterOfBatteryAndThermalWins) {
  PowerState s = battery(0.15);  // low: heartbeat x4, discovery x4, 3 connections
  s.temperature_c = 46;          // critical: heartbeat x4, discovery off, 2 connections
  PowerPolicy p = decide(s);
  EXPECT_EQ(p.allowed_transports, kMeshOnly);
  EXPECT_EQ(p.heartbeat_multiplier, 4.0);
  EXPECT_FALSE(p.discovery_enabled);
  EXPECT_EQ(p.max_connections, 2u);

  s = battery(0.05);  // critical: heartbeat x10, 1 connection
  s.temperature_c = 42;
  p = decide(s);
  EXPECT_EQ(p.heartbeat_interval, 300s);
  EXPECT_EQ(p.max_connections, 1u);
  EXPECT_EQ(p.throughput_factor, 0.5);
  EXPECT_EQ(p.thermal_level, ThermalLevel::hot);

  s = battery(0.6);
  s.temperature_c = 37;  // warm: discovery x2 beats high's x1
  EXPECT_EQ(decide(s).discovery_interval, 60s);
}

TEST(PowerPolicy, ChargingDoesNotLiftThermalLimits) {
  PowerState s = battery(0.05, true);
  s.temperature_c = 47;
  const PowerPolicy p = decide(s);
  EXPECT_EQ(p.battery_level, BatteryLevel::full);
  EXPECT_TRUE(p.thermal_throttling);
  EXPECT_FALSE(p.discovery_enabled);
}

TEST(PowerPolicy, IsDeterministic) {
  PowerState s = battery(0.42);
  s.temperature_c = 41.5;
  EXPECT_EQ(decide(s), decide(s));
}

// --- Overrides and configuration ------------------------------------------------------------------

TEST(PowerOverrides, TakePrecedenceAndAreTagged) {
  PowerState measured = battery(0.9);
  measured.temperature_c = 30;
  PowerOverrides o;
  o.battery_fraction = 0.05;
  PowerState s = apply_overrides(measured, o);
  EXPECT_EQ(s.battery_fraction, 0.05);
  EXPECT_EQ(s.temperature_c, 30.0);
  EXPECT_TRUE(s.overridden.battery);
  EXPECT_FALSE(s.overridden.temperature);
  PowerPolicy p = decide(s);
  EXPECT_EQ(p.battery_level, BatteryLevel::critical);
  EXPECT_NE(p.reasons[0].find("5 % (override)"), std::string::npos) << p.reasons[0];

  o.charging = true;
  o.temperature_c = 41;
  s = apply_overrides(measured, o);
  p = decide(s);
  EXPECT_EQ(p.battery_level, BatteryLevel::full);
  EXPECT_EQ(p.thermal_level, ThermalLevel::hot);
  EXPECT_NE(p.reasons[0].find("charging (override)"), std::string::npos) << p.reasons[0];
  EXPECT_NE(p.reasons[1].find("(override)"), std::string::npos) << p.reasons[1];

  // An override can give a battery to a machine that reports none (testing a policy on a server).
  EXPECT_EQ(
      decide(apply_overrides(PowerState{}, PowerOverrides{0.15, std::nullopt, std::nullopt})).battery_level,
      BatteryLevel::low);
  // An explicit "not charging" override beats a charging reading.
  EXPECT_EQ(decide(apply_overrides(battery(0.15, true), PowerOverrides{std::nullopt, false, std::nullopt}))
                .battery_level,
            BatteryLevel::low);
}

TEST(PowerPolicy, CustomThresholdsAndRules) {
  PolicyConfig c;
  c.battery = {0.05, 0.15, 0.30, 0.60};
  c.base_heartbeat = 10s;
  EXPECT_TRUE(validate(c).empty());
  EXPECT_EQ(decide(battery(0.07), c).battery_level, BatteryLevel::low);
  EXPECT_EQ(decide(battery(0.07), c).heartbeat_interval, 40s);
  EXPECT_EQ(decide(battery(0.65), c).battery_level, BatteryLevel::full);
  c.battery_rules[static_cast<std::size_t>(BatteryLevel::low)].allowed = TransportSet{};
  EXPECT_TRUE(decide(battery(0.07), c).allowed_transports.empty());
}

TEST(PowerPolicy, ValidateNamesTheKey) {
  EXPECT_TRUE(validate(PolicyConfig{}).empty());
  PolicyConfig c;
  c.battery.low = 0.05;
  EXPECT_EQ(validate(c), "power.battery.low (0.05) must be greater than power.battery.critical (0.1)");
  c = {};
  c.battery.high = 1.5;
  EXPECT_NE(validate(c).find("power.battery.high"), std::string::npos);
  c = {};
  c.thermal.critical_c = 40;
  EXPECT_NE(validate(c).find("power.thermal.critical_c"), std::string::npos);
  c = {};
  c.thermal_rules[2].throughput_factor = 0;
  EXPECT_NE(validate(c).find("power.thermal_rules.hot.throughput_factor"), std::string::npos);
  c = {};
  c.battery_rules[1].heartbeat_multiplier = 0.5;
  EXPECT_NE(validate(c).find("power.battery_rules.critical.heartbeat_multiplier"), std::string::npos);
}

TEST(PowerTransports, SetsAndClassification) {
  EXPECT_EQ(to_string(TransportSet::all()), "offline_mesh+direct+privacy");
  EXPECT_EQ(to_string(TransportSet{}), "none");
  EXPECT_EQ(to_string(kMeshOnly & kMeshAndPrivacy), "offline_mesh");
  EXPECT_EQ(transport_class_for(true, false, false), TransportClass::offline_mesh);  // BitChat
  EXPECT_EQ(transport_class_for(false, true, true), TransportClass::privacy);        // BetaNet
  EXPECT_EQ(transport_class_for(false, true, false), TransportClass::direct);        // TCP mesh, QUIC
}

// --- sysfs reader over a fake tree ------------------------------------------------------------------

class PowerSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    root_ = fs::temp_directory_path() /
            ("hyphae-power-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const std::string& relative, const std::string& content) {
    const fs::path p = root_ / relative;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }
  void supply(const std::string& name, const std::string& type) {
    write("class/power_supply/" + name + "/type", type + "\n");
  }
  void zone(int n, const std::string& temp) {
    write("class/thermal/thermal_zone" + std::to_string(n) + "/temp", temp);
  }

  fs::path root_;
};

TEST_F(PowerSysfs, EmptyTreeGivesAbsentFields) {
  std::vector<std::string> notes;
  const PowerState s = read_sysfs(root_, &notes);
  EXPECT_FALSE(s.battery_fraction);
  EXPECT_FALSE(s.charging);
  EXPECT_FALSE(s.temperature_c);
  EXPECT_TRUE(notes.empty());
  EXPECT_EQ(read_sysfs(root_ / "does-not-exist"), PowerState{});
}

TEST_F(PowerSysfs, LaptopOnBattery) {
  supply("BAT0", "Battery");
  write("class/power_supply/BAT0/capacity", "15\n");
  write("class/power_supply/BAT0/status", "Discharging\n");
  write("class/power_supply/BAT0/present", "1\n");
  supply("AC", "Mains");
  write("class/power_supply/AC/online", "0\n");
  zone(0, "41000\n");
  zone(1, "52500\n");
  zone(2, "38000\n");
  const PowerState s = read_sysfs(root_);
  ASSERT_TRUE(s.battery_fraction);
  EXPECT_DOUBLE_EQ(*s.battery_fraction, 0.15);
  EXPECT_FALSE(s.charging);
  ASSERT_TRUE(s.temperature_c);
  EXPECT_DOUBLE_EQ(*s.temperature_c, 52.5);  // hottest zone
  const PowerPolicy p = decide(s);
  EXPECT_EQ(p.battery_level, BatteryLevel::low);
  EXPECT_EQ(p.thermal_level, ThermalLevel::critical);
}

TEST_F(PowerSysfs, BoundaryPercentFromSysfs) {
  supply("BAT0", "Battery");
  write("class/power_supply/BAT0/capacity", "10\n");
  write("class/power_supply/BAT0/status", "Discharging\n");
  EXPECT_EQ(decide(read_sysfs(root_)).battery_level, BatteryLevel::low);
  write("class/power_supply/BAT0/capacity", "9\n");
  EXPECT_EQ(decide(read_sysfs(root_)).battery_level, BatteryLevel::critical);
  write("class/power_supply/BAT0/capacity", "80\n");
  EXPECT_EQ(decide(read_sysfs(root_)).battery_level, BatteryLevel::full);
}

TEST_F(PowerSysfs, ChargingFromStatusOrMains) {
  supply("BAT0", "Battery");
  write("class/power_supply/BAT0/capacity", "5");
  write("class/power_supply/BAT0/status", "Charging");
  EXPECT_TRUE(read_sysfs(root_).charging);
  write("class/power_supply/BAT0/status", "Full");
  EXPECT_TRUE(read_sysfs(root_).charging);
  write("class/power_supply/BAT0/status", "Not charging");
  EXPECT_FALSE(read_sysfs(root_).charging);
  supply("ADP1", "Mains");
  write("class/power_supply/ADP1/online", "1\n");
  EXPECT_TRUE(read_sysfs(root_).charging);  // plugged in, charge held by a threshold
  EXPECT_EQ(decide(read_sysfs(root_)).battery_level, BatteryLevel::full);
}

TEST_F(PowerSysfs, DesktopWithMainsOnly) {
  supply("AC", "Mains");
  write("class/power_supply/AC/online", "1");
  zone(0, "30000");
  const PowerState s = read_sysfs(root_);
  EXPECT_FALSE(s.battery_fraction);
  EXPECT_TRUE(s.charging);
  EXPECT_EQ(decide(s).battery_level, BatteryLevel::none);
}

TEST_F(PowerSysfs, SkipsPeripheralsAbsentBatteriesAndOtherTypes) {
  supply("hid-mouse-battery", "Battery");
  write("class/power_supply/hid-mouse-battery/scope", "Device\n");
  write("class/power_supply/hid-mouse-battery/capacity", "3\n");
  supply("BAT1", "Battery");
  write("class/power_supply/BAT1/present", "0\n");
  write("class/power_supply/BAT1/capacity", "0\n");
  supply("ups", "UPS");
  write("class/power_supply/ups/capacity", "1\n");
  EXPECT_FALSE(read_sysfs(root_).battery_fraction);
}

TEST_F(PowerSysfs, AveragesTwoBatteriesAndClampsOver100) {
  supply("BAT0", "Battery");
  write("class/power_supply/BAT0/capacity", "40\n");
  supply("BAT1", "Battery");
  write("class/power_supply/BAT1/capacity", "101\n");  // some firmwares overshoot
  const PowerState s = read_sysfs(root_);
  ASSERT_TRUE(s.battery_fraction);
  EXPECT_DOUBLE_EQ(*s.battery_fraction, 0.70);
}

TEST_F(PowerSysfs, MalformedValuesAreSkippedWithNotes) {
  supply("BAT0", "Battery");
  write("class/power_supply/BAT0/capacity", "eighty\n");
  supply("BAT1", "Battery");
  write("class/power_supply/BAT1/capacity", "-4\n");
  supply("BAT2", "Battery");  // no capacity file at all
  supply("BAT3", "Battery");
  write("class/power_supply/BAT3/capacity", "55 %\n");
  write("class/power_supply/weird/capacity", "50\n");  // no type file
  zone(0, "");
  zone(1, "hot");
  zone(2, "999999999");  // 1,000,000 °C: implausible
  zone(3, "-273150");
  zone(4, "47.5");  // sysfs gives integers only
  std::vector<std::string> notes;
  const PowerState s = read_sysfs(root_, &notes);
  EXPECT_FALSE(s.battery_fraction);
  EXPECT_FALSE(s.temperature_c);
  EXPECT_EQ(notes.size(), 10u);
  bool named = false;
  for (const std::string& n : notes)
    named |= n.find("BAT0/capacity: malformed value 'eighty'") != std::string::npos;
  EXPECT_TRUE(named);
}

TEST_F(PowerSysfs, OneGoodBatteryAmongBadOnes) {
  supply("BAT0", "Battery");
  write("class/power_supply/BAT0/capacity", "garbage");
  supply("BAT1", "Battery");
  write("class/power_supply/BAT1/capacity", "62");
  zone(0, "garbage");
  zone(7, "-5000");
  const PowerState s = read_sysfs(root_);
  ASSERT_TRUE(s.battery_fraction);
  EXPECT_DOUBLE_EQ(*s.battery_fraction, 0.62);
  ASSERT_TRUE(s.temperature_c);
  EXPECT_DOUBLE_EQ(*s.temperature_c, -5.0);
}

TEST_F(PowerSysfs, IgnoresNonZoneThermalEntries) {
  zone(0, "36000");
  write("class/thermal/cooling_device0/temp", "99000");  // not a zone
  const PowerState s = read_sysfs(root_);
  ASSERT_TRUE(s.temperature_c);
  EXPECT_DOUBLE_EQ(*s.temperature_c, 36.0);
}
