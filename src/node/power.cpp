// Node::Impl's battery and thermal power policy: battery, charging and temperature from sysfs, replaced by
// overrides from the config or the API; the readings feed every route (router::select applies the
// battery and thermal rules per message, with EMERGENCY exempt) and the policy sets the keepalive
// period of new sessions and the connection cap.

#include "node/node_impl.hpp"
#include "power/sysfs.hpp"

namespace hyphae {

void Node::Impl::init_power() {
  power_overrides.battery_fraction = config.battery_override;
  power_overrides.charging = config.charging_override;
  power_overrides.temperature_c = config.temperature_override_c;
  power_config.base_heartbeat = std::chrono::milliseconds(config.keepalive_interval_ms);
  power_config.base_discovery = std::chrono::milliseconds(config.discovery_interval_ms);
  read_power(now_ms());
}

void Node::Impl::read_power(std::uint64_t now) {
  last_power_poll_ms = now;
  power_notes.clear();
  power_measured = power::read_sysfs(config.power_sysfs_root, &power_notes);
  apply_power();
}

void Node::Impl::apply_power() {
  power_state = power::apply_overrides(power_measured, power_overrides);
  auto policy = power::decide(power_state, power_config);
  const bool changed = policy != power_policy;
  power_policy = std::move(policy);
  metrics.gauge("p2p_battery_fraction", "Battery level used by the router (-1: none reported)")
      .set(power_state.battery_fraction ? *power_state.battery_fraction : -1.0);
  metrics.gauge("p2p_temperature_celsius", "Hottest thermal zone used by the router (-1: none reported)")
      .set(power_state.temperature_c ? *power_state.temperature_c : -1.0);
  if (!changed) return;
  for (auto& t : transports)
    t.transport->set_keepalive_interval(static_cast<std::uint64_t>(power_policy.heartbeat_interval.count()));
  pool.set_max_connections(power_policy.max_connections
                               ? std::min(power_policy.max_connections, config.max_connections)
                               : config.max_connections);
  std::string why;
  for (const auto& r : power_policy.reasons) why += (why.empty() ? "" : "; ") + r;
  log->info("power: battery {}, thermal {}: {}", power::to_string(power_policy.battery_level),
            power::to_string(power_policy.thermal_level), why);
  reroute_all();  // the routes change with the battery
}

void Node::Impl::tick_power(std::uint64_t now) {
  if (now >= last_power_poll_ms + config.power_poll_ms) read_power(now);
}

router::Context Node::Impl::route_context() const {
  router::Context ctx;
  ctx.has_internet = connectivity.online();
  ctx.device = config.device_type;
  ctx.priority_rank = priority_rank;
  ctx.battery_fraction =
      power_state.battery_fraction ? static_cast<float>(*power_state.battery_fraction) : -1.0f;
  ctx.charging = power_state.charging;
  switch (power_policy.thermal_level) {
    case power::ThermalLevel::normal:
      ctx.thermal = router::Thermal::normal;
      break;
    case power::ThermalLevel::warm:
      ctx.thermal = router::Thermal::warm;
      break;
    case power::ThermalLevel::hot:
      ctx.thermal = router::Thermal::hot;
      break;
    case power::ThermalLevel::critical:
      ctx.thermal = router::Thermal::critical;
      break;
  }
  return ctx;
}

void Node::set_power_overrides(std::optional<double> battery, std::optional<bool> charging,
                               std::optional<double> temperature_c) {
  auto& i = *impl_;
  i.power_overrides.battery_fraction = battery;
  i.power_overrides.charging = charging;
  i.power_overrides.temperature_c = temperature_c;
  i.apply_power();
}

PowerView Node::power_view() const {
  const auto& i = *impl_;
  return PowerView{&i.power_measured, &i.power_overrides,        &i.power_state,
                   &i.power_policy,   i.config.power_sysfs_root, i.power_notes};
}

}  // namespace hyphae
