// The API server's configuration keys: defaults, values, and the errors that name the key.
#include <gtest/gtest.h>

#include <fstream>

#include "node/config.hpp"

namespace hyphae {
namespace {

std::expected<void, std::string> load(const std::string& name, const std::string& text, NodeConfig& config) {
  auto path = std::filesystem::temp_directory_path() / ("hyphae-api-config-test-" + name + ".yaml");
  std::ofstream(path) << text;
  auto r = load_config_file(path, config);
  std::filesystem::remove(path);
  return r;
}

TEST(ApiConfig, DefaultsAreBounded) {
  NodeConfig config;
  EXPECT_EQ(config.api_max_connections, 256u);
  EXPECT_EQ(config.api_timeout_ms, 30000u);
  EXPECT_EQ(config.api_ws_queue_bytes, 16u << 20);
  EXPECT_TRUE(config.api_allowed_hosts.empty());
}

TEST(ApiConfig, LoadsTheApiKeys) {
  NodeConfig config;
  auto r = load("ok",
                "api_max_connections: 8\napi_timeout_ms: 200\napi_ws_queue_bytes: 65536\n"
                "api_allowed_hosts: [Hyphae.LAN, 192.168.1.20]\n",
                config);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(config.api_max_connections, 8u);
  EXPECT_EQ(config.api_timeout_ms, 200u);
  EXPECT_EQ(config.api_ws_queue_bytes, 65536u);
  EXPECT_EQ(config.api_allowed_hosts, (std::vector<std::string>{"hyphae.lan", "192.168.1.20"}));
}

TEST(ApiConfig, RefusesValuesThatRemoveTheBound) {
  for (const auto& [text, key] : std::vector<std::pair<std::string, std::string>>{
           {"api_max_connections: 0\n", "api_max_connections"},
           {"api_timeout_ms: 0\n", "api_timeout_ms"},
           {"api_ws_queue_bytes: 10\n", "api_ws_queue_bytes"},
           {"api_allowed_hosts: evil.example\n", "api_allowed_hosts"},
           {"api_allowed_hosts: [\"a b\"]\n", "api_allowed_hosts"}}) {
    NodeConfig config;
    auto r = load("bad", text, config);
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error().find("key '" + key + "'"), std::string::npos) << r.error();
  }
}

}  // namespace
}  // namespace hyphae
