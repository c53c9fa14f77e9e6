#include "node/config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

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
  EXPECT_NE(hops.find(":3: key 'transport.bitchat.max_hops' must be an integer between 1 and 7"),
            std::string::npos)
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

// timestamp_window_s is multiplied by 1000: values whose product wraps around used to load as a tiny
// (or zero) window.
TEST(Config, RejectsTimestampWindowsThatWouldOverflow) {
  NodeConfig config;
  auto huge = load_config_file(write_temp("window", "\ntimestamp_window_s: 18446744073709552\n"), config);
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().find(":2: key 'timestamp_window_s' must be between 0 and 604800"), std::string::npos)
      << huge.error();
  EXPECT_EQ(config.timestamp_window_ms, NodeConfig{}.timestamp_window_ms);
  auto week = load_config_file(write_temp("week", "timestamp_window_s: 604800\n"), config);
  ASSERT_TRUE(week) << week.error();
  EXPECT_EQ(config.timestamp_window_ms, 604'800'000u);
}

TEST(Config, UncommittedInboundCapAndCommitDelayAreBounded) {
  NodeConfig config;
  ASSERT_TRUE(load_config_file(
      write_temp("held", "max_uncommitted_inbound_bytes: 1048576\nstore_commit_delay_ms: 5\n"), config));
  EXPECT_EQ(config.max_uncommitted_inbound_bytes, 1048576u);
  EXPECT_EQ(config.store_commit_delay_ms, 5u);
  auto tiny = load_config_file(write_temp("tiny", "max_uncommitted_inbound_bytes: 4096\n"), config);
  ASSERT_FALSE(tiny);
  EXPECT_NE(tiny.error().find("key 'max_uncommitted_inbound_bytes' must be at least 65536"),
            std::string::npos)
      << tiny.error();
  auto slow = load_config_file(write_temp("slow", "store_commit_delay_ms: 60000\n"), config);
  ASSERT_FALSE(slow);
  EXPECT_NE(slow.error().find("key 'store_commit_delay_ms' must be at most 10000"), std::string::npos)
      << slow.error();
}

// A mapping or list where a single value belongs (a key, a peer id or address, a seed section's
// key) used to escape as a YAML::TypedBadConversion exception; it must be an error naming the file,
// the line and the key like every other.
TEST(Config, NonScalarValuesAreErrorsNamingTheKeyAndLine) {
  auto error_of = [](const std::string& name, const std::string& yaml) {
    NodeConfig config;
    std::expected<void, std::string> r;
    EXPECT_NO_THROW(r = load_config_file(write_temp(name, yaml), config)) << yaml;
    return r ? std::string("<loaded>") : r.error();
  };
  const std::string file = (std::filesystem::temp_directory_path() / "hyphae-config-test-").string();
  struct Case {
    std::string name, yaml, expected;
  };
  const std::vector<Case> cases = {
      {"ns-key", "listen: 127.0.0.1:1\n[a, b]: 1\n", ":2: key '<top level>' must be a single value"},
      {"ns-id", "peers:\n  - id: {x: 1}\n", ":2: key 'peers.id' must be a single value"},
      {"ns-addr", "peers:\n  - id: p\n    addresses:\n      - [1, 2]\n",
       ":4: key 'peers.addresses' must be a single value"},
      {"ns-addrs", "peers:\n  - id: p\n    addresses: {a: 1}\n", ":3: key 'peers.addresses' must be a list"},
      {"ns-qos", "qos:\n  {a: 1}: 2\n", ":2: key 'qos' must be a single value"},
      {"ns-power", "power:\n  [x]: 2\n", ":2: key 'power' must be a single value"},
      {"ns-transport", "transport:\n  [tcp]: {}\n", ":2: key 'transport' must be a single value"},
      {"ns-option", "transport:\n  tcp:\n    [listen]: x\n",
       ":3: key 'transport.tcp' must be a single value"},
      {"ns-caps", "transport:\n  tcp:\n    caps:\n      [x]: 1\n",
       ":4: key 'transport.tcp.caps' must be a single value"},
      {"ns-routing", "routing:\n  {a: b}: 1\n", ":2: key 'routing' must be a single value"},
      {"ns-security", "security:\n  [a]: true\n", ":2: key 'security' must be a single value"},
      {"ns-value", "data_dir: {a: 1}\n", ":1: key 'data_dir' must be a single value"},
      {"ns-nan", "power:\n  battery: .nan\n", ":2: key 'power.battery' must be between 0 and 1"},
      {"ns-nan-seconds", "routing:\n  route_timeout: .nan\n",
       ":2: key 'routing.route_timeout' must be between"},
  };
  for (const auto& c : cases) {
    auto error = error_of(c.name, c.yaml);
    EXPECT_NE(error.find(file + c.name + ".yaml" + c.expected), std::string::npos)
        << c.yaml << " -> " << error;
  }
  EXPECT_EQ(error_of("ns-no-addresses", "peers:\n  - id: p\n    addresses:\n"), "<loaded>");  // none
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
