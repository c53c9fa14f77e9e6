// TransportRegistry, loggers and capability options (see transport.hpp).
#include "transport/transport.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "util/option_text.hpp"

namespace hyphae::transport {

namespace {

template <typename E, std::size_t N>
std::expected<E, std::string> parse_enum(const std::string& key, const std::string& v,
                                         const std::array<std::string_view, N>& names) {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == v) return static_cast<E>(i);
  std::string all;
  for (auto n : names) all += (all.empty() ? "" : ", ") + std::string(n);
  return std::unexpected(key + ": '" + v + "' is not one of " + all);
}
}  // namespace

std::error_code Transport::punch(const PeerId&, const std::string&) {
  return make_error_code(Errc::unsupported);
}

std::error_code Transport::broadcast(std::string_view, ByteView) {
  return Errc::unsupported;
}

std::shared_ptr<spdlog::logger> logger_for(const TransportContext& context) {
  if (context.log) return context.log;
  const auto& sinks = spdlog::default_logger()->sinks();
  auto log = std::make_shared<spdlog::logger>("transport " + context.name, sinks.begin(), sinks.end());
  log->set_level(spdlog::default_logger()->level());
  return log;
}

void TransportRegistry::add(TransportType type) {
  auto name = type.type;
  types_[std::move(name)] = std::move(type);
}

void TransportRegistry::add(std::string type, TransportFactory factory) {
  add(TransportType{type, "", OptionSchema{}, std::move(factory)});
}

bool TransportRegistry::has(std::string_view type) const {
  return types_.find(type) != types_.end();
}

const TransportType* TransportRegistry::find(std::string_view type) const {
  auto it = types_.find(type);
  return it == types_.end() ? nullptr : &it->second;
}

std::vector<std::string> TransportRegistry::types() const {
  std::vector<std::string> out;
  for (const auto& [type, t] : types_) out.push_back(type);
  return out;
}

std::expected<std::unique_ptr<Transport>, std::string> TransportRegistry::make(
    std::string_view type, TransportContext context) const {
  const auto* t = find(type);
  if (!t) {
    std::string known;
    for (const auto& n : types()) known += (known.empty() ? "" : ", ") + n;
    return std::unexpected("transport " + context.name + ": unknown type '" + std::string(type) +
                           "' (known: " + known + ")");
  }
  if (!t->factory)
    return std::unexpected("transport " + context.name + ": type '" + std::string(type) +
                           "' is known to the configuration but not implemented in this build");
  if (!t->options.specs().empty())
    if (auto ok = t->options.check_all(context.options); !ok)
      return std::unexpected("transport " + context.name + ": " + ok.error());
  return t->factory(std::move(context));
}

const TransportRegistry& default_registry() {
  static const TransportRegistry registry = builtin_registry();
  return registry;
}

std::expected<router::Capabilities, std::string> apply_capability_options(
    router::Capabilities c, const std::map<std::string, std::string>& options) {
  static constexpr std::array<std::string_view, 3> kBattery{"low", "medium", "high"};
  static constexpr std::array<std::string_view, 4> kCost{"none", "low", "medium", "high"};
  for (const auto& [key, value] : options) {
    if (!key.starts_with("caps.")) continue;
    const std::string field = key.substr(5);
    std::expected<void, std::string> r;
    auto set_bool = [&](bool& target) {
      auto v = parse_bool(key, value);
      if (!v) return r = std::unexpected(v.error()), void();
      target = *v;
    };
    auto set_u32 = [&](std::uint32_t& target, std::uint32_t min, std::uint32_t max) {
      auto v = parse_number<std::uint32_t>(key, value, min, max);
      if (!v) return r = std::unexpected(v.error()), void();
      target = *v;
    };
    if (field == "unicast")
      set_bool(c.unicast);
    else if (field == "broadcast")
      set_bool(c.broadcast);
    else if (field == "multicast")
      set_bool(c.multicast);
    else if (field == "offline_capable")
      set_bool(c.offline_capable);
    else if (field == "requires_internet")
      set_bool(c.requires_internet);
    else if (field == "uses_cellular")
      set_bool(c.uses_cellular);
    else if (field == "uses_wifi")
      set_bool(c.uses_wifi);
    else if (field == "provides_encryption")
      set_bool(c.provides_encryption);
    else if (field == "forward_secrecy")
      set_bool(c.forward_secrecy);
    else if (field == "authenticated_sessions")
      set_bool(c.authenticated_sessions);
    else if (field == "multi_hop")
      set_bool(c.multi_hop);
    else if (field == "store_and_forward")
      set_bool(c.store_and_forward);
    else if (field == "max_message_size")
      set_u32(c.max_message_size, 1, 1u << 30);
    else if (field == "typical_latency_ms")
      set_u32(c.typical_latency_ms, 0, 3'600'000);
    else if (field == "mtu")
      set_u32(c.mtu, 64, 1u << 20);
    else if (field == "bandwidth_bps") {
      auto v = parse_number<std::uint64_t>(key, value, 1, 1'000'000'000'000ull);
      if (!v) return std::unexpected(v.error());
      c.bandwidth_bps = *v;
    } else if (field == "anonymity_level") {
      std::uint32_t level = 0;
      set_u32(level, 0, 3);
      c.anonymity_level = static_cast<std::uint8_t>(level);
    } else if (field == "max_hops") {
      std::uint32_t hops = 0;
      set_u32(hops, 1, 255);
      c.max_hops = static_cast<std::uint8_t>(hops);
    } else if (field == "battery_impact") {
      auto v = parse_enum<router::BatteryImpact>(key, value, kBattery);
      if (!v) return std::unexpected(v.error());
      c.battery_impact = *v;
    } else if (field == "data_cost") {
      auto v = parse_enum<router::DataCost>(key, value, kCost);
      if (!v) return std::unexpected(v.error());
      c.data_cost = *v;
    } else {
      return std::unexpected(key + ": unknown capability");
    }
    if (!r) return std::unexpected(r.error());
  }
  return c;
}

nlohmann::json capabilities_json(const router::Capabilities& c) {
  return {{"unicast", c.unicast},
          {"broadcast", c.broadcast},
          {"multicast", c.multicast},
          {"max_message_size", c.max_message_size},
          {"typical_latency_ms", c.typical_latency_ms},
          {"bandwidth_bps", c.bandwidth_bps},
          {"mtu", c.mtu},
          {"offline_capable", c.offline_capable},
          {"requires_internet", c.requires_internet},
          {"uses_cellular", c.uses_cellular},
          {"uses_wifi", c.uses_wifi},
          {"provides_encryption", c.provides_encryption},
          {"forward_secrecy", c.forward_secrecy},
          {"authenticated_sessions", c.authenticated_sessions},
          {"anonymity_level", c.anonymity_level},
          {"multi_hop", c.multi_hop},
          {"max_hops", c.max_hops},
          {"store_and_forward", c.store_and_forward},
          {"battery_impact", std::string(router::to_string(c.battery_impact))},
          {"data_cost", std::string(router::to_string(c.data_cost))},
          {"role", std::string(router::to_string(c.role()))}};
}

}  // namespace hyphae::transport
