// The P2P configuration file's keys: the p2p_config.yaml sections (transport, routing,
// security) and the flat TransportConfig fields, validated with the file line and the key's full
// name in every error. Settings Hyphae acts on today map onto NodeConfig fields; transport options
// are kept (validated) for the transports that read them.
#include <yaml-cpp/yaml.h>

#include <functional>
#include <set>

#include "node/config.hpp"
#include "node/config_yaml.hpp"
#include "transport/transport.hpp"

namespace hyphae {
namespace {

using config_yaml::read_scalar;
using config_yaml::scalar_text;
using config_yaml::where;
using Result = std::expected<void, std::string>;

// Checks one option of a transport section against its type's schema (from the registry: the
// transport's own folder declares it) and keeps it as text. `kind`: the section's type (its `type`,
// or its name for the sections named after a type).
Result set_option(const std::filesystem::path& file, const std::string& transport, const std::string& kind,
                  const std::string& option, const YAML::Node& value, NodeConfig& config,
                  const transport::TransportRegistry& types) {
  const std::string name = "transport." + transport + "." + option;
  auto& settings = config.transports[transport];
  if (option == "enabled") return read_scalar(file, value, name, settings.enabled);
  const auto* type = types.find(kind);
  if (!type) {
    std::string known;
    for (const auto& t : types.types()) known += (known.empty() ? "" : ", ") + t;
    return std::unexpected(where(file, value, "transport." + transport + ".type") + ": '" + kind +
                           "' is not a transport type (known: " + known + ")");
  }
  const auto* spec = type->options.find(option);
  if (!spec) return std::unexpected(where(file, value, name) + " is not a known setting");
  // Read as YAML types it (a YAML boolean, an integer), then checked against the rule as text.
  std::string text;
  switch (spec->kind) {
    case transport::OptionSpec::Kind::boolean: {
      bool b = false;
      if (auto ok = read_scalar(file, value, name, b); !ok) return ok;
      text = b ? "true" : "false";
      break;
    }
    case transport::OptionSpec::Kind::integer: {
      long long v = 0;
      if (auto ok = read_scalar(file, value, name, v); !ok) return ok;
      text = std::to_string(v);
      break;
    }
    case transport::OptionSpec::Kind::number: {
      double v = 0;  // a YAML number (the check below also refuses .nan and .inf)
      if (auto ok = read_scalar(file, value, name, v); !ok) return ok;
      if (auto ok = read_scalar(file, value, name, text); !ok) return ok;
      break;
    }
    default:
      if (auto ok = read_scalar(file, value, name, text); !ok) return ok;
  }
  auto checked = type->options.check(option, text);
  // The schema's message starts with the option's name; the file's message names the full key.
  if (!checked) return std::unexpected(where(file, value, name) + checked.error().substr(option.size()));
  settings.options[option] = *checked;
  return {};
}

Result apply_transport_section(const std::filesystem::path& file, const YAML::Node& value, NodeConfig& config,
                               const transport::TransportRegistry& types) {
  if (!value.IsMap())
    return std::unexpected(where(file, value, "transport") + " must be a mapping of transports");
  for (auto it = value.begin(); it != value.end(); ++it) {
    const YAML::Node name_node = it->first;
    const YAML::Node section = it->second;
    auto name_text = scalar_text(file, name_node, "transport");
    if (!name_text) return std::unexpected(name_text.error());
    const std::string name = *name_text;
    if (!section.IsMap())
      return std::unexpected(where(file, section, "transport." + name) + " must be a mapping");
    if (!types.has(name) && !section["type"]) {
      std::string known;
      for (const auto& t : types.types()) known += (known.empty() ? "" : ", ") + t;
      return std::unexpected(where(file, name_node, "transport." + name) + " is not a known transport (" +
                             known + "); another instance of one needs 'type'");
    }
    if (name.empty() || name.find_first_of("= /") != std::string::npos)
      return std::unexpected(where(file, name_node, "transport." + name) +
                             " is not a usable name (no '=', '/' or spaces)");
    for (auto o = section.begin(); o != section.end(); ++o) {
      const YAML::Node option_node = o->first;
      const YAML::Node option_value = o->second;
      auto option_text = scalar_text(file, option_node, "transport." + name);
      if (!option_text) return std::unexpected(option_text.error());
      const std::string option = *option_text;
      if (option == "caps") {
        // Capability overrides (the TransportConfig field names), checked against the capability model.
        const std::string caps_name = "transport." + name + ".caps";
        if (!option_value.IsMap())
          return std::unexpected(where(file, option_value, caps_name) + " must be a mapping");
        std::map<std::string, std::string> caps;
        for (auto c = option_value.begin(); c != option_value.end(); ++c) {
          const YAML::Node field = c->first;
          const YAML::Node field_value = c->second;
          auto field_name = scalar_text(file, field, caps_name);
          if (!field_name) return std::unexpected(field_name.error());
          std::string text;
          if (auto ok = read_scalar(file, field_value, caps_name + "." + *field_name, text); !ok) return ok;
          std::map<std::string, std::string> one = {{"caps." + *field_name, text}};
          if (auto checked = transport::apply_capability_options({}, one); !checked)
            return std::unexpected(where(file, field, "transport." + name) + ": " + checked.error());
          config.transports[name].options["caps." + *field_name] = text;
        }
        continue;
      }
      const std::string kind =
          section["type"] && section["type"].IsScalar() ? section["type"].Scalar() : name;
      if (option_value.IsSequence() &&
          (option == "interfaces" || option == "static_peers" || option == "rooms")) {
        std::string joined;  // a YAML list of names or addresses: the options hold them comma-separated
        for (const auto& item : option_value) {
          if (!item.IsScalar())
            return std::unexpected(where(file, item, "transport." + name + "." + option) +
                                   " must list strings");
          joined += (joined.empty() ? "" : ",") + item.Scalar();
        }
        config.transports[name].options[option] = joined;
        continue;
      }
      if (auto ok = set_option(file, name, kind, option, option_value, config, types); !ok) return ok;
    }
    if (auto& options = config.transports[name].options; options.contains("listen")) {
      std::string host;
      std::uint16_t port = 0;
      if (!parse_address(options["listen"], host, port))
        return std::unexpected(where(file, section["listen"], "transport." + name + ".listen") +
                               " is not host:port");
    }
  }
  return {};
}

Result read_seconds(const std::filesystem::path& file, const YAML::Node& value, const std::string& name,
                    std::uint64_t& out_ms) {
  double s = 0;
  if (auto ok = read_scalar(file, value, name, s); !ok) return ok;
  if (!(s > 0 && s <= 7 * 86400))  // also refuses .nan
    return std::unexpected(where(file, value, name) + " must be between 0 and 604800 seconds");
  out_ms = static_cast<std::uint64_t>(s * 1000);
  return {};
}

Result apply_routing_section(const std::filesystem::path& file, const YAML::Node& value, NodeConfig& config) {
  if (!value.IsMap()) return std::unexpected(where(file, value, "routing") + " must be a mapping");
  for (auto it = value.begin(); it != value.end(); ++it) {
    const YAML::Node key_node = it->first;
    const YAML::Node v = it->second;
    auto key_text = scalar_text(file, key_node, "routing");
    if (!key_text) return std::unexpected(key_text.error());
    const std::string key = *key_text;
    const std::string name = "routing." + key;
    Result r;
    if (key == "discovery_interval") {
      r = read_seconds(file, v, name, config.discovery_interval_ms);
    } else if (key == "route_timeout") {
      r = read_seconds(file, v, name, config.route_timeout_ms);
    } else if (key == "max_route_hops") {
      r = read_scalar(file, v, name, config.max_route_hops);
      if (r && (config.max_route_hops < 1 || config.max_route_hops > 64))
        return std::unexpected(where(file, v, name) + " must be between 1 and 64");
    } else if (key == "load_balance") {
      r = read_scalar(file, v, name, config.load_balance);
    } else {
      return std::unexpected(where(file, key_node, name) + " is not a known setting");
    }
    if (!r) return r;
  }
  return {};
}

Result apply_security_section(const std::filesystem::path& file, const YAML::Node& value) {
  static const std::set<std::string> keys = {"encryption_required", "authentication_required",
                                             "replay_protection", "forward_secrecy"};
  if (!value.IsMap()) return std::unexpected(where(file, value, "security") + " must be a mapping");
  for (auto it = value.begin(); it != value.end(); ++it) {
    const YAML::Node key_node = it->first;
    const YAML::Node v = it->second;
    auto key_text = scalar_text(file, key_node, "security");
    if (!key_text) return std::unexpected(key_text.error());
    const std::string key = *key_text;
    const std::string name = "security." + key;
    if (!keys.contains(key)) return std::unexpected(where(file, key_node, name) + " is not a known setting");
    bool on = true;
    if (auto r = read_scalar(file, v, name, on); !r) return r;
    if (!on)
      return std::unexpected(
          where(file, v, name) +
          " cannot be turned off: every Hyphae link is Noise-encrypted and authenticated, with "
          "forward secrecy, and every message id is checked against replays");
  }
  return {};
}

}  // namespace

std::optional<Result> apply_p2p_key(const std::filesystem::path& file, const std::string& key,
                                    const YAML::Node& value, NodeConfig& config,
                                    const transport::TransportRegistry& types) {
  if (key == "transport") return apply_transport_section(file, value, config, types);
  if (key == "routing") return apply_routing_section(file, value, config);
  if (key == "security") return apply_security_section(file, value);
  // The TransportConfig fields, flat.
  static const std::map<std::string, std::pair<std::string, std::string>> flat = {
      {"bitchat_enabled", {"bitchat", "enabled"}},           {"bitchat_api_url", {"bitchat", "api_url"}},
      {"bitchat_max_peers", {"bitchat", "max_peers"}},       {"bitchat_hop_limit", {"bitchat", "max_hops"}},
      {"betanet_enabled", {"betanet", "enabled"}},           {"betanet_api_url", {"betanet", "api_url"}},
      {"betanet_privacy_mode", {"betanet", "privacy_mode"}}, {"betanet_max_hops", {"betanet", "max_hops"}},
  };
  if (auto f = flat.find(key); f != flat.end())
    return set_option(file, f->second.first, f->second.first, f->second.second, value, config, types);
  if (key == "enable_failover") return read_scalar(file, value, key, config.enable_failover);
  if (key == "failover_timeout_sec") {
    std::uint64_t s = 0;
    if (auto r = read_scalar(file, value, key, s); !r) return r;
    if (s == 0 || s > 3600) return std::unexpected(where(file, value, key) + " must be between 1 and 3600");
    config.failover_timeout_ms = s * 1000;
    return Result{};
  }
  if (key == "max_retry_attempts") {
    if (auto r = read_scalar(file, value, key, config.max_retry_attempts); !r) return r;
    if (config.max_retry_attempts < 0 || config.max_retry_attempts > 100)
      return std::unexpected(where(file, value, key) + " must be between 0 and 100");
    return Result{};
  }
  if (key == "transport_priority") {
    static const std::set<std::string> names = {"htx", "ble",  "mesh",      "betanet", "bitchat",
                                                "tcp", "quic", "websocket", "webrtc"};
    if (!value.IsSequence())
      return std::unexpected(where(file, value, key) + " must be a list of transport names");
    std::vector<std::string> order;
    for (const auto& item : value) {
      std::string name;
      if (auto r = read_scalar(file, item, key, name); !r) return r;
      if (!names.contains(name))
        return std::unexpected(
            where(file, item, key) + ": '" + name +
            "' is not a transport (htx, ble, mesh, betanet, bitchat, tcp, quic, websocket, webrtc)");
      order.push_back(name);
    }
    config.transport_priority = std::move(order);
    return Result{};
  }
  return std::nullopt;
}

}  // namespace hyphae
