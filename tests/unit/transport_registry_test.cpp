// TransportRegistry, capability options and the configuration of named transport instances.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <fstream>

#include "core/error.hpp"
#include "core/identity.hpp"
#include "node/config.hpp"
#include "transport/transport.hpp"

namespace hyphae {
namespace {

class NullSink : public transport::TransportSink {
 public:
  void on_session_up(transport::Transport&, const PeerId&, std::uint64_t) override {}
  void on_session_down(transport::Transport&, const PeerId&, std::uint64_t,
                       const transport::CloseReason&) override {}
  void on_record(transport::Transport&, const PeerId&, std::uint64_t, transport::RecordKind,
                 ByteView) override {}
  void on_drained(transport::Transport&, const PeerId&) override {}
  void on_availability(transport::Transport&, bool, const std::string&) override {}
  bool wants_session(transport::Transport&, const PeerId&) override { return false; }
};

transport::TransportContext context_for(boost::asio::io_context& io, const Identity& id, NullSink& sink,
                                        std::map<std::string, std::string> options) {
  return transport::TransportContext{.name = "lan",
                                     .options = std::move(options),
                                     .strand = boost::asio::make_strand(io.get_executor()),
                                     .identity = &id,
                                     .sink = &sink};
}

TEST(TransportRegistry, MakesTheBuiltinTcpMeshAndRefusesUnknownTypes) {
  boost::asio::io_context io;
  auto id = Identity::generate();
  NullSink sink;
  const auto& registry = transport::default_registry();
  EXPECT_TRUE(registry.has("tcp"));
  EXPECT_FALSE(registry.has("pigeon"));
  auto made = registry.make("tcp", context_for(io, id, sink, {{"listen", "127.0.0.1:0"}}));
  ASSERT_TRUE(made) << made.error();
  EXPECT_EQ((*made)->name(), "lan");
  EXPECT_EQ((*made)->type(), "tcp");
  EXPECT_FALSE((*made)->available());  // not started
  ASSERT_FALSE((*made)->start());
  EXPECT_TRUE((*made)->available());
  EXPECT_NE((*made)->listen_port(), 0);
  // A bad address for it is refused and nothing is kept.
  EXPECT_EQ((*made)->add_addresses(id.peer_id(), {"127.0.0.1:1", "nowhere"}),
            make_error_code(Errc::invalid_argument));
  (*made)->stop();
  EXPECT_FALSE((*made)->available());

  auto unknown = registry.make("pigeon", context_for(io, id, sink, {}));
  ASSERT_FALSE(unknown);
  // The known list names every registered type (other tests in this binary may add theirs).
  EXPECT_NE(unknown.error().find("unknown type 'pigeon' (known: "), std::string::npos) << unknown.error();
  EXPECT_NE(unknown.error().find("tcp, webrtc, websocket)"), std::string::npos) << unknown.error();
  auto bad_listen = registry.make("tcp", context_for(io, id, sink, {{"listen", "no port"}}));
  ASSERT_FALSE(bad_listen);
  EXPECT_NE(bad_listen.error().find("listen 'no port' is not host:port"), std::string::npos);
}

TEST(TransportRegistry, ANodesTransportsShareOneSessionIdSource) {
  transport::SessionIds ids;
  const auto a = ids.next();
  const auto b = ids.next();
  EXPECT_NE(a, 0u);
  EXPECT_GT(b, a);
  transport::SessionIds other;  // another node's: its own sequence
  EXPECT_EQ(other.next(), a);
}

TEST(TransportCapabilities, OptionsOverrideThePresetAndBadOnesNameTheKey) {
  auto caps = transport::apply_capability_options(router::Capabilities::direct_tcp_preset(),
                                                  {{"caps.requires_internet", "false"},
                                                   {"caps.offline_capable", "true"},
                                                   {"caps.typical_latency_ms", "400"},
                                                   {"caps.battery_impact", "high"},
                                                   {"caps.max_hops", "7"},
                                                   {"listen", "ignored: not a capability"}});
  ASSERT_TRUE(caps) << caps.error();
  EXPECT_FALSE(caps->requires_internet);
  EXPECT_TRUE(caps->offline_capable);
  EXPECT_EQ(caps->typical_latency_ms, 400u);
  EXPECT_EQ(caps->battery_impact, router::BatteryImpact::high);
  EXPECT_EQ(caps->max_hops, 7);
  EXPECT_EQ(caps->role(), router::Role::offline_mesh);

  auto unknown = transport::apply_capability_options({}, {{"caps.teleport", "true"}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error(), "caps.teleport: unknown capability");
  auto not_bool = transport::apply_capability_options({}, {{"caps.broadcast", "maybe"}});
  ASSERT_FALSE(not_bool);
  EXPECT_EQ(not_bool.error(), "caps.broadcast: 'maybe' is not a boolean");
  auto out_of_range = transport::apply_capability_options({}, {{"caps.anonymity_level", "9"}});
  ASSERT_FALSE(out_of_range);
  EXPECT_NE(out_of_range.error().find("not a number in [0, 3]"), std::string::npos) << out_of_range.error();
  auto bad_enum = transport::apply_capability_options({}, {{"caps.data_cost", "free"}});
  ASSERT_FALSE(bad_enum);
  EXPECT_NE(bad_enum.error().find("is not one of none, low, medium, high"), std::string::npos);
}

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / ("hyphae-transport-config-" + name + ".yaml");
  std::ofstream(path) << text;
  return path;
}

TEST(TransportConfig, NamedInstancesNeedATypeAndValidCapabilities) {
  NodeConfig config;
  auto ok = load_config_file(write_temp("ok",
                                        "optimize_for: latency\n"
                                        "device_type: desktop\n"
                                        "ack_timeout_ms: 250\n"
                                        "fault_injection: true\n"
                                        "transport:\n"
                                        "  lan:\n"
                                        "    type: tcp\n"
                                        "    listen: 0.0.0.0:7002\n"
                                        "    caps:\n"
                                        "      requires_internet: false\n"
                                        "      offline_capable: true\n"),
                             config);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(config.optimize_for, router::Optimize::latency);
  EXPECT_EQ(config.device_type, router::DeviceType::desktop);
  EXPECT_EQ(config.ack_timeout_ms, 250u);
  EXPECT_TRUE(config.fault_injection);
  const auto& lan = config.transports.at("lan").options;
  EXPECT_EQ(lan.at("type"), "tcp");
  EXPECT_EQ(lan.at("listen"), "0.0.0.0:7002");
  EXPECT_EQ(lan.at("caps.requires_internet"), "false");

  auto error_of = [](const std::string& name, const std::string& yaml) {
    NodeConfig c;
    auto r = load_config_file(write_temp(name, yaml), c);
    return r ? std::string() : r.error();
  };
  auto untyped = error_of("untyped", "transport:\n  lan:\n    listen: 127.0.0.1:1\n");
  EXPECT_NE(untyped.find(":2: key 'transport.lan' is not a known transport"), std::string::npos) << untyped;
  auto bad_type = error_of("type", "transport:\n  lan:\n    type: carrier-pigeon\n");
  // An unknown type is named as such (it is not checked against another type's rules).
  EXPECT_NE(bad_type.find(":3: key 'transport.lan.type': 'carrier-pigeon' is not a transport type (known: "
                          "betanet, bitchat, quic, tcp, webrtc, websocket)"),
            std::string::npos)
      << bad_type;
  // A named instance takes its type's options, checked by the schema its folder declares.
  auto bitchat_named =
      error_of("bitchat-named", "transport:\n  radio:\n    type: bitchat\n    max_known_peers: 3\n");
  EXPECT_NE(bitchat_named.find(":4: key 'transport.radio.max_known_peers' must be an integer between 16 and "
                               "1000000"),
            std::string::npos)
      << bitchat_named;
  NodeConfig ok_config;
  EXPECT_TRUE(load_config_file(
      write_temp("bitchat-bounds", "transport:\n  bitchat:\n    max_sender_buckets: 64\n"), ok_config));
  EXPECT_EQ(ok_config.transports.at("bitchat").options.at("max_sender_buckets"), "64");
  auto bad_caps = error_of("caps", "transport:\n  lan:\n    type: tcp\n    caps:\n      teleport: true\n");
  EXPECT_NE(bad_caps.find(":5: key 'transport.lan': caps.teleport: unknown capability"), std::string::npos)
      << bad_caps;
  auto bad_listen = error_of("listen", "transport:\n  lan:\n    type: tcp\n    listen: everywhere\n");
  EXPECT_NE(bad_listen.find("'transport.lan.listen' is not host:port"), std::string::npos) << bad_listen;
  auto bad_name = error_of("name", "transport:\n  \"a=b\":\n    type: tcp\n");
  EXPECT_NE(bad_name.find("is not a usable name"), std::string::npos) << bad_name;
  auto bad_opt = error_of("optimize", "optimize_for: vibes\n");
  EXPECT_NE(bad_opt.find(":1: key 'optimize_for' must be automatic, latency"), std::string::npos) << bad_opt;
  auto bad_ack = error_of("ack", "ack_timeout_ms: 1\n");
  EXPECT_NE(bad_ack.find("'ack_timeout_ms' must be between 10 and 3600000"), std::string::npos) << bad_ack;
  // A peer address may name its transport.
  NodeConfig peers;
  ASSERT_TRUE(
      load_config_file(write_temp("peers",
                                  "peers:\n  - id: 12D3KooWx\n    addresses: [\"lan=127.0.0.1:7002\", "
                                  "127.0.0.1:7001]\n"),
                       peers));
  EXPECT_EQ(peers.peers.at(0).addresses.at(0), "lan=127.0.0.1:7002");
  auto bad_peer = error_of("peer", "peers:\n  - id: x\n    addresses: [\"lan=nowhere\"]\n");
  EXPECT_NE(bad_peer.find("is not [transport=]host:port"), std::string::npos) << bad_peer;
}

}  // namespace
}  // namespace hyphae

namespace hyphae {
namespace {

TEST(PowerConfig, OverridesAndSysfsRootAreReadAndChecked) {
  NodeConfig config;
  auto path = std::filesystem::temp_directory_path() / "hyphae-power-config.yaml";
  std::ofstream(path) << "power:\n  battery: 0.42\n  charging: false\n  temperature_c: 41.5\n"
                      << "  sysfs_root: /tmp/fake-sys\n  poll_ms: 5000\n";
  auto r = load_config_file(path, config);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(config.battery_override, 0.42);
  EXPECT_EQ(config.charging_override, false);
  EXPECT_EQ(config.temperature_override_c, 41.5);
  EXPECT_EQ(config.power_sysfs_root, "/tmp/fake-sys");
  EXPECT_EQ(config.power_poll_ms, 5000u);
  std::ofstream(path) << "power:\n  battery: 42\n";
  NodeConfig bad;
  auto e = load_config_file(path, bad);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find(":2: key 'power.battery' must be between 0 and 1"), std::string::npos)
      << e.error();
  std::ofstream(path) << "power:\n  solar: true\n";
  auto u = load_config_file(path, bad);
  ASSERT_FALSE(u);
  EXPECT_NE(u.error().find("key 'power.solar' is not a known setting"), std::string::npos) << u.error();
}

}  // namespace
}  // namespace hyphae

namespace hyphae {
namespace {

// A toy transport type, declared the way a transport folder declares its own: a schema and a
// factory. Registering it is one line; the configuration then knows its options.
transport::TransportType toy_type() {
  using K = transport::OptionSpec::Kind;
  return {
      "toy",
      "a test transport",
      {{"type", K::choice, 0, 0, {"toy"}, "toy", "the type"},
       {"speed", K::integer, 1, 10, {}, "5", "how fast"}},
      [](transport::TransportContext) -> std::expected<std::unique_ptr<transport::Transport>, std::string> {
        return std::unexpected(std::string("toy transports do not run"));
      }};
}

TEST(TransportRegistry, ATypeBringsItsOptionsToTheConfigurationAndItsFactory) {
  auto types = transport::builtin_registry();
  types.add(toy_type());  // the one registration line
  NodeConfig config;
  auto ok = load_config_file(write_temp("toy-ok", "transport:\n  t1:\n    type: toy\n    speed: 7\n"), config,
                             types);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(config.transports.at("t1").options.at("speed"), "7");
  NodeConfig bad;
  auto refused = load_config_file(write_temp("toy-bad", "transport:\n  t1:\n    type: toy\n    speed: 70\n"),
                                  bad, types);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("key 'transport.t1.speed' must be an integer between 1 and 10"),
            std::string::npos)
      << refused.error();
  // Without the registration the same file names the type as unknown.
  NodeConfig plain;
  EXPECT_FALSE(
      load_config_file(write_temp("toy-ok", "transport:\n  t1:\n    type: toy\n    speed: 7\n"), plain));

  // Options from code are checked by make() too, and a type without a factory says so.
  boost::asio::io_context io;
  auto id = Identity::generate();
  NullSink sink;
  auto fast = types.make("toy", context_for(io, id, sink, {{"speed", "11"}}));
  ASSERT_FALSE(fast);
  EXPECT_NE(fast.error().find("speed must be an integer between 1 and 10"), std::string::npos)
      << fast.error();
  auto quic = types.make("quic", context_for(io, id, sink, {}));
  ASSERT_FALSE(quic);
  EXPECT_NE(quic.error().find("not implemented in this build"), std::string::npos) << quic.error();
  auto bitchat = types.make("bitchat", context_for(io, id, sink, {{"teleport", "yes"}}));
  ASSERT_FALSE(bitchat);
  EXPECT_NE(bitchat.error().find("teleport is not a known setting"), std::string::npos) << bitchat.error();
}

}  // namespace
}  // namespace hyphae
