// Shared by the server commands (`hyphae registry`, `hyphae signal`): the port file and the wait
// for SIGINT/SIGTERM.
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <filesystem>
#include <fstream>

#include "commands.hpp"

namespace hyphae::cli {

void serve_until_signal(const std::string& what, std::uint16_t port, const std::string& port_file,
                        const std::function<void()>& stop, const std::function<void()>& wait) {
  if (!port_file.empty()) {  // written whole, then renamed: a reader never sees half a number
    const auto tmp = port_file + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::filesystem::rename(tmp, port_file);
  }
  boost::asio::io_context signals_io;
  boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int sig) {
    spdlog::info("signal {}: stopping the {}", sig, what);
    stop();
  });
  signals_io.run();
  wait();
}

}  // namespace hyphae::cli
