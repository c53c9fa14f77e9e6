// RegistryServer: the `hyphae registry` process. An HTTP/1.1 server (HTTPS when given a
// certificate and key) in front of RegistryService, with a pool of database connections (one per
// worker thread), bounded bodies, request timeouts and a cap on open connections, and a sweep
// that deletes expired announcements every minute.
// Thread-safety: start(), port() and stop() from any one thread; run() blocks the caller until
// stop(). Ownership: owns its threads, sockets and database connections.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>

#include "registry/registry_service.hpp"

namespace spdlog {
class logger;
}

namespace hyphae::registry {

struct ServerOptions {
  std::string listen = "127.0.0.1:8470";  // host:port (port 0: any free port)
  std::string db_url = "registry.db";     // sqlite:PATH, PATH, or postgresql://...
  std::string cert_file, key_file;        // both set: HTTPS
  unsigned threads = 2;                   // worker threads, each with its own database connection
  std::uint64_t request_timeout_ms = 10'000;
  std::size_t max_connections = 1024;
  RegistryOptions service;
  // Set: also keep a mix directory, signing topologies with the identity in this directory
  // (created on first start).
  std::string mix_identity_dir;
  std::uint64_t mix_epoch_ms = 3'600'000;
};

class RegistryServer {
 public:
  RegistryServer(ServerOptions options, std::shared_ptr<spdlog::logger> log);
  ~RegistryServer();
  // Opens the database (creating its tables), binds and starts the workers. Errors are sentences.
  std::expected<void, std::string> start();
  std::uint16_t port() const;
  bool tls() const;
  void run();   // until stop()
  void stop();  // stops accepting and closes every connection

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace hyphae::registry
