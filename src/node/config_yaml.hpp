// Internal to src/node/config*.cpp: YAML helpers that name the file, line and key in every error.
#pragma once

#include <yaml-cpp/yaml.h>

#include <expected>
#include <filesystem>
#include <optional>
#include <string>

#include "transport/transport.hpp"

namespace hyphae::config_yaml {

inline std::string where(const std::filesystem::path& file, const YAML::Node& node, const std::string& key) {
  return file.string() + ":" + std::to_string(node.Mark().line + 1) + ": key '" + key + "'";
}

template <typename T>
std::expected<void, std::string> read_scalar(const std::filesystem::path& file, const YAML::Node& node,
                                             const std::string& key, T& out) {
  try {
    if (!node.IsScalar()) return std::unexpected(where(file, node, key) + " must be a single value");
    out = node.as<T>();
    return {};
  } catch (const YAML::Exception&) {
    return std::unexpected(where(file, node, key) + " has an invalid value");
  }
}

// The text of a node that must be a single value: a mapping key (`key` names the mapping) or a list
// item. A mapping or list there is an error naming the file, line and key, not an exception.
inline std::expected<std::string, std::string> scalar_text(const std::filesystem::path& file,
                                                           const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) return std::unexpected(where(file, node, key) + " must be a single value");
  return node.Scalar();
}

}  // namespace hyphae::config_yaml

namespace hyphae {
struct NodeConfig;
// Applies one top-level key of the flat TransportConfig keys or the P2P configuration file (p2p_config.yaml)
// (config_p2p.cpp); nullopt when `key` is not one of them.
std::optional<std::expected<void, std::string>> apply_p2p_key(const std::filesystem::path& file,
                                                              const std::string& key, const YAML::Node& value,
                                                              NodeConfig& config,
                                                              const transport::TransportRegistry& types);
}  // namespace hyphae
