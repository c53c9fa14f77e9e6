#include "node/config.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace hyphae {
namespace {

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / ("hyphae-config-test-" + name + ".yaml");
  std::ofstream(path) << text;
  return path;
}

TEST(Config, LoadsKnownKeys) {
  auto file = write_temp("ok",
                         "listen: 127.0.0.1:4001\ntimestamp_window_s: 30\nstore_synchronous: full\n"
                         "peers:\n  - id: 12D3KooWabc\n    addresses: [\"/ip4/127.0.0.1/tcp/4002\"]\n");
  NodeConfig config;
  auto r = load_config_file(file, config);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(config.listen, "127.0.0.1:4001");
  EXPECT_EQ(config.timestamp_window_ms, 30000u);
  EXPECT_TRUE(config.store_synchronous_full);
  ASSERT_EQ(config.peers.size(), 1u);
  EXPECT_EQ(config.peers[0].addresses[0], "/ip4/127.0.0.1/tcp/4002");
}

TEST(Config, ErrorsNameTheKeyAndLine) {
  NodeConfig config;
  auto unknown = load_config_file(write_temp("unknown", "listen: 127.0.0.1:1\nlisten_port: 5\n"), config);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find(":2:"), std::string::npos) << unknown.error();
  EXPECT_NE(unknown.error().find("listen_port"), std::string::npos) << unknown.error();
  auto bad_value = load_config_file(write_temp("bad", "\n\nmax_message_bytes: lots\n"), config);
  ASSERT_FALSE(bad_value);
  EXPECT_NE(bad_value.error().find(":3:"), std::string::npos) << bad_value.error();
  auto bad_sync = load_config_file(write_temp("sync", "store_synchronous: sometimes\n"), config);
  ASSERT_FALSE(bad_sync);
  EXPECT_NE(bad_sync.error().find("store_synchronous"), std::string::npos);
  auto syntax = load_config_file(write_temp("syntax", "listen: [unclosed\n"), config);
  EXPECT_FALSE(syntax);
}

TEST(Config, ParsesAddresses) {
  std::string host;
  std::uint16_t port = 0;
  EXPECT_TRUE(parse_address("127.0.0.1:4001", host, port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 4001);
  EXPECT_TRUE(parse_address("/ip4/10.0.0.2/tcp/9/p2p/12D3KooWabc", host, port));
  EXPECT_EQ(host, "10.0.0.2");
  EXPECT_EQ(port, 9);
  EXPECT_TRUE(parse_address("[::1]:80", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(parse_address("nowhere", host, port));
  EXPECT_FALSE(parse_address("host:99999", host, port));
  EXPECT_FALSE(parse_address("/ip4/1.2.3.4/udp/5", host, port));
}

}  // namespace
}  // namespace hyphae
