// `hyphae signal`: runs the signaling server (docs/signaling.md).
#include <spdlog/spdlog.h>

#include <fstream>

#include "commands.hpp"
#include "signaling/signal_server.hpp"

namespace hyphae::cli {

void add_signal_command(CLI::App& app, Common&) {
  auto* cmd =
      app.add_subcommand("signal", "run the signaling server: WebSocket and Socket.IO (docs/signaling.md)");
  auto opts = std::make_shared<signaling::SignalServerOptions>();
  auto port_file = std::make_shared<std::string>();
  cmd->add_option("--listen", opts->listen, "host:port to serve on (default 127.0.0.1:8471; port 0: any)");
  cmd->add_option("--max-connections", opts->core.max_connections,
                  "devices connected at once (default 10000)");
  cmd->add_option("--rate", opts->core.messages_per_second,
                  "messages per second per connection (default 50)");
  cmd->add_option("--port-file", *port_file, "write the bound port to this file once listening");
  cmd->callback([opts, port_file] {
    // The logging registry exists before the server's thread logs (its first use builds it; built
    // inside spdlog's library, that step is invisible to ThreadSanitizer).
    spdlog::default_logger();
    signaling::SignalServer server(*opts);
    if (auto started = server.start(); !started) throw std::runtime_error(started.error());
    serve_until_signal(
        "signaling server", server.port(), *port_file, [&] { server.stop(); }, [&] { server.run(); });
  });
}

}  // namespace hyphae::cli
