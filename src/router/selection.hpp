// router::select: the transport selection policy. A pure function of (message requirements,
// transports with their capabilities and health, device/network context) that returns the ranked
// transports to use AND the reasons, as enum codes (reason_text() and explain() turn them into
// sentences off the hot path). Implements the selection decision tree, the decision matrix and
// the multi-factor policy (device, size, battery, network); docs/selection.md gives the rules and
// their precedence.
// Thread-safety: no state, no I/O, no clock, no allocation in select(); safe from any thread.
// Ownership: TransportView and MessageRequirements hold string_views the caller keeps alive for the
// call; Selection refers to transports by their index in the span passed to select().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "router/capabilities.hpp"

namespace hyphae::router {

enum class Priority : std::uint8_t { emergency = 0, high = 1, normal = 2, low = 3 };
enum class Cast : std::uint8_t { unicast = 0, broadcast = 1, multicast = 2 };
enum class Privacy : std::uint8_t { standard = 0, private_ = 1, anonymous = 2 };
enum class Optimize : std::uint8_t { automatic = 0, latency, privacy, battery, throughput };
enum class DeviceType : std::uint8_t { unspecified = 0, mobile, desktop, server };
enum class Thermal : std::uint8_t { normal = 0, warm, hot, critical };

// Size classes: small < 1 KiB <= medium <= 10 KiB < large.
inline constexpr std::size_t kSmallMessageBytes = 1024;
inline constexpr std::size_t kLargeMessageBytes = 10 * 1024;
// Battery thresholds (fractions): critical < 0.10 <= low < 0.20 <= medium < 0.50 <= high < 0.80 <=
// full.
inline constexpr float kBatteryCritical = 0.10f, kBatteryLow = 0.20f, kBatteryMedium = 0.50f,
                       kBatteryHigh = 0.80f;
// Network quality classes: poor < 0.3 <= good < 0.8 <= excellent.
inline constexpr float kNetworkPoor = 0.3f, kNetworkExcellent = 0.8f;
// At most this many transports are considered; more is an invalid_argument error.
inline constexpr std::size_t kMaxTransports = 16;
inline constexpr std::size_t kMaxReasons = 16;

struct MessageRequirements {
  std::size_t size = 0;  // bytes
  Priority priority = Priority::normal;
  Cast cast = Cast::unicast;
  Privacy privacy = Privacy::standard;
  bool needs_ack = false;  // informational: every transport carries the end-to-end ack back
  Optimize optimize_for = Optimize::automatic;
  std::string_view transport_preference;  // empty: none; otherwise forces that transport
  std::uint8_t redundancy = 1;            // send over this many transports at once (redundant send)
};

struct TransportHealth {
  bool available = true;
  bool degraded = false;                // recent failures; used only when nothing healthy fits
  std::uint32_t recent_latency_ms = 0;  // 0: not measured yet, typical_latency_ms is used
  std::uint32_t failure_count = 0;
};

struct TransportView {
  std::string_view name;
  Capabilities caps;
  TransportHealth health;
};

struct Context {
  bool has_internet = true;
  DeviceType device = DeviceType::unspecified;
  float battery_fraction = -1.0f;  // < 0: no battery reported (mains-powered)
  bool charging = false;
  Thermal thermal = Thermal::normal;
  float network_quality = -1.0f;  // 0..1; < 0: unknown
  // Without a device type: the rank of each Role (index: offline_mesh, privacy, direct_bulk,
  // direct_light; lower first), from the transport_priority setting (rank_from_priority).
  std::array<std::uint8_t, 4> priority_rank{1, 0, 2, 3};
};

// The Role ranks of a transport_priority list: each name's role takes the next rank the first time
// it appears (htx, betanet: privacy; ble, bitchat, mesh: offline_mesh; tcp, quic: direct_bulk;
// websocket: direct_light); roles the list leaves out follow in the default order. The default
// list [htx, ble, mesh] gives privacy > offline_mesh > direct_bulk > direct_light.
std::array<std::uint8_t, 4> rank_from_priority(const std::vector<std::string>& names);

// Why a transport was left out, or which rule shaped the order. One code per rule. In the comments,
// "tree" is the selection decision tree and "matrix" the decision matrix (docs/selection.md).
enum class Reason : std::uint8_t {
  none = 0,
  // Exclusions (per transport, see Selection::excluded).
  unavailable,
  cannot_unicast,
  cannot_broadcast,
  cannot_multicast,
  too_large,
  needs_internet,
  no_encryption,
  not_anonymous,
  battery_offline_mesh_only,
  battery_no_direct,
  // Hard rules that applied.
  no_internet,        // tree/matrix: no internet -> only transports that work offline
  privacy_private,    // tree/matrix: requires privacy -> encrypted, most anonymous first
  privacy_anonymous,  // privacy level ANONYMOUS -> anonymity_level >= 2 only
  broadcast,          // tree/matrix: broadcast -> broadcast-capable, widest reach first
  multicast,          // multicast -> multicast-capable, widest reach first
  battery_critical,   // battery policy: battery < 10 % -> offline mesh only
  battery_low,        // battery policy: battery < 20 % -> offline mesh only (BitChat only)
  battery_medium,     // battery policy: 20-50 % -> offline mesh > privacy, no direct links
  battery_high,       // battery policy: 50-80 % -> all, lower battery impact breaks ties
  battery_full,       // battery policy: >= 80 % -> all
  charging,           // on external power: no battery limits
  emergency_ignores_battery,
  // Ordering objectives (the first that applies ranks the candidates).
  emergency_fastest,      // EMERGENCY -> fastest available
  offline_store_forward,  // no internet: store-and-forward / offline-capable first
  optimize_latency,       // tree: latency -> lowest latency (Mesh)
  optimize_privacy,       // tree: privacy -> most anonymous (BetaNet)
  optimize_battery,       // tree/matrix: battery -> lowest battery impact (BetaNet)
  optimize_throughput,    // highest bandwidth
  size_large,             // size preference: > 10 KB -> throughput (QUIC)
  // Later ordering keys.
  network_poor,       // poor network -> mesh resilience (no-internet transports first)
  network_excellent,  // excellent network -> highest bandwidth breaks ties
  thermal_hot,        // hot/critical device -> high-battery-impact transports last
  device_mobile,      // device priority: BitChat > WebSocket > BetaNet > QUIC
  device_desktop,     // device priority: BetaNet > QUIC > WebSocket > BitChat
  device_server,      // device priority: QUIC > BetaNet > WebSocket > BitChat
  size_small,         // size preference: < 1 KB -> BitChat (offline mesh) preferred (no device type)
  size_medium,        // size preference: 1-10 KB -> BetaNet (privacy) preferred (no device type)
  default_priority,   // default transport_priority: htx > ble > mesh
  degraded_last,      // degraded transports ranked after healthy ones
  // Forced preference.
  preferred_forced,
  preference_overrides_battery,
  preferred_unknown,
  // Outcome.
  redundancy_short,  // fewer transports fit than the redundancy asked for
  nothing_fits,
  too_many_transports,
};

std::string_view reason_text(Reason r) noexcept;  // a fixed sentence per code
std::string_view reason_name(Reason r) noexcept;  // the enumerator's name, for metrics labels
std::string_view to_string(Priority v) noexcept;
std::string_view to_string(Cast v) noexcept;
std::string_view to_string(Privacy v) noexcept;
std::string_view to_string(Optimize v) noexcept;
std::string_view to_string(DeviceType v) noexcept;
std::string_view to_string(Thermal v) noexcept;

struct Selection {
  // Indices into the transports span, best first. The first `send_count` are sent at once
  // (redundancy); the rest are the failover order. Empty on error.
  std::array<std::uint8_t, kMaxTransports> order{};
  std::uint8_t count = 0;
  std::uint8_t send_count = 0;
  // The rules that applied, in the order they were evaluated.
  std::array<Reason, kMaxReasons> reasons{};
  std::uint8_t reason_count = 0;
  // Per input transport: why it was left out (Reason::none when it was kept).
  std::array<Reason, kMaxTransports> excluded{};
  // Errc::ok when count > 0. Otherwise no_link (nothing reachable now: unavailable, offline,
  // battery), too_large, unsupported (no transport has the capability), not_found (unknown
  // preference) or invalid_argument (too many transports).
  std::error_code error;

  bool ok() const noexcept { return !error && count > 0; }
  std::uint8_t primary() const noexcept { return order[0]; }
  std::span<const std::uint8_t> ranked() const noexcept { return {order.data(), count}; }
  std::span<const std::uint8_t> to_send() const noexcept { return {order.data(), send_count}; }
  std::span<const Reason> why() const noexcept { return {reasons.data(), reason_count}; }
  bool has(Reason r) const noexcept;
};

Selection select(const MessageRequirements& req, std::span<const TransportView> transports,
                 const Context& ctx) noexcept;

// Cold path: a multi-line explanation naming the transports, e.g.
// "chose bitchat (then betanet); no internet: only transports that work offline; ...;
//  mesh left out: needs internet, which is down". On error it starts with the error's cause.
std::string explain(const Selection& s, std::span<const TransportView> transports,
                    const MessageRequirements& req, const Context& ctx);

}  // namespace hyphae::router
