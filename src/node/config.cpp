#include "node/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <set>

#include "core/address.hpp"
#include "files/file_messages.hpp"
#include "node/config_yaml.hpp"
#include "transport/transport.hpp"

namespace hyphae {
using config_yaml::read_scalar;
using config_yaml::scalar_text;
using config_yaml::where;

// Longest accepted timestamp_window_s: the longest TTL (7 days). Larger windows would also overflow
// the millisecond arithmetic of the delivery checks.
constexpr std::uint64_t kMaxTimestampWindowS = 7 * 24 * 3600;

namespace {

// The `relay:` section: relay_reservations for every node, the limits a relay grants.
std::expected<void, std::string> read_relay_section(const std::filesystem::path& file,
                                                    const YAML::Node& value, NodeConfig& config) {
  if (!value.IsMap()) return std::unexpected(where(file, value, "relay") + " must be a mapping");
  auto& l = config.relay_limits;
  for (auto p = value.begin(); p != value.end(); ++p) {
    const YAML::Node field_node = p->first;
    const YAML::Node v = p->second;
    auto field_text = scalar_text(file, field_node, "relay");
    if (!field_text) return std::unexpected(field_text.error());
    const std::string field = *field_text;
    const std::string name = "relay." + field;
    std::uint64_t n = 0;
    if (auto rr = read_scalar(file, v, name, n); !rr) return rr;
    const auto in = [&](std::uint64_t lo, std::uint64_t hi) -> std::expected<void, std::string> {
      if (n < lo || n > hi)
        return std::unexpected(where(file, v, name) + " must be between " + std::to_string(lo) + " and " +
                               std::to_string(hi));
      return {};
    };
    std::expected<void, std::string> rr;
    if (field == "reservations") {
      if (rr = in(0, 8); rr) config.relay_reservations = n;
    } else if (field == "reservation_ttl_s") {
      if (rr = in(10, 86'400); rr) l.reservation_ttl_ms = n * 1000;
    } else if (field == "max_reservations") {
      if (rr = in(1, 1'000'000); rr) l.max_reservations = n;
    } else if (field == "max_circuits") {
      if (rr = in(1, 1'000'000); rr) l.max_circuits = n;
    } else if (field == "max_circuits_per_peer") {
      if (rr = in(1, 100'000); rr) l.max_circuits_per_peer = n;
    } else if (field == "max_circuit_bytes") {
      if (rr = in(4096, std::uint64_t{1} << 40); rr) l.max_circuit_bytes = n;
    } else if (field == "max_circuit_duration_s") {
      if (rr = in(1, 7 * 86'400); rr) l.max_circuit_duration_ms = n * 1000;
    } else if (field == "max_held_per_peer") {
      if (rr = in(0, 1'000'000); rr) l.max_held_per_peer = n;
    } else if (field == "max_held_messages") {
      if (rr = in(0, 10'000'000); rr) l.max_held_messages = n;
    } else if (field == "max_held_bytes") {
      if (rr = in(0, std::uint64_t{1} << 40); rr) l.max_held_bytes = n;
    } else if (field == "held_ttl_s") {
      if (rr = in(1, 30 * 86'400); rr) l.held_ttl_ms = n * 1000;
    } else {
      return std::unexpected(where(file, field_node, name) + " is not a known setting");
    }
    if (!rr) return rr;
  }
  return {};
}

// The `files:` section: where received files go, whether offers are taken without asking, bounds.
std::expected<void, std::string> read_files_section(const std::filesystem::path& file,
                                                    const YAML::Node& value, NodeConfig& config) {
  if (!value.IsMap()) return std::unexpected(where(file, value, "files") + " must be a mapping");
  auto& l = config.file_limits;
  for (auto p = value.begin(); p != value.end(); ++p) {
    const YAML::Node field_node = p->first;
    const YAML::Node v = p->second;
    auto field_text = scalar_text(file, field_node, "files");
    if (!field_text) return std::unexpected(field_text.error());
    const std::string field = *field_text;
    const std::string name = "files." + field;
    if (field == "download_dir") {
      std::string dir;
      if (auto rr = read_scalar(file, v, name, dir); !rr) return rr;
      if (dir.empty()) return std::unexpected(where(file, v, name) + " must not be empty");
      config.download_dir = dir;
      continue;
    }
    if (field == "auto_accept") {
      if (auto rr = read_scalar(file, v, name, l.auto_accept); !rr) return rr;
      continue;
    }
    std::uint64_t n = 0;
    if (auto rr = read_scalar(file, v, name, n); !rr) return rr;
    const auto in = [&](std::uint64_t lo, std::uint64_t hi) -> std::expected<void, std::string> {
      if (n < lo || n > hi)
        return std::unexpected(where(file, v, name) + " must be between " + std::to_string(lo) + " and " +
                               std::to_string(hi));
      return {};
    };
    std::expected<void, std::string> rr;
    if (field == "max_file_bytes") {
      if (rr = in(1, std::uint64_t{1} << 50); rr) l.max_file_bytes = n;
    } else if (field == "chunk_bytes") {
      if (rr = in(1024, files::kMaxChunkSize); rr) l.chunk_size = static_cast<std::uint32_t>(n);
    } else if (field == "window_bytes") {
      if (rr = in(64 * 1024, std::uint64_t{1} << 30); rr) l.window_bytes = n;
    } else if (field == "max_incoming") {
      if (rr = in(1, 100'000); rr) l.max_incoming = n;
    } else if (field == "max_offers_per_peer") {
      if (rr = in(1, 10'000); rr) l.max_offers_per_peer = n;
    } else {
      return std::unexpected(where(file, field_node, name) + " is not a known setting");
    }
    if (!rr) return rr;
  }
  return {};
}

// Applies every top-level key of `root`; `current` names the key being applied, for the caller's
// last-resort error message should yaml-cpp still throw.
std::expected<void, std::string> apply_config(const std::filesystem::path& file, const YAML::Node& root,
                                              NodeConfig& config, std::string& current,
                                              const transport::TransportRegistry& types) {
  static const std::set<std::string> known = {"data_dir",
                                              "listen",
                                              "api_listen",
                                              "api_max_connections",
                                              "api_timeout_ms",
                                              "api_ws_queue_bytes",
                                              "api_allowed_hosts",
                                              "peers",
                                              "timestamp_window_s",
                                              "max_message_bytes",
                                              "default_ttl_s",
                                              "keepalive_interval_ms",
                                              "reconnect_min_ms",
                                              "reconnect_max_ms",
                                              "handshake_timeout_ms",
                                              "store_synchronous",
                                              "log_level",
                                              "connectivity",
                                              "connectivity_probe",
                                              "connectivity_probe_interval_ms",
                                              "max_connections",
                                              "connection_idle_timeout_ms",
                                              "max_pending_messages",
                                              "max_pending_bytes",
                                              "max_inbox_per_peer",
                                              "max_inbox_messages",
                                              "max_uncommitted_inbound_bytes",
                                              "ack_timeout_ms",
                                              "fault_injection",
                                              "store_commit_delay_ms",
                                              "optimize_for",
                                              "device_type",
                                              "power",
                                              "qos",
                                              "registry",
                                              "mdns",
                                              "role",
                                              "mdns_interval_s",
                                              "relay",
                                              "hole_punching",
                                              "files"};
  for (auto it = root.begin(); it != root.end(); ++it) {
    // Copies: yaml-cpp's iterator hands out a temporary pair, so references into it would dangle.
    const YAML::Node key_node = it->first;
    const YAML::Node value = it->second;
    auto key_text = scalar_text(file, key_node, "<top level>");
    if (!key_text) return std::unexpected(key_text.error());
    const std::string key = *key_text;
    current = key;
    if (auto p2p =
            apply_p2p_key(file, key, value, config,
                          types)) {  // P2P configuration file and TransportConfig keys (config_p2p.cpp)
      if (!*p2p) return *p2p;
      continue;
    }
    if (!known.contains(key)) return std::unexpected(where(file, key_node, key) + " is not a known setting");
    std::expected<void, std::string> r;
    if (key == "data_dir") {
      std::string s;
      r = read_scalar(file, value, key, s);
      if (r) config.data_dir = s;
    } else if (key == "listen") {
      r = read_scalar(file, value, key, config.listen);
    } else if (key == "api_listen") {
      r = read_scalar(file, value, key, config.api_listen);
    } else if (key == "api_max_connections") {
      r = read_scalar(file, value, key, config.api_max_connections);
      if (r && (config.api_max_connections == 0 || config.api_max_connections > 65536))
        return std::unexpected(where(file, value, key) + " must be between 1 and 65536");
    } else if (key == "api_timeout_ms") {
      r = read_scalar(file, value, key, config.api_timeout_ms);
      if (r && (config.api_timeout_ms < 50 || config.api_timeout_ms > 3'600'000))
        return std::unexpected(where(file, value, key) + " must be between 50 and 3600000");
    } else if (key == "api_ws_queue_bytes") {
      r = read_scalar(file, value, key, config.api_ws_queue_bytes);
      if (r && config.api_ws_queue_bytes < 4096)
        return std::unexpected(where(file, value, key) + " must be at least 4096");
    } else if (key == "api_allowed_hosts") {
      if (!value.IsSequence())
        return std::unexpected(where(file, value, key) + " must be a list of host names");
      config.api_allowed_hosts.clear();
      for (const auto& entry : value) {
        std::string name;
        r = read_scalar(file, entry, key, name);
        if (!r) break;
        if (name.empty() || name.find_first_of("/ \t") != std::string::npos)
          return std::unexpected(where(file, entry, key) + " must be host names (e.g. hyphae.lan)");
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        config.api_allowed_hosts.push_back(std::move(name));
      }
    } else if (key == "timestamp_window_s") {
      std::uint64_t s = 0;
      r = read_scalar(file, value, key, s);
      if (r && s > kMaxTimestampWindowS)
        return std::unexpected(where(file, value, key) + " must be between 0 and " +
                               std::to_string(kMaxTimestampWindowS) + " seconds");
      if (r) config.timestamp_window_ms = s * 1000;
    } else if (key == "max_message_bytes") {
      r = read_scalar(file, value, key, config.max_message_bytes);
      if (r && (config.max_message_bytes == 0 || config.max_message_bytes > (16u << 20)))
        return std::unexpected(where(file, value, key) + " must be between 1 and 16777216");
    } else if (key == "default_ttl_s") {
      r = read_scalar(file, value, key, config.default_ttl_s);
    } else if (key == "keepalive_interval_ms") {
      r = read_scalar(file, value, key, config.keepalive_interval_ms);
    } else if (key == "reconnect_min_ms") {
      r = read_scalar(file, value, key, config.reconnect_min_ms);
    } else if (key == "reconnect_max_ms") {
      r = read_scalar(file, value, key, config.reconnect_max_ms);
    } else if (key == "handshake_timeout_ms") {
      r = read_scalar(file, value, key, config.handshake_timeout_ms);
    } else if (key == "log_level") {
      r = read_scalar(file, value, key, config.log_level);
    } else if (key == "max_connections") {
      r = read_scalar(file, value, key, config.max_connections);
      if (r && config.max_connections == 0)
        return std::unexpected(where(file, value, key) + " must be at least 1");
    } else if (key == "max_pending_messages") {
      r = read_scalar(file, value, key, config.max_pending_messages);
      if (r && config.max_pending_messages == 0)
        return std::unexpected(where(file, value, key) + " must be at least 1");
    } else if (key == "max_inbox_per_peer") {
      r = read_scalar(file, value, key, config.max_inbox_per_peer);
      if (r && config.max_inbox_per_peer == 0)
        return std::unexpected(where(file, value, key) + " must be at least 1");
    } else if (key == "max_inbox_messages") {
      r = read_scalar(file, value, key, config.max_inbox_messages);
      if (r && config.max_inbox_messages < 2)
        return std::unexpected(where(file, value, key) + " must be at least 2");
    } else if (key == "max_uncommitted_inbound_bytes") {
      r = read_scalar(file, value, key, config.max_uncommitted_inbound_bytes);
      if (r && config.max_uncommitted_inbound_bytes < 65536)
        return std::unexpected(where(file, value, key) + " must be at least 65536");
    } else if (key == "max_pending_bytes") {
      r = read_scalar(file, value, key, config.max_pending_bytes);
      if (r && config.max_pending_bytes < 65536)
        return std::unexpected(where(file, value, key) + " must be at least 65536");
    } else if (key == "ack_timeout_ms") {
      r = read_scalar(file, value, key, config.ack_timeout_ms);
      if (r && (config.ack_timeout_ms < 10 || config.ack_timeout_ms > 3'600'000))
        return std::unexpected(where(file, value, key) + " must be between 10 and 3600000");
    } else if (key == "fault_injection") {
      r = read_scalar(file, value, key, config.fault_injection);
    } else if (key == "store_commit_delay_ms") {
      r = read_scalar(file, value, key, config.store_commit_delay_ms);
      if (r && config.store_commit_delay_ms > 10'000)
        return std::unexpected(where(file, value, key) + " must be at most 10000");
    } else if (key == "optimize_for" || key == "device_type") {
      std::string s;
      r = read_scalar(file, value, key, s);
      if (r && key == "optimize_for") {
        static const std::map<std::string, router::Optimize> names = {
            {"automatic", router::Optimize::automatic},
            {"latency", router::Optimize::latency},
            {"privacy", router::Optimize::privacy},
            {"battery", router::Optimize::battery},
            {"throughput", router::Optimize::throughput}};
        auto it = names.find(s);
        if (it == names.end())
          return std::unexpected(where(file, value, key) +
                                 " must be automatic, latency, privacy, battery or throughput");
        config.optimize_for = it->second;
      } else if (r) {
        static const std::map<std::string, router::DeviceType> names = {
            {"unspecified", router::DeviceType::unspecified},
            {"mobile", router::DeviceType::mobile},
            {"desktop", router::DeviceType::desktop},
            {"server", router::DeviceType::server}};
        auto it = names.find(s);
        if (it == names.end())
          return std::unexpected(where(file, value, key) + " must be unspecified, mobile, desktop or server");
        config.device_type = it->second;
      }
    } else if (key == "qos") {
      if (!value.IsMap()) return std::unexpected(where(file, value, key) + " must be a mapping");
      static const std::array<std::string, 4> classes{"emergency", "high", "normal", "low"};
      for (auto q = value.begin(); q != value.end(); ++q) {
        const YAML::Node field_node = q->first;
        const YAML::Node v = q->second;
        auto field_text = scalar_text(file, field_node, "qos");
        if (!field_text) return std::unexpected(field_text.error());
        const std::string field = *field_text;
        const std::string name = "qos." + field;
        std::expected<void, std::string> qr;
        auto c = std::find(classes.begin(), classes.end(), field);
        if (c != classes.end()) {
          auto& slot = config.qos_capacity[static_cast<std::size_t>(c - classes.begin())];
          qr = read_scalar(file, v, name, slot);
          if (qr && (slot < 1 || slot > (1u << 24)))
            return std::unexpected(where(file, v, name) + " must be between 1 and 16777216");
        } else if (field == "busy_backlog_bytes") {
          qr = read_scalar(file, v, name, config.qos_busy_backlog_bytes);
          if (qr && config.qos_busy_backlog_bytes < 1)
            return std::unexpected(where(file, v, name) + " must be at least 1");
        } else {
          return std::unexpected(where(file, field_node, name) + " is not a known setting");
        }
        if (!qr) return qr;
      }
    } else if (key == "power") {
      if (!value.IsMap()) return std::unexpected(where(file, value, key) + " must be a mapping");
      for (auto p = value.begin(); p != value.end(); ++p) {
        const YAML::Node field_node = p->first;
        const YAML::Node v = p->second;
        auto field_text = scalar_text(file, field_node, "power");
        if (!field_text) return std::unexpected(field_text.error());
        const std::string field = *field_text;
        const std::string name = "power." + field;
        std::expected<void, std::string> pr;
        if (field == "battery") {
          double b = 0;
          pr = read_scalar(file, v, name, b);
          if (pr && !(b >= 0 && b <= 1))  // also refuses .nan
            return std::unexpected(where(file, v, name) + " must be between 0 and 1");
          config.battery_override = b;
        } else if (field == "charging") {
          bool c = false;
          pr = read_scalar(file, v, name, c);
          config.charging_override = c;
        } else if (field == "temperature_c") {
          double t = 0;
          pr = read_scalar(file, v, name, t);
          if (pr && !(t >= -50 && t <= 200))
            return std::unexpected(where(file, v, name) + " must be between -50 and 200");
          config.temperature_override_c = t;
        } else if (field == "sysfs_root") {
          pr = read_scalar(file, v, name, config.power_sysfs_root);
        } else if (field == "poll_ms") {
          pr = read_scalar(file, v, name, config.power_poll_ms);
          if (pr && config.power_poll_ms < 100)
            return std::unexpected(where(file, v, name) + " must be at least 100");
        } else {
          return std::unexpected(where(file, field_node, name) + " is not a known setting");
        }
        if (!pr) return pr;
      }
    } else if (key == "role") {
      r = read_scalar(file, value, key, config.role);
      if (r && config.role != "basic" && config.role != "relay" && config.role != "super_peer")
        return std::unexpected(where(file, value, key) + " must be basic, relay or super_peer");
    } else if (key == "mdns") {
      r = read_scalar(file, value, key, config.mdns);
    } else if (key == "mdns_interval_s") {
      std::uint64_t seconds = 0;
      r = read_scalar(file, value, key, seconds);
      if (r && (seconds < 1 || seconds > 3600))
        return std::unexpected(where(file, value, key) + " must be between 1 and 3600");
      config.mdns_interval_ms = seconds * 1000;
    } else if (key == "hole_punching") {
      r = read_scalar(file, value, key, config.hole_punching);
    } else if (key == "relay") {
      r = read_relay_section(file, value, config);
    } else if (key == "files") {
      r = read_files_section(file, value, config);
    } else if (key == "registry") {
      if (!value.IsMap()) return std::unexpected(where(file, value, key) + " must be a mapping");
      for (auto p = value.begin(); p != value.end(); ++p) {
        const YAML::Node field_node = p->first;
        const YAML::Node v = p->second;
        auto field_text = scalar_text(file, field_node, "registry");
        if (!field_text) return std::unexpected(field_text.error());
        const std::string field = *field_text;
        const std::string name = "registry." + field;
        std::expected<void, std::string> rr;
        if (field == "url") {
          rr = read_scalar(file, v, name, config.registry_url);
          if (rr && !config.registry_url.starts_with("http://") &&
              !config.registry_url.starts_with("https://"))
            return std::unexpected(where(file, v, name) + " must be an http:// or https:// URL");
        } else if (field == "network") {
          rr = read_scalar(file, v, name, config.registry_network);
        } else if (field == "token") {
          rr = read_scalar(file, v, name, config.registry_token);
        } else if (field == "ca_file") {
          rr = read_scalar(file, v, name, config.registry_ca_file);
        } else if (field == "announce_interval_s") {
          std::uint64_t seconds = 0;
          rr = read_scalar(file, v, name, seconds);
          if (rr && (seconds < 1 || seconds > 86'400))
            return std::unexpected(where(file, v, name) + " must be between 1 and 86400");
          config.registry_announce_interval_ms = seconds * 1000;
        } else {
          return std::unexpected(where(file, field_node, name) + " is not a known setting");
        }
        if (!rr) return rr;
      }
    } else if (key == "connection_idle_timeout_ms") {
      r = read_scalar(file, value, key, config.connection_idle_timeout_ms);
    } else if (key == "connectivity") {
      r = read_scalar(file, value, key, config.connectivity);
      if (r && config.connectivity != "auto" && config.connectivity != "online" &&
          config.connectivity != "offline")
        return std::unexpected(where(file, value, key) + " must be 'auto', 'online' or 'offline'");
    } else if (key == "connectivity_probe") {
      r = read_scalar(file, value, key, config.connectivity_probe);
      std::string host;
      std::uint16_t port = 0;
      if (r && !config.connectivity_probe.empty() && !parse_address(config.connectivity_probe, host, port))
        return std::unexpected(where(file, value, key) + " is not host:port");
    } else if (key == "connectivity_probe_interval_ms") {
      r = read_scalar(file, value, key, config.connectivity_probe_interval_ms);
      if (r && config.connectivity_probe_interval_ms < 100)
        return std::unexpected(where(file, value, key) + " must be at least 100");
    } else if (key == "store_synchronous") {
      std::string s;
      r = read_scalar(file, value, key, s);
      if (r && s != "normal" && s != "full")
        return std::unexpected(where(file, value, key) + " must be 'normal' or 'full'");
      config.store_synchronous_full = s == "full";
    } else if (key == "peers") {
      if (!value.IsSequence()) return std::unexpected(where(file, value, key) + " must be a list");
      for (const auto& entry : value) {
        PeerAddressConfig peer;
        if (!entry.IsMap() || !entry["id"])
          return std::unexpected(where(file, entry, "peers") + " entries need 'id'");
        auto id = scalar_text(file, entry["id"], "peers.id");
        if (!id) return std::unexpected(id.error());
        peer.id = *id;
        if (const YAML::Node addresses = entry["addresses"]) {
          if (!addresses.IsSequence() && !addresses.IsNull())  // "addresses:" alone: none
            return std::unexpected(where(file, addresses, "peers.addresses") + " must be a list");
          for (const auto& a : addresses) {
            auto address = scalar_text(file, a, "peers.addresses");
            if (!address) return std::unexpected(address.error());
            const std::string& text = *address;
            // "name=address" names the transport the address belongs to (checked at start).
            if (!valid_peer_address(text))
              return std::unexpected(where(file, a, "peers.addresses") +
                                     " is not [transport=]host:port or /ip4/../tcp/..");
            peer.addresses.push_back(text);
          }
        }
        config.peers.push_back(std::move(peer));
      }
    }
    if (!r) return r;
  }
  if (config.reconnect_min_ms == 0 || config.reconnect_max_ms < config.reconnect_min_ms)
    return std::unexpected(file.string() + ": reconnect_min_ms must be > 0 and <= reconnect_max_ms");
  std::string host;
  std::uint16_t port = 0;
  if (!parse_address(config.listen, host, port))
    return std::unexpected(file.string() + ": key 'listen' is not host:port");
  if (!parse_address(config.api_listen, host, port))
    return std::unexpected(file.string() + ": key 'api_listen' is not host:port");
  return {};
}

std::string line_of(const YAML::Exception& e) {
  return e.mark.is_null() ? std::string() : ":" + std::to_string(e.mark.line + 1);
}

}  // namespace

std::expected<void, std::string> load_config_file(const std::filesystem::path& file, NodeConfig& config) {
  return load_config_file(file, config, transport::default_registry());
}

std::expected<void, std::string> load_config_file(const std::filesystem::path& file, NodeConfig& config,
                                                  const transport::TransportRegistry& types) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    return std::unexpected(file.string() + ": cannot read the file");
  } catch (const YAML::Exception& e) {  // ParserException, and the parser's other refusals
    return std::unexpected(file.string() + line_of(e) + ": " + e.msg);
  }
  if (root.IsNull()) return {};
  if (!root.IsMap()) return std::unexpected(file.string() + ": the top level must be a mapping");
  std::string current = "<top level>";
  try {
    return apply_config(file, root, config, current, types);
  } catch (const YAML::Exception& e) {
    // Every read checks the node's kind first; this keeps a missed case an error, not a crash.
    return std::unexpected(file.string() + line_of(e) + ": key '" + current + "': " + e.msg);
  }
}

}  // namespace hyphae
