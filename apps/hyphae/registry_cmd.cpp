// `hyphae registry`: runs the registry server; `hyphae registry token create --network N` issues
// a bearer token for a network (printed once; only its hash is stored).
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "core/clock.hpp"
#include "registry/registry_server.hpp"

namespace hyphae::cli {

void add_registry_command(CLI::App& app, Common& common) {
  auto* cmd = app.add_subcommand("registry", "run the peer registry server (docs/registry.md)");
  auto opts = std::make_shared<registry::ServerOptions>();
  auto port_file = std::make_shared<std::string>();
  auto max_ttl_s = std::make_shared<std::uint64_t>(3600);
  cmd->add_option("--listen", opts->listen, "host:port to serve on (default 127.0.0.1:8470; port 0: any)");
  cmd->add_option("--db", opts->db_url, "sqlite:PATH, PATH, or postgresql://user:pass@host:port/db");
  cmd->add_option("--cert", opts->cert_file, "PEM certificate chain: serve HTTPS (with --key)");
  cmd->add_option("--key", opts->key_file, "PEM private key of the certificate");
  cmd->add_option("--threads", opts->threads, "worker threads, each with a database connection (default 2)");
  cmd->add_option("--max-ttl", *max_ttl_s, "seconds an announcement lives at most (default 3600)");
  cmd->add_option("--rate", opts->service.requests_per_second, "requests per second per token (default 200)");
  cmd->add_option("--burst", opts->service.burst,
                  "requests a token may make at once before --rate applies (default 400)");
  cmd->add_option("--port-file", *port_file, "write the bound port to this file once listening");
  cmd->add_option("--mix-identity", opts->mix_identity_dir,
                  "keep a mix directory for BetaNet, signing topologies with the identity in this directory");
  auto mix_epoch_s = std::make_shared<std::uint64_t>(3600);
  cmd->add_option("--mix-epoch", *mix_epoch_s, "seconds a mix key epoch lasts (default 3600)");

  auto* token = cmd->add_subcommand("token", "manage the bearer tokens of networks");
  auto* create = token->add_subcommand(
      "create", "issue a token for a network: hyphae registry token create --network N");
  auto network = std::make_shared<std::string>();
  create->add_option("--network", *network, "the network the token may announce in and look up")->required();
  create->add_option("--db", opts->db_url, "the registry's database (as for the server)");
  create->callback([&common, opts, network] {
    if (!registry::RegistryService::valid_network(*network))
      throw std::runtime_error("a network name is 1 to 64 of A-Z a-z 0-9 . _ -");
    auto db = registry::open_registry_db(opts->db_url);
    const auto text = registry::RegistryService::new_token();
    db->add_token(*network, registry::RegistryService::hash_token(text), SystemClock().wall_ms());
    if (common.json)
      std::cout << nlohmann::json{{"network", *network}, {"token", text}}.dump() << "\n";
    else
      std::cout << text << "\n";
  });
  token->require_subcommand(1);

  cmd->callback([cmd, opts, port_file, max_ttl_s, mix_epoch_s] {
    if (cmd->got_subcommand("token")) return;
    opts->service.max_ttl_ms = *max_ttl_s * 1000;
    opts->mix_epoch_ms = *mix_epoch_s * 1000;
    registry::RegistryServer server(*opts, spdlog::default_logger());
    if (auto started = server.start(); !started) throw std::runtime_error(started.error());
    serve_until_signal(
        "registry", server.port(), *port_file, [&] { server.stop(); }, [&] { server.run(); });
  });
}

}  // namespace hyphae::cli
