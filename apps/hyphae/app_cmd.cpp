// `hyphae app`: prints a one-time login URL for the running node's web app (messenger and
// control panel). Opening it sets the session cookie; the browser never sees the API token.
#include <iostream>

#include "commands.hpp"

namespace hyphae::cli {

void add_app_command(CLI::App& app, Common& common) {
  auto* cmd =
      app.add_subcommand("app", "print a one-time login URL for the node's web app (valid 5 minutes)");
  cmd->callback([&common] {
    auto client = connect_to_node(common);
    auto body = checked(client.request("POST", "/v1/app/login", nlohmann::json::object()));
    if (common.json) {
      std::cout << body.dump() << "\n";
      return;
    }
    std::cout << "Open the web app (this link works once, for 5 minutes):\n\n    " << body.value("url", "")
              << "\n";
  });
}

}  // namespace hyphae::cli
