// Capabilities::describe and the enum names.
#include "router/capabilities.hpp"

namespace hyphae::router {

std::string_view to_string(BatteryImpact v) noexcept {
  switch (v) {
    case BatteryImpact::low:
      return "low";
    case BatteryImpact::medium:
      return "medium";
    case BatteryImpact::high:
      return "high";
  }
  return "?";
}

std::string_view to_string(DataCost v) noexcept {
  switch (v) {
    case DataCost::none:
      return "none";
    case DataCost::low:
      return "low";
    case DataCost::medium:
      return "medium";
    case DataCost::high:
      return "high";
  }
  return "?";
}

std::string_view to_string(Role v) noexcept {
  switch (v) {
    case Role::offline_mesh:
      return "offline_mesh";
    case Role::privacy:
      return "privacy";
    case Role::direct_bulk:
      return "direct_bulk";
    case Role::direct_light:
      return "direct_light";
  }
  return "?";
}

std::string Capabilities::describe() const {
  std::string out = "role=";
  out += to_string(role());
  auto flag = [&out](bool on, std::string_view name) {
    if (on) {
      out += ' ';
      out += name;
    }
  };
  auto num = [&out](std::string_view name, std::uint64_t v, std::string_view unit) {
    out += ' ';
    out += name;
    out += '=';
    out += std::to_string(v);
    out += unit;
  };
  flag(unicast, "unicast");
  flag(broadcast, "broadcast");
  flag(multicast, "multicast");
  num("max", max_message_size, "B");
  num("latency", typical_latency_ms, "ms");
  num("bandwidth", bandwidth_bps, "bps");
  num("mtu", mtu, "B");
  flag(offline_capable, "offline");
  flag(requires_internet, "internet");
  flag(uses_cellular, "cellular");
  flag(uses_wifi, "wifi");
  flag(provides_encryption, "encrypted");
  flag(forward_secrecy, "forward-secret");
  num("anonymity", anonymity_level, "");
  if (multi_hop) num("multi-hop", max_hops, "");
  flag(store_and_forward, "store-and-forward");
  out += " battery=";
  out += to_string(battery_impact);
  out += " cost=";
  out += to_string(data_cost);
  return out;
}

}  // namespace hyphae::router
