// router::select: hard filters, then a lexicographic sort key per candidate (see docs/selection.md).
#include "router/selection.hpp"

#include <algorithm>
#include <compare>
#include <limits>

#include "core/error.hpp"

namespace hyphae::router {
namespace {

enum class BatteryBand : std::uint8_t { none, critical, low, medium, high, full };

BatteryBand battery_band(const Context& ctx) noexcept {
  if (ctx.battery_fraction < 0.0f || ctx.charging) return BatteryBand::none;
  float b = ctx.battery_fraction;
  if (b < kBatteryCritical) return BatteryBand::critical;
  if (b < kBatteryLow) return BatteryBand::low;
  if (b < kBatteryMedium) return BatteryBand::medium;
  if (b < kBatteryHigh) return BatteryBand::high;
  return BatteryBand::full;
}

enum class Objective : std::uint8_t { none, latency, anonymity, reach, store_forward, battery, throughput };

// The device priorities over Role (index: offline_mesh, privacy, direct_bulk, direct_light).
constexpr std::array<std::array<std::uint8_t, 4>, 4> kDeviceRank{{
    {1, 0, 2, 3},  // unspecified: replaced by Context::priority_rank (transport_priority)
    {0, 2, 3, 1},  // mobile: BitChat > WebSocket > BetaNet > QUIC
    {3, 0, 1, 2},  // desktop: BetaNet > QUIC > WebSocket > BitChat
    {3, 1, 0, 2},  // server: QUIC > BetaNet > WebSocket > BitChat
}};

struct Key {
  std::uint8_t degraded;
  std::uint32_t objective;
  std::uint8_t network_poor;
  std::uint8_t thermal;
  std::uint8_t battery_medium;
  std::uint8_t size_pref;
  std::uint8_t device;
  std::uint8_t impact;
  std::uint32_t inverse_bandwidth;
  std::uint32_t failures;
  std::uint32_t latency;
  std::uint8_t index;
  friend constexpr auto operator<=>(const Key&, const Key&) = default;
};

std::uint32_t effective_latency(const TransportView& t) noexcept {
  return t.health.recent_latency_ms != 0 ? t.health.recent_latency_ms : t.caps.typical_latency_ms;
}

std::uint32_t inverse_bandwidth(const Capabilities& c) noexcept {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint32_t>::max();
  return static_cast<std::uint32_t>(kMax - std::min<std::uint64_t>(c.bandwidth_bps / 1000, kMax));
}

void add(Selection& s, Reason r) noexcept {
  for (std::uint8_t i = 0; i < s.reason_count; ++i)
    if (s.reasons[i] == r) return;
  if (s.reason_count < kMaxReasons) s.reasons[s.reason_count++] = r;
}

// Constraints no preference can override.
Reason hard_check(const TransportView& t, const MessageRequirements& req, const Context& ctx) noexcept {
  const Capabilities& c = t.caps;
  if (!t.health.available) return Reason::unavailable;
  if (req.cast == Cast::unicast && !c.unicast) return Reason::cannot_unicast;
  if (req.cast == Cast::broadcast && !c.broadcast) return Reason::cannot_broadcast;
  if (req.cast == Cast::multicast && !c.multicast) return Reason::cannot_multicast;
  if (req.size > c.max_message_size) return Reason::too_large;
  if (!ctx.has_internet && c.requires_internet) return Reason::needs_internet;
  if (req.privacy != Privacy::standard && !c.provides_encryption) return Reason::no_encryption;
  if (req.privacy == Privacy::anonymous && !c.anonymous()) return Reason::not_anonymous;
  return Reason::none;
}

Reason battery_check(BatteryBand band, Role role) noexcept {
  if ((band == BatteryBand::critical || band == BatteryBand::low) && role != Role::offline_mesh)
    return Reason::battery_offline_mesh_only;
  if (band == BatteryBand::medium && (role == Role::direct_bulk || role == Role::direct_light))
    return Reason::battery_no_direct;
  return Reason::none;
}

Errc errc_for(Reason r) noexcept {
  switch (r) {
    case Reason::unavailable:
    case Reason::needs_internet:
    case Reason::battery_offline_mesh_only:
    case Reason::battery_no_direct:
      return Errc::no_link;
    case Reason::too_large:
      return Errc::too_large;
    default:
      return Errc::unsupported;
  }
}

// Ranks the transports not excluded (and not `skip`) into s.order[s.count...].
void rank(const MessageRequirements& req, std::span<const TransportView> ts, const Context& ctx, Selection& s,
          std::size_t skip) noexcept {
  const bool emergency = req.priority == Priority::emergency;
  const BatteryBand band = battery_band(ctx);

  // Hard rules, in the order they are evaluated.
  if (!ctx.has_internet) add(s, Reason::no_internet);
  if (req.privacy == Privacy::private_) add(s, Reason::privacy_private);
  if (req.privacy == Privacy::anonymous) add(s, Reason::privacy_anonymous);
  if (req.cast == Cast::broadcast) add(s, Reason::broadcast);
  if (req.cast == Cast::multicast) add(s, Reason::multicast);
  if (ctx.battery_fraction >= 0.0f && ctx.charging) add(s, Reason::charging);
  switch (band) {
    case BatteryBand::none:
      break;
    case BatteryBand::critical:
      add(s, Reason::battery_critical);
      break;
    case BatteryBand::low:
      add(s, Reason::battery_low);
      break;
    case BatteryBand::medium:
      add(s, Reason::battery_medium);
      break;
    case BatteryBand::high:
      add(s, Reason::battery_high);
      break;
    case BatteryBand::full:
      add(s, Reason::battery_full);
      break;
  }
  const bool limits =
      band == BatteryBand::critical || band == BatteryBand::low || band == BatteryBand::medium;
  const BatteryBand filter_band = (emergency && limits) ? BatteryBand::none : band;
  if (emergency && limits) add(s, Reason::emergency_ignores_battery);

  // The ordering objective: the first that applies.
  Objective obj = Objective::none;
  if (emergency) {
    obj = Objective::latency;
    add(s, Reason::emergency_fastest);
  } else if (req.privacy != Privacy::standard) {
    obj = Objective::anonymity;
  } else if (req.cast != Cast::unicast) {
    obj = Objective::reach;
  } else if (!ctx.has_internet) {
    obj = Objective::store_forward;
    add(s, Reason::offline_store_forward);
  } else {
    switch (req.optimize_for) {
      case Optimize::automatic:
        if (req.size > kLargeMessageBytes) {
          obj = Objective::throughput;
          add(s, Reason::size_large);
        }
        break;
      case Optimize::latency:
        obj = Objective::latency;
        add(s, Reason::optimize_latency);
        break;
      case Optimize::privacy:
        obj = Objective::anonymity;
        add(s, Reason::optimize_privacy);
        break;
      case Optimize::battery:
        obj = Objective::battery;
        add(s, Reason::optimize_battery);
        break;
      case Optimize::throughput:
        obj = Objective::throughput;
        add(s, Reason::optimize_throughput);
        break;
    }
  }
  const bool net_known = ctx.has_internet && ctx.network_quality >= 0.0f;
  const bool net_poor = net_known && ctx.network_quality < kNetworkPoor;
  const bool net_excellent = net_known && ctx.network_quality >= kNetworkExcellent;
  const bool hot = ctx.thermal == Thermal::hot || ctx.thermal == Thermal::critical;
  const bool medium_pref = filter_band == BatteryBand::medium;
  const auto device = static_cast<std::size_t>(ctx.device);
  // Size preference only decides when no device type is configured (device priority wins).
  int size_role = -1;
  if (ctx.device == DeviceType::unspecified) {
    size_role = req.size < kSmallMessageBytes    ? static_cast<int>(Role::offline_mesh)
                : req.size <= kLargeMessageBytes ? static_cast<int>(Role::privacy)
                                                 : static_cast<int>(Role::direct_bulk);
  }

  std::array<Key, kMaxTransports> keys;
  std::size_t n = 0, healthy = 0;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    if (i == skip) continue;
    Reason r = hard_check(ts[i], req, ctx);
    if (r == Reason::none) r = battery_check(filter_band, ts[i].caps.role());
    s.excluded[i] = r;
    if (r != Reason::none) continue;
    const TransportView& t = ts[i];
    const Capabilities& c = t.caps;
    const Role role = c.role();
    Key k{};
    k.degraded = t.health.degraded ? 1 : 0;
    healthy += t.health.degraded ? 0 : 1;
    switch (obj) {
      case Objective::none:
        break;
      case Objective::latency:
        k.objective = effective_latency(t);
        break;
      case Objective::anonymity:
        k.objective =
            (3u - std::min<std::uint32_t>(c.anonymity_level, 3)) * 2u + (c.forward_secrecy ? 0u : 1u);
        break;
      case Objective::reach:
        k.objective = (c.multi_hop ? 0u : 256u) + (255u - c.max_hops);
        break;
      case Objective::store_forward:
        k.objective = (c.store_and_forward ? 0u : 2u) + (c.offline_capable ? 0u : 1u);
        break;
      case Objective::battery:
        k.objective = static_cast<std::uint32_t>(c.battery_impact);
        break;
      case Objective::throughput:
        k.objective = inverse_bandwidth(c);
        break;
    }
    k.network_poor = (net_poor && c.requires_internet) ? 1 : 0;
    k.thermal = (hot && c.battery_impact == BatteryImpact::high) ? 1 : 0;
    k.battery_medium = medium_pref ? (role == Role::offline_mesh ? 0 : role == Role::privacy ? 1 : 2) : 0;
    k.size_pref = size_role < 0 ? 0 : (static_cast<int>(role) == size_role ? 0 : 1);
    k.device = ctx.device == DeviceType::unspecified ? ctx.priority_rank[static_cast<std::size_t>(role)]
                                                     : kDeviceRank[device][static_cast<std::size_t>(role)];
    k.impact = band == BatteryBand::high ? static_cast<std::uint8_t>(c.battery_impact) : 0;
    k.inverse_bandwidth = net_excellent ? inverse_bandwidth(c) : 0;
    k.failures = t.health.failure_count;
    k.latency = effective_latency(t);
    k.index = static_cast<std::uint8_t>(i);
    // Insertion sort: 3-5 candidates in practice.
    std::size_t j = n++;
    while (j > 0 && k < keys[j - 1]) {
      keys[j] = keys[j - 1];
      --j;
    }
    keys[j] = k;
  }
  if (n == 0) return;
  if (net_poor) add(s, Reason::network_poor);
  if (hot) add(s, Reason::thermal_hot);
  switch (ctx.device) {
    case DeviceType::unspecified:
      add(s, req.size < kSmallMessageBytes    ? Reason::size_small
             : req.size <= kLargeMessageBytes ? Reason::size_medium
                                              : Reason::size_large);
      add(s, Reason::default_priority);
      break;
    case DeviceType::mobile:
      add(s, Reason::device_mobile);
      break;
    case DeviceType::desktop:
      add(s, Reason::device_desktop);
      break;
    case DeviceType::server:
      add(s, Reason::device_server);
      break;
  }
  if (net_excellent) add(s, Reason::network_excellent);
  if (healthy < n && healthy > 0) add(s, Reason::degraded_last);
  for (std::size_t j = 0; j < n && s.count < kMaxTransports; ++j) s.order[s.count++] = keys[j].index;
}

}  // namespace

Selection select(const MessageRequirements& req, std::span<const TransportView> ts,
                 const Context& ctx) noexcept {
  Selection s;
  if (ts.size() > kMaxTransports) {
    add(s, Reason::too_many_transports);
    s.error = make_error_code(Errc::invalid_argument);
    return s;
  }
  const std::size_t want = std::max<std::size_t>(req.redundancy, 1);

  if (!req.transport_preference.empty()) {
    std::size_t idx = ts.size();
    for (std::size_t i = 0; i < ts.size(); ++i)
      if (ts[i].name == req.transport_preference) {
        idx = i;
        break;
      }
    if (idx == ts.size()) {
      add(s, Reason::preferred_unknown);
      s.error = make_error_code(Errc::not_found);
      return s;
    }
    add(s, Reason::preferred_forced);
    const Reason r = hard_check(ts[idx], req, ctx);
    if (r != Reason::none) {
      s.excluded[idx] = r;
      add(s, Reason::nothing_fits);
      s.error = make_error_code(errc_for(r));
      return s;
    }
    if (battery_check(battery_band(ctx), ts[idx].caps.role()) != Reason::none)
      add(s, Reason::preference_overrides_battery);
    s.order[s.count++] = static_cast<std::uint8_t>(idx);
    if (want > 1) {
      rank(req, ts, ctx, s, idx);
      s.count = static_cast<std::uint8_t>(std::min<std::size_t>(s.count, want));
    }
  } else {
    rank(req, ts, ctx, s, ts.size());
  }

  if (s.count == 0) {
    add(s, Reason::nothing_fits);
    // A transport that could fit later (unavailable, offline, battery) makes it no_link; else the
    // message itself is the problem.
    Errc e = ts.empty() ? Errc::no_link : Errc::unsupported;
    for (std::size_t i = 0; i < ts.size(); ++i) {
      Errc ei = errc_for(s.excluded[i]);
      if (ei == Errc::no_link)
        e = Errc::no_link;
      else if (ei == Errc::too_large && e == Errc::unsupported)
        e = Errc::too_large;
    }
    s.error = make_error_code(e);
    return s;
  }
  s.send_count = static_cast<std::uint8_t>(std::min<std::size_t>(want, s.count));
  if (want > s.count) add(s, Reason::redundancy_short);
  return s;
}

bool Selection::has(Reason r) const noexcept {
  for (std::uint8_t i = 0; i < reason_count; ++i)
    if (reasons[i] == r) return true;
  return false;
}

std::array<std::uint8_t, 4> rank_from_priority(const std::vector<std::string>& names) {
  auto role_of = [](const std::string& n) -> int {
    if (n == "htx" || n == "betanet") return static_cast<int>(Role::privacy);
    if (n == "ble" || n == "bitchat" || n == "mesh") return static_cast<int>(Role::offline_mesh);
    if (n == "tcp" || n == "quic") return static_cast<int>(Role::direct_bulk);
    if (n == "websocket") return static_cast<int>(Role::direct_light);
    return -1;
  };
  constexpr std::array<Role, 4> kDefaultOrder{Role::privacy, Role::offline_mesh, Role::direct_bulk,
                                              Role::direct_light};
  std::array<std::uint8_t, 4> rank{};
  std::array<bool, 4> ranked{};
  std::uint8_t next = 0;
  auto take = [&](int role) {
    if (role < 0 || ranked[static_cast<std::size_t>(role)]) return;
    ranked[static_cast<std::size_t>(role)] = true;
    rank[static_cast<std::size_t>(role)] = next++;
  };
  for (const auto& n : names) take(role_of(n));
  for (Role r : kDefaultOrder) take(static_cast<int>(r));
  return rank;
}

}  // namespace hyphae::router
