// hyphae: one binary for the node daemon, its CLI and the demo network.
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "commands.hpp"
#include "util/allocator_tuning.hpp"

namespace hyphae::cli {

std::filesystem::path default_data_dir() {
  if (const char* env = std::getenv("HYPHAE_DATA")) return env;
  if (const char* home = std::getenv("HOME")) return std::filesystem::path(home) / ".hyphae";
  return ".hyphae";
}

std::filesystem::path self_executable() {
  return std::filesystem::read_symlink("/proc/self/exe");
}

}  // namespace hyphae::cli

int main(int argc, char** argv) {
  using namespace hyphae::cli;
  hyphae::tune_allocator();
  CLI::App app{
      "Hyphae: a peer-to-peer messaging node. Messages are signed, encrypted and kept on disk until "
      "the peer acknowledges them."};
  app.require_subcommand(1);
  Common common;
  common.data_dir = default_data_dir();
  app.add_option("--data", common.data_dir, "node data directory (default $HYPHAE_DATA or ~/.hyphae)");
  app.add_flag("--json", common.json, "machine-readable JSON output");
  add_id_command(app, common);
  add_node_command(app, common);
  add_client_commands(app, common);
  add_find_command(app, common);
  add_registry_command(app, common);
  add_signal_command(app, common);
  add_mixnode_command(app, common);
  add_mesh_commands(app, common);
  add_file_commands(app, common);
  add_app_command(app, common);
  add_demo_command(app, common);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
