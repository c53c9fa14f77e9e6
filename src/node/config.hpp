// NodeConfig: every setting of a Hyphae node, with documented defaults (docs/configuration.md).
// Loaded from a YAML file; errors name the key and the file line. Plain value type.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "core/address.hpp"  // parse_address and friends, used with the configuration
#include "files/transfer_limits.hpp"
#include "relay/relay_limits.hpp"
#include "router/selection.hpp"

namespace hyphae {

namespace transport {
class TransportRegistry;
}

struct PeerAddressConfig {
  std::string id;                      // base58 PeerId
  std::vector<std::string> addresses;  // "host:port" or "/ip4/host/tcp/port"
};

// One transport's section (`transport.<name>` in the P2P configuration file, or the flat `<name>_*`
// TransportConfig keys). The options are validated when loaded and kept as text for the transport to read.
struct TransportSettings {
  bool enabled = true;
  std::map<std::string, std::string> options;
};

struct NodeConfig {
  std::filesystem::path data_dir;
  std::string listen = "127.0.0.1:0";      // peer-facing TCP listener
  std::string api_listen = "127.0.0.1:0";  // local HTTP API (loopback only by default)
  // The HTTP API's bounds (docs/configuration.md): connections open at once (more are closed at
  // accept); the time a request may take to arrive whole, also the idle time allowed between
  // keep-alive requests and the time a response may take to leave; the bytes a WebSocket may have
  // waiting to be sent before the node drops that (slow) client; and Host names accepted besides
  // localhost, 127.0.0.1 and [::1] (DNS rebinding guard).
  std::size_t api_max_connections = 256;
  std::uint64_t api_timeout_ms = 30'000;
  std::size_t api_ws_queue_bytes = std::size_t{16} << 20;
  std::vector<std::string> api_allowed_hosts;
  std::vector<PeerAddressConfig> peers;  // bootstrap peers
  std::uint64_t timestamp_window_ms = 10 * 60 * 1000;
  std::size_t max_message_bytes = 1 << 20;  // payload limit
  std::uint32_t default_ttl_s = 24 * 3600;
  std::uint64_t keepalive_interval_ms = 15000;
  std::uint64_t reconnect_min_ms = 100;
  std::uint64_t reconnect_max_ms = 5000;
  std::uint64_t handshake_timeout_ms = 5000;
  bool store_synchronous_full = false;
  // Connectivity detection (router/connectivity.hpp): an optional TCP probe "host:port" the
  // operator chooses, how often it runs, and a manual override ("auto", "online", "offline").
  std::string connectivity_probe;
  std::uint64_t connectivity_probe_interval_ms = 10000;
  std::string connectivity = "auto";
  // Routing table and connection pool: route_timeout, max_route_hops, max_connections,
  // and closing links idle this long (0: never; then peers are dialed only when a message waits).
  std::uint64_t route_timeout_ms = 300'000;
  int max_route_hops = 10;
  std::size_t max_connections = 100;
  std::uint64_t connection_idle_timeout_ms = 0;
  // Durable messages waiting for an ack, held in memory and on disk; beyond either, sends fail
  // with backpressure (HTTP 429) until acks drain them.
  std::size_t max_pending_messages = 1'000'000;
  std::size_t max_pending_bytes = std::size_t{1} << 30;
  // Received durable messages the app has not acknowledged: from one sender, and in all (peers the
  // app never added share half of it). Beyond them a message is not acked; its sender keeps it and
  // tries again later, so nothing is lost.
  std::size_t max_inbox_per_peer = 10'000;
  std::size_t max_inbox_messages = 100'000;
  // Received durable messages waiting for their commit, in bytes held in memory, from all peers; one
  // peer may hold a quarter of it. A peer over its share (or anyone while the total is over) is not
  // read from until the store catches up: TCP's flow control holds it back, nothing is dropped.
  std::size_t max_uncommitted_inbound_bytes = std::size_t{64} << 20;
  // The flat TransportConfig keys and the P2P configuration file (docs/configuration.md).
  std::map<std::string, TransportSettings> transports;  // by name: bitchat, betanet, quic, tcp
  std::vector<std::string> transport_priority{"htx", "ble",
                                              "mesh"};  // htx, ble, mesh, ... (router::rank_from_priority)
  bool enable_failover = true;
  std::uint64_t failover_timeout_ms = 10'000;  // failover retries happen within this; degraded this long
  int max_retry_attempts = 3;
  // A durable message not acked this long after it went out marks its transport degraded for the
  // peer and, with failover enabled, goes out over the next transport.
  std::uint64_t ack_timeout_ms = 2000;
  // Selection context (docs/selection.md): what to optimise for when no rule decides, and the
  // device type of the device priorities.
  router::Optimize optimize_for = router::Optimize::automatic;
  router::DeviceType device_type = router::DeviceType::unspecified;
  // Wraps every transport in a FaultTransport controlled by POST /v1/p2p/transports/{name}/fault
  // (tests, benchmarks and drills; never on by default).
  bool fault_injection = false;
  // Drills: every store commit waits this long first, as on a slow disk (0: never; at most 10000).
  std::uint32_t store_commit_delay_ms = 0;
  // The QoS transmit queue's capacities: EMERGENCY, HIGH, NORMAL, LOW.
  std::array<std::size_t, 4> qos_capacity{10, 50, 200, 500};
  // A peer's transport with more than this unsent is busy: the peer's messages wait in the transmit
  // queue (and other peers go first) until it drains.
  std::size_t qos_busy_backlog_bytes = 8u << 20;
  // Power: readings from <power_sysfs_root>/class/{power_supply,thermal} every
  // power_poll_ms, each replaceable by an override (config `power:` or POST /v1/p2p/power).
  std::string power_sysfs_root = "/sys";
  std::uint64_t power_poll_ms = 30'000;
  std::optional<double> battery_override;
  std::optional<bool> charging_override;
  std::optional<double> temperature_override_c;
  std::uint64_t discovery_interval_ms = 30'000;
  // The peer registry (docs/registry.md): this node announces its signed record there and looks
  // up peers the discovery chain cannot find otherwise. Empty url: no registry.
  // What this node offers others (its signed record's role): basic, relay or super_peer. A relay or
  // super peer sends the registry coordinator heartbeats instead of plain announcements.
  std::string role = "basic";
  std::string registry_url;  // http(s)://host:port
  std::string registry_network = "default";
  std::string registry_token;
  std::string registry_ca_file;  // HTTPS: trust this PEM file instead of the system's store
  std::uint64_t registry_announce_interval_ms = 60'000;
  // mDNS discovery on the LAN (docs/discovery.md): announce and browse `_p2p._udp.local`. A node
  // whose TCP listener is on loopback listens and asks but advertises nothing.
  bool mdns = true;
  std::uint64_t mdns_interval_ms = 10'000;
  // Relaying (docs/discovery.md, "Relays"): how many relays this node keeps a reservation at (the
  // peers whose records say relay or super_peer; 0: none), and, for a relay or super peer, what it
  // grants (config `relay:`).
  std::size_t relay_reservations = 2;
  // Try to replace a relayed session with a direct one by hole punching (config `hole_punching`).
  bool hole_punching = true;
  relay::RelayLimits relay_limits;
  // File transfers: where received files go (empty: <data_dir>/downloads) and their bounds.
  std::filesystem::path download_dir;
  files::TransferLimits file_limits;
  bool load_balance = true;
  std::string log_level = "info";
};

// Applies the YAML file at `file` over `config`. The error string names the key and line. A
// `transport.<name>` section is checked against its type's options in `types` (the built-in types
// when not given).
std::expected<void, std::string> load_config_file(const std::filesystem::path& file, NodeConfig& config);
std::expected<void, std::string> load_config_file(const std::filesystem::path& file, NodeConfig& config,
                                                  const transport::TransportRegistry& types);

}  // namespace hyphae
