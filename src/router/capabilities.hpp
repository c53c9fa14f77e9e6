// router::Capabilities: what one transport can do (the transport interface's TransportCapabilities,
// the transport capability table), as a plain value the selector reads. Presets reproduce the
// table's BitChat / BetaNet / Mesh columns plus Hyphae's own direct transports (Noise-secured TCP,
// QUIC, WebSocket).
// Plain value type with no dependencies beyond the standard library: safe to copy and to read from
// any thread; nothing is shared. `describe()` allocates; everything else is constexpr and noexcept.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hyphae::router {

enum class BatteryImpact : std::uint8_t { low = 0, medium = 1, high = 2 };
enum class DataCost : std::uint8_t { none = 0, low = 1, medium = 2, high = 3 };

// The family a transport belongs to, derived from its capabilities only (the selector never looks
// at names). The selector's device priorities are expressed over these families:
//   offline_mesh  — works without internet (BitChat over BLE/LAN)
//   privacy       — anonymity overlay, anonymity_level >= 2 (BetaNet mixnet)
//   direct_bulk   — direct internet link with bandwidth >= 50 Mbit/s (QUIC, the TCP mesh)
//   direct_light  — any other direct internet link (WebSocket)
enum class Role : std::uint8_t { offline_mesh = 0, privacy = 1, direct_bulk = 2, direct_light = 3 };
inline constexpr std::uint8_t kAnonymousLevel = 2;              // "anonymous" needs at least this
inline constexpr std::uint64_t kBulkBandwidthBps = 50'000'000;  // direct_bulk threshold

std::string_view to_string(BatteryImpact v) noexcept;  // "low" | "medium" | "high"
std::string_view to_string(DataCost v) noexcept;       // "none" | "low" | "medium" | "high"
std::string_view to_string(Role v) noexcept;           // "offline_mesh" | "privacy" | ...

struct Capabilities {
  // Addressing modes.
  bool unicast = true;
  bool broadcast = false;
  bool multicast = false;
  // Size and speed.
  std::uint32_t max_message_size = 1u << 20;  // bytes, whole message before fragmentation
  std::uint32_t typical_latency_ms = 100;
  std::uint64_t bandwidth_bps = 10'000'000;  // bits per second
  std::uint32_t mtu = 1400;                  // bytes per frame on the wire
  // Connectivity.
  bool offline_capable = false;
  bool requires_internet = true;
  bool uses_cellular = false;
  bool uses_wifi = true;
  // Security.
  bool provides_encryption = true;
  bool forward_secrecy = false;
  std::uint8_t anonymity_level = 0;  // 0 none, 1 low, 2 medium, 3 high (mixnet)
  // A session's far end is the peer itself, authenticated end to end (a direct Noise link, a
  // BitChat session): a record needs no signature of its own. False where relays or mixes stand
  // between: the node then signs the envelope at origin and seals it to the recipient.
  bool authenticated_sessions = true;
  // Routing.
  bool multi_hop = false;
  std::uint8_t max_hops = 1;
  bool store_and_forward = false;
  // Cost.
  BatteryImpact battery_impact = BatteryImpact::low;
  DataCost data_cost = DataCost::medium;

  constexpr Role role() const noexcept {
    if (offline_capable && !requires_internet) return Role::offline_mesh;
    if (anonymity_level >= kAnonymousLevel) return Role::privacy;
    return bandwidth_bps >= kBulkBandwidthBps ? Role::direct_bulk : Role::direct_light;
  }
  constexpr bool anonymous() const noexcept { return anonymity_level >= kAnonymousLevel; }

  // Capability table, "BitChat (BLE Mesh)" column; MTU 244, BitChat's BLE packet size.
  static constexpr Capabilities bitchat_preset() noexcept {
    Capabilities c;
    c.unicast = c.broadcast = c.multicast = true;
    c.max_message_size = 64 * 1024;
    c.typical_latency_ms = 2000;
    c.bandwidth_bps = 100'000;
    c.mtu = 244;
    c.offline_capable = true;
    c.requires_internet = false;
    c.uses_cellular = false;
    c.uses_wifi = true;
    c.provides_encryption = true;
    c.forward_secrecy = false;
    c.anonymity_level = 1;
    c.multi_hop = true;
    c.max_hops = 7;
    c.store_and_forward = true;
    c.battery_impact = BatteryImpact::medium;
    c.data_cost = DataCost::low;
    return c;
  }
  // Capability table, "BetaNet (HTX/Sphinx)" column; anonymity 3 (Sphinx mixnet); MTU = BetaNet's
  // HTX max_frame_size.
  static constexpr Capabilities betanet_preset() noexcept {
    Capabilities c;
    c.unicast = true;
    c.broadcast = c.multicast = false;
    c.max_message_size = 1u << 20;
    c.typical_latency_ms = 500;
    c.bandwidth_bps = 10'000'000;
    c.mtu = 65536;
    c.offline_capable = false;
    c.requires_internet = true;
    c.uses_cellular = c.uses_wifi = true;
    c.provides_encryption = c.forward_secrecy = true;
    c.anonymity_level = 3;
    c.authenticated_sessions = false;  // the next hop is a mix, not the peer
    c.multi_hop = true;
    c.max_hops = 5;
    c.store_and_forward = false;
    c.battery_impact = BatteryImpact::low;
    c.data_cost = DataCost::medium;
    return c;
  }
  // Capability table, "Mesh (Direct P2P)" column. Its encryption is "⚠️" (only with TLS/PSK configured);
  // the preset takes the conservative reading: no encryption guarantee.
  static constexpr Capabilities mesh_preset() noexcept {
    Capabilities c;
    c.unicast = c.broadcast = c.multicast = true;
    c.max_message_size = 1u << 20;
    c.typical_latency_ms = 100;
    c.bandwidth_bps = 100'000'000;
    c.mtu = 1400;
    c.offline_capable = false;
    c.requires_internet = true;
    c.uses_cellular = c.uses_wifi = true;
    c.provides_encryption = false;
    c.forward_secrecy = false;
    c.anonymity_level = 0;
    c.multi_hop = false;
    c.max_hops = 1;
    c.store_and_forward = false;
    c.battery_impact = BatteryImpact::low;
    c.data_cost = DataCost::medium;
    return c;
  }
  // Hyphae's TCP mesh transport today: per-peer links secured by Noise XX (encrypted, forward
  // secret), unicast only.
  static constexpr Capabilities direct_tcp_preset() noexcept {
    Capabilities c = mesh_preset();
    c.broadcast = c.multicast = false;
    c.provides_encryption = c.forward_secrecy = true;
    c.mtu = 65535;
    return c;
  }
  // QUIC: throughput transport for servers.
  static constexpr Capabilities quic_preset() noexcept {
    Capabilities c = direct_tcp_preset();
    c.typical_latency_ms = 50;
    c.bandwidth_bps = 200'000'000;
    c.mtu = 1200;
    return c;
  }
  // WebSocket: light direct transport (TLS), second choice on mobile.
  static constexpr Capabilities websocket_preset() noexcept {
    Capabilities c = direct_tcp_preset();
    c.typical_latency_ms = 150;
    c.bandwidth_bps = 20'000'000;
    c.mtu = 65535;
    return c;
  }
  // WebRTC data channels: direct peer to peer (through NATs, ICE), SCTP over DTLS over UDP; light,
  // since the peer is often a browser.
  static constexpr Capabilities webrtc_preset() noexcept {
    Capabilities c = direct_tcp_preset();
    c.typical_latency_ms = 50;
    c.bandwidth_bps = 40'000'000;
    c.mtu = 65535;
    return c;
  }

  // One line, e.g. "role=offline_mesh unicast broadcast multicast max=65536B latency=2000ms ...".
  std::string describe() const;

  friend constexpr bool operator==(const Capabilities&, const Capabilities&) = default;
};

}  // namespace hyphae::router
