// `hyphae mixnode`: a BetaNet mix node (docs/betanet.md).
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <thread>

#include "betanet/mix/mix_node.hpp"
#include "commands.hpp"

namespace hyphae::cli {

void add_mixnode_command(CLI::App& app, Common& common) {
  auto* cmd = app.add_subcommand("mixnode", "run a BetaNet mix node (Sphinx packets over HTX links)");
  auto opts = std::make_shared<mix::MixNodeOptions>();
  auto port_file = std::make_shared<std::string>();
  auto epoch_s = std::make_shared<double>(3600);
  cmd->add_option("--listen", opts->listen, "host:port for HTX links (default 127.0.0.1:0: any port)");
  cmd->add_option("--registry", opts->registry_url, "the registry's URL (http(s)://host:port)")->required();
  cmd->add_option("--registry-peer", opts->registry_peer,
                  "the registry's PeerId, which signs topologies (default: trusted on first use)");
  cmd->add_option("--token", opts->token, "the registry token")->required();
  cmd->add_option("--network", opts->network, "the registry network")->required();
  cmd->add_option("--layer", opts->layer, "the mix layer, 1 to 8 (default 1)")->check(CLI::Range(1, 8));
  cmd->add_option("--group", opts->group, "operator or AS group, for route diversity");
  cmd->add_option("--epoch", *epoch_s,
                  "seconds a key epoch lasts; the registry's --mix-epoch (default 3600)");
  cmd->add_option("--mean-delay-ms", opts->mix.mean_delay_ms, "mean Poisson mixing delay (default 50)");
  cmd->add_option("--loop-rate", opts->mix.loop_cover_per_s, "loop cover packets a second (default 0.5)");
  cmd->add_option("--drop-rate", opts->mix.drop_cover_per_s, "drop cover packets a second (default 0.5)");
  cmd->add_option("--max-held", opts->mix.max_held, "packets held for their delay at most (default 20000)");
  cmd->add_option("--status-file", opts->status_file, "write the counters here as JSON every second");
  cmd->add_option("--port-file", *port_file, "write the bound port to this file once listening");
  cmd->callback([&common, opts, port_file, epoch_s] {
    opts->data_dir = common.data_dir.string();
    opts->epoch_ms = static_cast<std::uint64_t>(*epoch_s * 1000);
    if (opts->epoch_ms < 1000) throw std::runtime_error("--epoch must be at least one second");
    boost::asio::io_context io;
    mix::MixNode node(io, *opts, spdlog::default_logger());
    if (auto started = node.start(); !started) throw std::runtime_error(started.error());
    auto guard = boost::asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    serve_until_signal(
        "mix node", node.port(), *port_file,
        [&] {
          node.stop();
          guard.reset();
        },
        [&] {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          io.stop();
          runner.join();
        });
  });
}

}  // namespace hyphae::cli
