// power::read_sysfs: measures a PowerState from Linux sysfs — batteries and external supplies under
// <root>/class/power_supply/*/{type,scope,present,capacity,status,online} and temperatures under
// <root>/class/thermal/thermal_zone*/temp (millidegrees Celsius).
// The root is a parameter (normally "/sys") so tests read a fake tree in a temporary directory.
// Blocking file reads of a few small files; call it from wherever the node does slow work, not per
// message. Stateless; safe from any thread. Returns plain values.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "power/policy.hpp"

namespace hyphae::power {

// Missing directories give absent fields (desktops, servers, VMs, containers without /sys).
// battery_fraction: the mean `capacity` (0–100, clamped) of present system batteries
//   (type "Battery"; peripherals with scope "Device" and batteries with present=0 are skipped).
// charging: a battery's status is "Charging" or "Full", or a "Mains"/"USB" supply has online=1.
// temperature_c: the hottest zone whose temp parses and lies within -50…200 °C.
// Unreadable or malformed files are skipped; when `notes` is given, each skip appends a sentence
// naming the file (for logs and the status API).
PowerState read_sysfs(const std::filesystem::path& root = "/sys", std::vector<std::string>* notes = nullptr);

}  // namespace hyphae::power
