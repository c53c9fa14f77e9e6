// Names and sentences for the selection enums, and explain(): the cold path that turns a
// Selection into text for logs, the API's message status and error messages.
#include <cstdio>

#include "router/selection.hpp"

namespace hyphae::router {

namespace {
struct ReasonInfo {
  std::string_view name;
  std::string_view text;
};

constexpr ReasonInfo kReasons[] = {
    {"none", ""},
    {"unavailable", "transport is not available"},
    {"cannot_unicast", "transport cannot send to a single peer"},
    {"cannot_broadcast", "transport cannot broadcast"},
    {"cannot_multicast", "transport cannot multicast"},
    {"too_large", "message is larger than the transport's maximum message size"},
    {"needs_internet", "transport needs internet, which is down"},
    {"no_encryption", "private message needs an encrypting transport"},
    {"not_anonymous", "anonymous message needs anonymity level >= 2"},
    {"battery_offline_mesh_only", "battery below 20%: only the offline mesh may be used"},
    {"battery_no_direct", "battery 20-50%: direct internet links are not used"},
    {"no_internet", "no internet: only offline-capable transports"},
    {"privacy_private", "requires privacy: encrypted transports only, most anonymous first"},
    {"privacy_anonymous", "anonymous: transports with anonymity level >= 2 only"},
    {"broadcast", "broadcast: broadcast-capable transports only, multi-hop reach first"},
    {"multicast", "multicast: multicast-capable transports only, multi-hop reach first"},
    {"battery_critical", "battery < 10%: BitChat (offline mesh) only"},
    {"battery_low", "battery < 20%: BitChat (offline mesh) only"},
    {"battery_medium",
     "battery 20-50%: BitChat > BetaNet (offline mesh before privacy overlay), no direct links"},
    {"battery_high", "battery 50-80%: all transports, lower battery impact breaks ties"},
    {"battery_full", "battery >= 80%: all transports"},
    {"charging", "charging: no battery limits"},
    {"emergency_ignores_battery", "EMERGENCY: battery limits do not apply"},
    {"emergency_fastest", "EMERGENCY: fastest available transport first"},
    {"offline_store_forward", "offline: store-and-forward transports first"},
    {"optimize_latency", "optimize for latency: lowest latency first"},
    {"optimize_privacy", "optimize for privacy: most anonymous first"},
    {"optimize_battery", "optimize for battery: lowest battery impact first"},
    {"optimize_throughput", "optimize for throughput: highest bandwidth first"},
    {"size_large", "large message (> 10 KB): highest bandwidth first"},
    {"network_poor", "poor network quality: transports that do not need internet first"},
    {"network_excellent", "excellent network quality: higher bandwidth breaks ties"},
    {"thermal_hot", "device is hot: high-battery-impact transports last"},
    {"device_mobile", "mobile device: BitChat > WebSocket > BetaNet > QUIC"},
    {"device_desktop", "desktop device: BetaNet > QUIC > WebSocket > BitChat"},
    {"device_server", "server device: QUIC > BetaNet > WebSocket > BitChat"},
    {"size_small", "small message (< 1 KB): BitChat (offline mesh) preferred"},
    {"size_medium", "medium message (1-10 KB): BetaNet (privacy overlay) preferred"},
    {"default_priority", "default priority: BetaNet > BitChat > direct links"},
    {"degraded_last", "degraded transports after healthy ones"},
    {"preferred_forced", "transport_preference forces the transport"},
    {"preference_overrides_battery", "transport_preference overrides the battery policy"},
    {"preferred_unknown", "transport_preference names no registered transport"},
    {"redundancy_short", "fewer transports fit than the redundancy asked for"},
    {"nothing_fits", "no transport can carry this message now"},
    {"too_many_transports", "more transports than the selector considers (16)"},
};
static_assert(std::size(kReasons) == static_cast<std::size_t>(Reason::too_many_transports) + 1);

std::string percent(float f) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", static_cast<double>(f) * 100.0);
  return buf;
}

// The reason's sentence with the actual numbers where they help.
std::string sentence(Reason r, const TransportView* t, const MessageRequirements& req, const Context& ctx) {
  switch (r) {
    case Reason::too_large:
      if (t)
        return "message of " + std::to_string(req.size) + " B exceeds its maximum of " +
               std::to_string(t->caps.max_message_size) + " B";
      break;
    case Reason::battery_critical:
      return "battery " + percent(ctx.battery_fraction) + " < 10%: BitChat (offline mesh) only";
    case Reason::battery_low:
      return "battery " + percent(ctx.battery_fraction) + " < 20%: BitChat (offline mesh) only";
    case Reason::battery_offline_mesh_only:
      return "battery " + percent(ctx.battery_fraction) + " < 20%: only the offline mesh may be used";
    case Reason::battery_no_direct:
      return "battery " + percent(ctx.battery_fraction) + " in 20-50%: direct internet links are not used";
    default:
      break;
  }
  return std::string(reason_text(r));
}
}  // namespace

std::string_view reason_name(Reason r) noexcept {
  auto i = static_cast<std::size_t>(r);
  return i < std::size(kReasons) ? kReasons[i].name : "?";
}
std::string_view reason_text(Reason r) noexcept {
  auto i = static_cast<std::size_t>(r);
  return i < std::size(kReasons) ? kReasons[i].text : "?";
}

std::string_view to_string(Priority v) noexcept {
  constexpr std::string_view n[] = {"EMERGENCY", "HIGH", "NORMAL", "LOW"};
  return n[static_cast<std::size_t>(v) & 3];
}
std::string_view to_string(Cast v) noexcept {
  constexpr std::string_view n[] = {"unicast", "broadcast", "multicast", "?"};
  return n[static_cast<std::size_t>(v) & 3];
}
std::string_view to_string(Privacy v) noexcept {
  constexpr std::string_view n[] = {"standard", "private", "anonymous", "?"};
  return n[static_cast<std::size_t>(v) & 3];
}
std::string_view to_string(Optimize v) noexcept {
  constexpr std::string_view n[] = {"automatic", "latency", "privacy", "battery", "throughput"};
  auto i = static_cast<std::size_t>(v);
  return i < std::size(n) ? n[i] : "?";
}
std::string_view to_string(DeviceType v) noexcept {
  constexpr std::string_view n[] = {"unspecified", "mobile", "desktop", "server"};
  return n[static_cast<std::size_t>(v) & 3];
}
std::string_view to_string(Thermal v) noexcept {
  constexpr std::string_view n[] = {"normal", "warm", "hot", "critical"};
  return n[static_cast<std::size_t>(v) & 3];
}

std::string explain(const Selection& s, std::span<const TransportView> ts, const MessageRequirements& req,
                    const Context& ctx) {
  auto name = [&](std::size_t i) { return i < ts.size() ? std::string(ts[i].name) : std::string("?"); };
  std::string out;
  if (s.ok()) {
    out = "chose ";
    for (std::size_t i = 0; i < s.send_count; ++i) {
      if (i) out += " + ";
      out += name(s.order[i]);
    }
    if (s.count > s.send_count) {
      out += " (failover:";
      for (std::size_t i = s.send_count; i < s.count; ++i) out += " " + name(s.order[i]);
      out += ")";
    }
  } else {
    out = "cannot send (" + s.error.message() + ")";
    if (s.has(Reason::preferred_unknown))
      out += ": transport_preference '" + std::string(req.transport_preference) + "' is not registered";
  }
  for (Reason r : s.why()) {
    out += "; ";
    out += sentence(r, nullptr, req, ctx);
  }
  for (std::size_t i = 0; i < ts.size() && i < kMaxTransports; ++i) {
    if (s.excluded[i] == Reason::none) continue;
    out += "; " + name(i) + " left out: " + sentence(s.excluded[i], &ts[i], req, ctx);
  }
  return out;
}

}  // namespace hyphae::router
