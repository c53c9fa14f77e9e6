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

// Seed 002's p2p_config.yaml, verbatim, plus seed 001's TransportConfig fields.
TEST(Config, LoadsTheSeedsConfigurationKeys) {
  auto file = write_temp("seeds", R"(# p2p_config.yaml
transport:
  bitchat:
    enabled: true
    scan_interval: 5.0
    advertisement_interval: 10.0
    max_hops: 7
    battery_threshold: 0.20

  betanet:
    enabled: true
    port: 8888
    compression: lz4
    encryption: aes-256-gcm
    max_frame_size: 65536

  quic:
    enabled: true
    port: 443
    max_streams: 100
    idle_timeout: 60
    keep_alive: 30

routing:
  discovery_interval: 30.0
  route_timeout: 300.0
  max_route_hops: 10
  load_balance: true

security:
  encryption_required: true
  authentication_required: true
  replay_protection: true
  forward_secrecy: true

betanet_privacy_mode: true
bitchat_hop_limit: 5
transport_priority: [htx, ble, mesh]
enable_failover: true
failover_timeout_sec: 10
max_retry_attempts: 3
)");
  NodeConfig config;
  auto r = load_config_file(file, config);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(config.transports.at("bitchat").enabled);
  EXPECT_EQ(config.transports.at("bitchat").options.at("max_hops"), "5");  // seed 001's hop limit came later
  EXPECT_EQ(config.transports.at("betanet").options.at("compression"), "lz4");
  EXPECT_EQ(config.transports.at("quic").options.at("port"), "443");
  EXPECT_EQ(config.route_timeout_ms, 300'000u);
  EXPECT_EQ(config.discovery_interval_ms, 30'000u);
  EXPECT_EQ(config.max_route_hops, 10);
  EXPECT_EQ(config.transport_priority, (std::vector<std::string>{"htx", "ble", "mesh"}));
  EXPECT_EQ(config.failover_timeout_ms, 10'000u);
  EXPECT_EQ(config.max_retry_attempts, 3);
}

TEST(Config, SeedKeyErrorsNameTheFullKeyAndLine) {
  auto error_of = [](const std::string& name, const std::string& yaml) {
    NodeConfig config;
    auto r = load_config_file(write_temp(name, yaml), config);
    return r ? std::string() : r.error();
  };
  auto hops = error_of("hops", "transport:\n  bitchat:\n    max_hops: 9\n");
  EXPECT_NE(hops.find(":3: key 'transport.bitchat.max_hops' must be between 1 and 7"), std::string::npos)
      << hops;
  auto cipher = error_of("cipher", "transport:\n  betanet:\n    encryption: rot13\n");
  EXPECT_NE(cipher.find("transport.betanet.encryption' must be one of"), std::string::npos) << cipher;
  auto unknown_transport = error_of("carrier", "transport:\n  pigeon:\n    enabled: true\n");
  EXPECT_NE(unknown_transport.find(":2: key 'transport.pigeon' is not a known transport"), std::string::npos)
      << unknown_transport;
  auto unknown_option = error_of("option", "transport:\n  quic:\n    zero_rtt: true\n");
  EXPECT_NE(unknown_option.find("transport.quic.zero_rtt' is not a known setting"), std::string::npos);
  auto insecure = error_of("insecure", "security:\n  encryption_required: false\n");
  EXPECT_NE(insecure.find(":2: key 'security.encryption_required' cannot be turned off"), std::string::npos)
      << insecure;
  auto order = error_of("order", "transport_priority: [htx, carrier-pigeon]\n");
  EXPECT_NE(order.find("'carrier-pigeon' is not a transport"), std::string::npos) << order;
  auto retries = error_of("retries", "\nmax_retry_attempts: -1\n");
  EXPECT_NE(retries.find(":2: key 'max_retry_attempts' must be between 0 and 100"), std::string::npos)
      << retries;
  auto timeout = error_of("timeout", "routing:\n  route_timeout: never\n");
  EXPECT_NE(timeout.find(":2: key 'routing.route_timeout' has an invalid value"), std::string::npos)
      << timeout;
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
