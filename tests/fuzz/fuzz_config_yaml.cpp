// Fuzz target: the YAML configuration loader (load_config_file, src/node/config*.cpp) on arbitrary
// bytes written to a file. It must return an error string naming the file, never throw, and a
// configuration it accepts must satisfy the checks the loader promises.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "node/config.hpp"

namespace {

const std::filesystem::path& config_file() {
  static const std::filesystem::path file = [] {
    std::filesystem::path base = std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                     : std::filesystem::temp_directory_path();
    return base / ("hyphae-fuzz-config-" + std::to_string(::getpid()) + ".yaml");
  }();
  // Registered once `file` exists, so it runs before `file` is destroyed.
  static const int cleanup = std::atexit([] {
    std::error_code ec;
    std::filesystem::remove(file, ec);
  });
  (void)cleanup;
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(config_file(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  hyphae::NodeConfig config;
  auto loaded = hyphae::load_config_file(config_file(), config);
  if (!loaded) {
    if (loaded.error().rfind(config_file().string(), 0) != 0) std::abort();  // names the file first
    return 0;
  }
  if (config.reconnect_min_ms == 0 || config.reconnect_max_ms < config.reconnect_min_ms) std::abort();
  if (config.timestamp_window_ms > 7ull * 24 * 3600 * 1000) std::abort();
  if (config.max_message_bytes == 0 || config.max_message_bytes > (16u << 20)) std::abort();
  if (config.max_connections == 0 || config.max_pending_messages == 0) std::abort();
  if (config.battery_override && !(*config.battery_override >= 0 && *config.battery_override <= 1))
    std::abort();
  if (config.temperature_override_c &&
      !(*config.temperature_override_c >= -50 && *config.temperature_override_c <= 200))
    std::abort();
  std::string host;
  std::uint16_t port = 0;
  if (!hyphae::parse_address(config.listen, host, port) ||
      !hyphae::parse_address(config.api_listen, host, port))
    std::abort();
  for (const auto& peer : config.peers)
    for (const auto& address : peer.addresses)
      if (!hyphae::valid_peer_address(address)) std::abort();
  return 0;
}
