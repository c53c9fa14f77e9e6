#include "power/policy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace hyphae::power {
namespace {

// Up to two decimals, trailing zeros dropped: 9.99 → "9.99", 10 → "10", 12.5 → "12.5".
std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  return s;
}

std::string pct(double fraction) {
  return num(fraction * 100.0) + " %";
}

std::string seconds(std::chrono::milliseconds ms) {
  return num(static_cast<double>(ms.count()) / 1000.0) + " s";
}

std::chrono::milliseconds scaled(std::chrono::milliseconds base, double multiplier) {
  return std::chrono::milliseconds(std::llround(static_cast<double>(base.count()) * multiplier));
}

std::size_t stricter_limit(std::size_t a, std::size_t b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return std::min(a, b);
}

const char* tag(bool overridden) {
  return overridden ? " (override)" : "";
}

bool usable(const std::optional<double>& v) {
  return v && std::isfinite(*v);
}

std::string battery_range(BatteryLevel l, const BatteryThresholds& t) {
  switch (l) {
    case BatteryLevel::critical:
      return "< " + pct(t.critical);
    case BatteryLevel::low:
      return pct(t.critical) + " to " + pct(t.low);
    case BatteryLevel::medium:
      return pct(t.low) + " to " + pct(t.medium);
    case BatteryLevel::high:
      return pct(t.medium) + " to " + pct(t.high);
    case BatteryLevel::full:
      return ">= " + pct(t.high);
    case BatteryLevel::none:
      break;
  }
  return {};
}

std::string thermal_range(ThermalLevel l, const ThermalThresholds& t) {
  switch (l) {
    case ThermalLevel::normal:
      return "< " + num(t.warm_c) + " °C";
    case ThermalLevel::warm:
      return num(t.warm_c) + " to " + num(t.hot_c) + " °C";
    case ThermalLevel::hot:
      return num(t.hot_c) + " to " + num(t.critical_c) + " °C";
    case ThermalLevel::critical:
      return ">= " + num(t.critical_c) + " °C";
  }
  return {};
}

std::string describe(const BatteryRule& r, const PolicyConfig& c) {
  std::string s = "transports " + to_string(r.allowed);
  s += "; keepalive every " + seconds(scaled(c.base_heartbeat, r.heartbeat_multiplier));
  s += r.discovery ? "; discovery every " + seconds(scaled(c.base_discovery, r.discovery_multiplier))
                   : std::string("; discovery off");
  if (r.max_connections != 0) s += "; at most " + std::to_string(r.max_connections) + " connection(s)";
  return s;
}

std::string describe(const ThermalRule& r, const PolicyConfig& c) {
  std::string s = r.throughput_factor < 1.0 ? "throttled to " + pct(r.throughput_factor) + " of the send rate"
                                            : std::string("no throttling");
  if (r.reduce_tx_power) s += "; reduced transmission power";
  if (r.heartbeat_multiplier != 1.0)
    s += "; keepalive every " + seconds(scaled(c.base_heartbeat, r.heartbeat_multiplier));
  if (!r.discovery)
    s += "; discovery off";
  else if (r.discovery_multiplier != 1.0)
    s += "; discovery every " + seconds(scaled(c.base_discovery, r.discovery_multiplier));
  if (r.max_connections != 0) s += "; at most " + std::to_string(r.max_connections) + " connection(s)";
  return s;
}

std::string check_multiplier(const std::string& key, double v) {
  if (!std::isfinite(v) || v < 1.0 || v > 1000.0) return key + " (" + num(v) + ") must be between 1 and 1000";
  return {};
}

}  // namespace

PowerState apply_overrides(PowerState measured, const PowerOverrides& o) {
  if (o.battery_fraction) {
    measured.battery_fraction = o.battery_fraction;
    measured.overridden.battery = true;
  }
  if (o.charging) {
    measured.charging = *o.charging;
    measured.overridden.charging = true;
  }
  if (o.temperature_c) {
    measured.temperature_c = o.temperature_c;
    measured.overridden.temperature = true;
  }
  return measured;
}

std::string_view to_string(TransportClass c) noexcept {
  switch (c) {
    case TransportClass::offline_mesh:
      return "offline_mesh";
    case TransportClass::direct:
      return "direct";
    case TransportClass::privacy:
      return "privacy";
  }
  return "unknown";
}

std::string to_string(TransportSet s) {
  std::string out;
  for (TransportClass c : {TransportClass::offline_mesh, TransportClass::direct, TransportClass::privacy}) {
    if (!s.contains(c)) continue;
    if (!out.empty()) out += '+';
    out += to_string(c);
  }
  return out.empty() ? "none" : out;
}

std::string_view to_string(BatteryLevel l) noexcept {
  switch (l) {
    case BatteryLevel::none:
      return "none";
    case BatteryLevel::critical:
      return "critical";
    case BatteryLevel::low:
      return "low";
    case BatteryLevel::medium:
      return "medium";
    case BatteryLevel::high:
      return "high";
    case BatteryLevel::full:
      return "full";
  }
  return "unknown";
}

std::string_view to_string(ThermalLevel l) noexcept {
  switch (l) {
    case ThermalLevel::normal:
      return "normal";
    case ThermalLevel::warm:
      return "warm";
    case ThermalLevel::hot:
      return "hot";
    case ThermalLevel::critical:
      return "critical";
  }
  return "unknown";
}

std::array<BatteryRule, kBatteryLevelCount> default_battery_rules() {
  std::array<BatteryRule, kBatteryLevelCount> r{};
  const TransportSet mesh{TransportClass::offline_mesh};
  r[static_cast<std::size_t>(BatteryLevel::critical)] = {mesh, 10.0, false, 1.0, 1};
  r[static_cast<std::size_t>(BatteryLevel::low)] = {mesh, 4.0, true, 4.0, 3};
  r[static_cast<std::size_t>(BatteryLevel::medium)] = {
      {TransportClass::offline_mesh, TransportClass::privacy}, 2.0, true, 2.0, 10};
  // none, high and full keep the defaults: every transport, base intervals, no connection limit.
  return r;
}

std::array<ThermalRule, kThermalLevelCount> default_thermal_rules() {
  std::array<ThermalRule, kThermalLevelCount> r{};
  r[static_cast<std::size_t>(ThermalLevel::warm)] = {1.0, true, 2.0, 1.0, false, 0};
  r[static_cast<std::size_t>(ThermalLevel::hot)] = {2.0, true, 4.0, 0.5, false, 0};
  r[static_cast<std::size_t>(ThermalLevel::critical)] = {4.0, false, 1.0, 0.25, true, 2};
  return r;
}

std::string validate(const PolicyConfig& c) {
  const BatteryThresholds& b = c.battery;
  if (!(std::isfinite(b.critical) && b.critical > 0.0))
    return "power.battery.critical (" + num(b.critical) + ") must be greater than 0";
  if (!(b.low > b.critical))
    return "power.battery.low (" + num(b.low) + ") must be greater than power.battery.critical (" +
           num(b.critical) + ")";
  if (!(b.medium > b.low))
    return "power.battery.medium (" + num(b.medium) + ") must be greater than power.battery.low (" +
           num(b.low) + ")";
  if (!(b.high > b.medium))
    return "power.battery.high (" + num(b.high) + ") must be greater than power.battery.medium (" +
           num(b.medium) + ")";
  if (!(b.high <= 1.0)) return "power.battery.high (" + num(b.high) + ") must be at most 1";
  const ThermalThresholds& t = c.thermal;
  if (!std::isfinite(t.warm_c)) return "power.thermal.warm_c must be a number";
  if (!(t.hot_c > t.warm_c))
    return "power.thermal.hot_c (" + num(t.hot_c) + ") must be greater than power.thermal.warm_c (" +
           num(t.warm_c) + ")";
  if (!(t.critical_c > t.hot_c && std::isfinite(t.critical_c)))
    return "power.thermal.critical_c (" + num(t.critical_c) + ") must be greater than power.thermal.hot_c (" +
           num(t.hot_c) + ")";
  if (c.base_heartbeat.count() <= 0) return "power.base_heartbeat must be positive";
  if (c.base_discovery.count() <= 0) return "power.base_discovery must be positive";
  for (std::size_t i = 0; i < kBatteryLevelCount; ++i) {
    const std::string key = "power.battery_rules." + std::string(to_string(static_cast<BatteryLevel>(i)));
    const BatteryRule& r = c.battery_rules[i];
    if (auto e = check_multiplier(key + ".heartbeat_multiplier", r.heartbeat_multiplier); !e.empty())
      return e;
    if (auto e = check_multiplier(key + ".discovery_multiplier", r.discovery_multiplier); !e.empty())
      return e;
  }
  for (std::size_t i = 0; i < kThermalLevelCount; ++i) {
    const std::string key = "power.thermal_rules." + std::string(to_string(static_cast<ThermalLevel>(i)));
    const ThermalRule& r = c.thermal_rules[i];
    if (auto e = check_multiplier(key + ".heartbeat_multiplier", r.heartbeat_multiplier); !e.empty())
      return e;
    if (auto e = check_multiplier(key + ".discovery_multiplier", r.discovery_multiplier); !e.empty())
      return e;
    if (!(r.throughput_factor > 0.0 && r.throughput_factor <= 1.0))
      return key + ".throughput_factor (" + num(r.throughput_factor) + ") must be in (0, 1]";
  }
  return {};
}

BatteryLevel battery_level(const PowerState& s, const BatteryThresholds& t) noexcept {
  if (!usable(s.battery_fraction)) return BatteryLevel::none;
  if (s.charging) return BatteryLevel::full;
  const double f = std::clamp(*s.battery_fraction, 0.0, 1.0);
  if (f < t.critical) return BatteryLevel::critical;
  if (f < t.low) return BatteryLevel::low;
  if (f < t.medium) return BatteryLevel::medium;
  if (f < t.high) return BatteryLevel::high;
  return BatteryLevel::full;
}

ThermalLevel thermal_level(const PowerState& s, const ThermalThresholds& t) noexcept {
  if (!usable(s.temperature_c)) return ThermalLevel::normal;
  const double c = *s.temperature_c;
  if (c >= t.critical_c) return ThermalLevel::critical;
  if (c >= t.hot_c) return ThermalLevel::hot;
  if (c >= t.warm_c) return ThermalLevel::warm;
  return ThermalLevel::normal;
}

PowerPolicy decide(const PowerState& state, const PolicyConfig& config) {
  PowerPolicy p;
  p.battery_level = battery_level(state, config.battery);
  p.thermal_level = thermal_level(state, config.thermal);
  const BatteryRule& br = config.battery_rules[static_cast<std::size_t>(p.battery_level)];
  const ThermalRule& tr = config.thermal_rules[static_cast<std::size_t>(p.thermal_level)];

  p.allowed_transports = br.allowed;
  p.heartbeat_multiplier = std::max(br.heartbeat_multiplier, tr.heartbeat_multiplier);
  p.heartbeat_interval = scaled(config.base_heartbeat, p.heartbeat_multiplier);
  p.discovery_enabled = br.discovery && tr.discovery;
  p.discovery_interval =
      p.discovery_enabled
          ? scaled(config.base_discovery, std::max(br.discovery_multiplier, tr.discovery_multiplier))
          : std::chrono::milliseconds{0};
  p.max_connections = stricter_limit(br.max_connections, tr.max_connections);
  p.throughput_factor = tr.throughput_factor;
  p.thermal_throttling = tr.throughput_factor < 1.0;
  p.reduce_tx_power = tr.reduce_tx_power;

  // Battery reason.
  const char* btag = tag(state.overridden.battery);
  if (!state.battery_fraction) {
    p.reasons.push_back("no battery reported: no battery limits");
  } else if (!usable(state.battery_fraction)) {
    p.reasons.push_back(std::string("battery reading is not a number") + btag +
                        ": ignored, no battery limits");
  } else if (state.charging) {
    p.reasons.push_back("charging" + std::string(tag(state.overridden.charging)) + " at battery " +
                        pct(std::clamp(*state.battery_fraction, 0.0, 1.0)) + btag +
                        ": treated as full, no battery limits");
  } else {
    p.reasons.push_back("battery " + pct(std::clamp(*state.battery_fraction, 0.0, 1.0)) + btag + " is " +
                        std::string(to_string(p.battery_level)) + " (" +
                        battery_range(p.battery_level, config.battery) + "): " + describe(br, config));
  }

  // Thermal reason.
  const char* ttag = tag(state.overridden.temperature);
  if (!state.temperature_c) {
    p.reasons.push_back("no temperature reported: no thermal limits");
  } else if (!usable(state.temperature_c)) {
    p.reasons.push_back(std::string("temperature reading is not a number") + ttag + ": ignored");
  } else {
    p.reasons.push_back("temperature " + num(*state.temperature_c) + " °C" + ttag + " is " +
                        std::string(to_string(p.thermal_level)) + " (" +
                        thermal_range(p.thermal_level, config.thermal) + "): " + describe(tr, config));
  }
  return p;
}

}  // namespace hyphae::power
