// hyphae: one binary for the node daemon, its CLI and the demo network.
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "commands.hpp"

namespace hyphae::cli {

std::filesystem::path default_data_dir() {
  if (const char* env = std::getenv("HYPHAE_DATA")) return env;
  if (const char* home = std::getenv("HOME")) return std::filesystem::path(home) / ".hyphae";
  return ".hyphae";
}

std::filesystem::path self_executable() {
  return std::filesystem::read_symlink("/proc/self/exe");
}

namespace {

// Bulk traffic (file chunks, 64 KiB records) allocates and frees buffers of a few hundred KiB at a
// high rate. With glibc's defaults such buffers are mmap()ed, or the heap top is trimmed as soon as
// they are freed, so every new buffer faults its pages in again: a third of the receiving strand's
// time in a file transfer. Keep buffers up to 32 MiB on the heap and keep up to 128 MiB of free heap
// before returning it to the kernel. GLIBC_TUNABLES, when set, still wins.
void tune_allocator() {
  if (std::getenv("GLIBC_TUNABLES")) return;
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

}  // namespace

}  // namespace hyphae::cli

int main(int argc, char** argv) {
  using namespace hyphae::cli;
  tune_allocator();
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
