// power::decide: turns a device's battery, charging and temperature readings into what the node may
// do — which transport classes it may use, how often it sends keepalives, whether it discovers peers,
// and how hard it throttles — with human-readable reasons (the battery-aware and thermal policies;
// docs/qos-and-power.md).
// Pure and deterministic: no I/O, no clock, no globals; every function is safe from any thread.
// All types are plain values. The readings come from power/sysfs.hpp or from config/API overrides.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hyphae::power {

// What the device reports. Absent fields mean "not reported" (desktops, servers, VMs).
struct PowerState {
  std::optional<double> battery_fraction;  // 0.0 … 1.0, mean over the system's batteries
  bool charging = false;                   // on external power: charging, full, or mains online
  std::optional<double> temperature_c;     // hottest thermal zone, °C
  struct Overridden {
    bool battery = false, charging = false, temperature = false;
    friend bool operator==(const Overridden&, const Overridden&) = default;
  } overridden;  // which fields came from apply_overrides (shown in the reasons)
  friend bool operator==(const PowerState&, const PowerState&) = default;
};

// Values set by config or the API. Each present field replaces the measured one.
struct PowerOverrides {
  std::optional<double> battery_fraction;
  std::optional<bool> charging;
  std::optional<double> temperature_c;
};

PowerState apply_overrides(PowerState measured, const PowerOverrides& overrides);

// Families of transports, by what they cost and need. The router maps each transport's
// Capabilities to one of these (see transport_class_for).
enum class TransportClass : std::uint8_t {
  offline_mesh = 0,  // local mesh that works without internet (BitChat over BLE/LAN): store-and-forward
  direct = 1,        // direct internet links: TCP mesh, QUIC, WebSocket
  privacy = 2,       // anonymity overlay (BetaNet mixnet)
};
std::string_view to_string(TransportClass c) noexcept;  // "offline_mesh", "direct", "privacy"

// Offline-capable and not requiring internet → offline_mesh; else anonymous → privacy; else direct.
constexpr TransportClass transport_class_for(bool offline_capable, bool requires_internet,
                                             bool anonymous) noexcept {
  if (offline_capable && !requires_internet) return TransportClass::offline_mesh;
  return anonymous ? TransportClass::privacy : TransportClass::direct;
}

// A set of TransportClass values.
class TransportSet {
 public:
  constexpr TransportSet() = default;
  constexpr TransportSet(std::initializer_list<TransportClass> classes) {
    for (TransportClass c : classes) bits_ |= bit(c);
  }
  static constexpr TransportSet all() {
    return {TransportClass::offline_mesh, TransportClass::direct, TransportClass::privacy};
  }
  constexpr bool contains(TransportClass c) const noexcept { return (bits_ & bit(c)) != 0; }
  constexpr bool empty() const noexcept { return bits_ == 0; }
  constexpr TransportSet operator&(TransportSet o) const noexcept { return from_bits(bits_ & o.bits_); }
  friend constexpr bool operator==(TransportSet, TransportSet) = default;

 private:
  static constexpr std::uint8_t bit(TransportClass c) {
    return static_cast<std::uint8_t>(1u << static_cast<unsigned>(c));
  }
  static constexpr TransportSet from_bits(std::uint8_t b) {
    TransportSet s;
    s.bits_ = b;
    return s;
  }
  std::uint8_t bits_ = 0;
};
// "offline_mesh+direct+privacy"; "none" when empty.
std::string to_string(TransportSet s);

// Battery levels. `none`: no battery reported (mains-powered machine), so no battery limits.
enum class BatteryLevel : std::uint8_t { none = 0, critical, low, medium, high, full };
inline constexpr std::size_t kBatteryLevelCount = 6;
std::string_view to_string(BatteryLevel l) noexcept;  // "none", "critical", … "full"

enum class ThermalLevel : std::uint8_t { normal = 0, warm, hot, critical };
inline constexpr std::size_t kThermalLevelCount = 4;
std::string_view to_string(ThermalLevel l) noexcept;  // "normal", "warm", "hot", "critical"

// Upper bounds (exclusive) of each battery level, as fractions (the battery-aware policy's):
// critical < 0.10 ≤ low < 0.20 ≤ medium < 0.50 ≤ high < 0.80 ≤ full. Charging always counts as full.
struct BatteryThresholds {
  double critical = 0.10;
  double low = 0.20;
  double medium = 0.50;
  double high = 0.80;
};

// Lower bounds (inclusive) of each thermal level, °C (the thermal policy's ranges):
// normal < 35 ≤ warm < 40 ≤ hot < 45 ≤ critical.
struct ThermalThresholds {
  double warm_c = 35.0;
  double hot_c = 40.0;
  double critical_c = 45.0;
};

// What one battery level allows.
struct BatteryRule {
  TransportSet allowed = TransportSet::all();
  double heartbeat_multiplier = 1.0;
  bool discovery = true;
  double discovery_multiplier = 1.0;
  std::size_t max_connections = 0;  // 0 = no limit
};

// What one thermal level changes.
struct ThermalRule {
  double heartbeat_multiplier = 1.0;
  bool discovery = true;
  double discovery_multiplier = 1.0;
  double throughput_factor = 1.0;   // share of the normal send rate; < 1 means throttling
  bool reduce_tx_power = false;     // ask radio transports for their low-power mode
  std::size_t max_connections = 0;  // 0 = no limit
};

// The battery-aware policy's table: critical → offline mesh only, 1 connection, keepalive every
// 300 s (x10), no discovery; low → offline mesh only (x4); medium → offline mesh and privacy (x2);
// high/full/none → all.
std::array<BatteryRule, kBatteryLevelCount> default_battery_rules();
// warm → slower discovery; hot → throttle to 50 %; critical → throttle to 25 %, low tx power,
// keepalive x4, no discovery (the thermal policy: throttling, lower transmission power, longer sleep
// intervals).
std::array<ThermalRule, kThermalLevelCount> default_thermal_rules();

// The base intervals default to the P2P configuration file's keep_alive (30) and discovery_interval
// (30.0), in seconds.
struct PolicyConfig {
  BatteryThresholds battery;
  ThermalThresholds thermal;
  std::chrono::milliseconds base_heartbeat{30'000};  // keepalive at full power
  std::chrono::milliseconds base_discovery{30'000};  // discovery period at full power
  std::array<BatteryRule, kBatteryLevelCount> battery_rules = default_battery_rules();  // by BatteryLevel
  std::array<ThermalRule, kThermalLevelCount> thermal_rules = default_thermal_rules();  // by ThermalLevel
};

// Empty when usable; otherwise a message naming the key, e.g.
// "power.battery.low (0.05) must be greater than power.battery.critical (0.1)".
std::string validate(const PolicyConfig& config);

// The decision. Where battery and thermal rules disagree, the stricter wins: the larger multiplier,
// the smaller connection limit, discovery only if both allow it.
struct PowerPolicy {
  BatteryLevel battery_level = BatteryLevel::none;
  ThermalLevel thermal_level = ThermalLevel::normal;
  TransportSet allowed_transports = TransportSet::all();
  double heartbeat_multiplier = 1.0;
  std::chrono::milliseconds heartbeat_interval{0};
  bool discovery_enabled = true;
  std::chrono::milliseconds discovery_interval{0};  // 0 when discovery is disabled
  std::size_t max_connections = 0;                  // 0 = no limit
  bool thermal_throttling = false;
  double throughput_factor = 1.0;
  bool reduce_tx_power = false;
  std::vector<std::string> reasons;  // one sentence per factor, in the order battery, thermal
  friend bool operator==(const PowerPolicy&, const PowerPolicy&) = default;
};

BatteryLevel battery_level(const PowerState& state, const BatteryThresholds& t = {}) noexcept;
ThermalLevel thermal_level(const PowerState& state, const ThermalThresholds& t = {}) noexcept;

PowerPolicy decide(const PowerState& state, const PolicyConfig& config = {});

}  // namespace hyphae::power
