// `hyphae id` and `hyphae node`: the identity and the daemon.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "api/http_api.hpp"
#include "commands.hpp"
#include "core/identity.hpp"
#include "node/node.hpp"

namespace hyphae::cli {

void add_id_command(CLI::App& app, Common& common) {
  auto* cmd = app.add_subcommand("id", "print this node's PeerId (creates the identity if missing)");
  cmd->callback([&common] {
    std::filesystem::create_directories(common.data_dir);
    auto identity = Identity::load_or_create(common.data_dir);
    if (!identity) throw std::runtime_error("identity: " + identity.error().message());
    if (common.json)
      std::cout << nlohmann::json{{"peer_id", identity->peer_id().to_string()}}.dump() << "\n";
    else
      std::cout << identity->peer_id().to_string() << "\n";
  });
}

namespace {

// Writes DIR/node.json atomically so clients find the API port.
void write_node_info(const std::filesystem::path& dir, const nlohmann::json& info) {
  auto tmp = dir / "node.json.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << info.dump(2) << "\n";
  }
  std::filesystem::rename(tmp, dir / "node.json");
}

}  // namespace

void add_node_command(CLI::App& app, Common& common) {
  auto* cmd = app.add_subcommand("node", "run the node daemon in the foreground");
  struct Options {
    std::string config_file, listen, api_listen, log_level;
    std::string registry_url, registry_network, registry_token, registry_ca_file, role;
    bool no_hole_punching = false;
    std::vector<std::string> peers;
  };
  auto opts = std::make_shared<Options>();
  cmd->add_option("--config", opts->config_file, "YAML configuration file (see docs/configuration.md)");
  cmd->add_option("--listen", opts->listen, "peer listener host:port (default 127.0.0.1:0)");
  cmd->add_option("--api-listen", opts->api_listen, "HTTP API host:port (default 127.0.0.1:0)");
  cmd->add_option("--peer", opts->peers, "a peer to connect to, PEERID@host:port (repeatable)");
  cmd->add_option("--log-level", opts->log_level, "trace, debug, info, warn, error");
  cmd->add_option("--registry", opts->registry_url,
                  "a peer registry to announce to and look peers up in (http(s)://host:port)");
  cmd->add_option("--network", opts->registry_network, "the registry network (default \"default\")");
  cmd->add_option("--registry-token", opts->registry_token,
                  "the registry's bearer token for that network (or $HYPHAE_REGISTRY_TOKEN)");
  cmd->add_option("--registry-ca", opts->registry_ca_file, "PEM certificates to trust for an https registry");
  cmd->add_option("--role", opts->role,
                  "basic (default), relay or super_peer: what this node's record offers")
      ->check(CLI::IsMember({"basic", "relay", "super_peer"}));
  cmd->add_flag("--no-hole-punching", opts->no_hole_punching,
                "keep relayed sessions on their relay (no direct connection attempts)");
  cmd->callback([&common, opts] {
    NodeConfig config;
    config.data_dir = common.data_dir;
    if (!opts->config_file.empty()) {
      auto loaded = load_config_file(opts->config_file, config);
      if (!loaded) throw std::runtime_error("config: " + loaded.error());
      if (config.data_dir.empty()) config.data_dir = common.data_dir;
    }
    if (!opts->listen.empty()) config.listen = opts->listen;
    if (!opts->api_listen.empty()) config.api_listen = opts->api_listen;
    if (!opts->log_level.empty()) config.log_level = opts->log_level;
    if (!opts->role.empty()) config.role = opts->role;
    if (opts->no_hole_punching) config.hole_punching = false;
    if (!opts->registry_url.empty()) config.registry_url = opts->registry_url;
    if (!opts->registry_network.empty()) config.registry_network = opts->registry_network;
    if (!opts->registry_token.empty()) config.registry_token = opts->registry_token;
    if (config.registry_token.empty())
      if (const char* env = std::getenv("HYPHAE_REGISTRY_TOKEN")) config.registry_token = env;
    if (!opts->registry_ca_file.empty()) config.registry_ca_file = opts->registry_ca_file;
    for (const auto& p : opts->peers) {
      auto at = p.find('@');
      if (at == std::string::npos) throw std::runtime_error("--peer must be PEERID@host:port");
      config.peers.push_back({p.substr(0, at), {p.substr(at + 1)}});
    }
    spdlog::set_level(spdlog::level::from_str(config.log_level));
    spdlog::set_pattern("%H:%M:%S.%e %^%l%$ [%n] %v");

    boost::asio::io_context io;
    auto node = Node::create(io.get_executor(), config);
    if (!node) throw std::runtime_error(node.error());
    auto token = load_or_create_api_token(config.data_dir.string());
    ApiServer api(**node, token);
    std::error_code failure;
    boost::asio::post((*node)->executor(), [&] {
      if (auto ec = (*node)->start()) {
        failure = ec;
        io.stop();
        return;
      }
      if (auto ec = api.start(config.api_listen)) {
        failure = ec;
        io.stop();
        return;
      }
      std::string host = config.api_listen.substr(0, config.api_listen.rfind(':'));
      write_node_info(config.data_dir,
                      {{"peer_id", (*node)->peer_id().to_string()},
                       {"pid", ::getpid()},
                       {"listen_port", (*node)->listen_port()},
                       {"address", "/ip4/127.0.0.1/tcp/" + std::to_string((*node)->listen_port())},
                       {"api_host", host},
                       {"api_port", api.port()}});
      spdlog::info("API on http://{}:{} (token in {})", host, api.port(),
                   (config.data_dir / "api.token").string());
    });
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int sig) {
      spdlog::info("signal {}: stopping", sig);
      boost::asio::post((*node)->executor(), [&] {
        api.stop();
        (*node)->stop();
        io.stop();
      });
    });
    io.run();
    if (failure) throw std::runtime_error("cannot start: " + failure.message());
    std::error_code ec;
    std::filesystem::remove(config.data_dir / "node.json", ec);
  });
}

}  // namespace hyphae::cli
