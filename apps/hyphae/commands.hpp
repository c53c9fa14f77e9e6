// The `hyphae` binary's subcommands: each registers itself on the CLI11 app and runs when chosen.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <string>

#include "api/client.hpp"

namespace hyphae::cli {

struct Common {
  std::filesystem::path data_dir;  // --data
  bool json = false;               // --json
};

std::filesystem::path default_data_dir();

// A client of the node running on common.data_dir (throws with a hint when none is running), and
// a response's body, or a std::runtime_error with the node's error message for a 4xx/5xx.
ApiClient connect_to_node(const Common& common);
nlohmann::json checked(const ApiResponse& response);

void add_id_command(CLI::App& app, Common& common);
void add_node_command(CLI::App& app, Common& common);
void add_client_commands(CLI::App& app, Common& common);
void add_find_command(CLI::App& app, Common& common);      // `hyphae find PEERID`
void add_registry_command(CLI::App& app, Common& common);  // `hyphae registry`
void add_signal_command(CLI::App& app, Common& common);    // `hyphae signal`
void add_mixnode_command(CLI::App& app, Common& common);   // `hyphae mixnode`
void add_demo_command(CLI::App& app, Common& common);
void add_mesh_commands(CLI::App& app, Common& common);
void add_file_commands(CLI::App& app, Common& common);  // `hyphae send-file`, `hyphae files`
void add_app_command(CLI::App& app, Common& common);    // `hyphae app`

// Writes `port` to `port_file` (if any), waits for SIGINT or SIGTERM, calls `stop`, then `wait`
// (which returns once the server's threads are done).
void serve_until_signal(const std::string& what, std::uint16_t port, const std::string& port_file,
                        const std::function<void()>& stop, const std::function<void()>& wait);

// The path of this executable (for the demo, which starts nodes as child processes).
std::filesystem::path self_executable();

}  // namespace hyphae::cli
