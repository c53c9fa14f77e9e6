// ApiServer: the node's local HTTP + WebSocket API (Boost.Beast), bound to loopback by default.
// Every request needs `Authorization: Bearer <token>` (WebSockets may pass `?token=`); errors are
// JSON `{"error": "..."}` with a 4xx status. Routes are listed in docs/api.md.
// Thread-safety: runs on the node's strand and calls the Node directly there.
// Ownership: the caller owns the server and the Node; stop() before destroying either.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

namespace hyphae {

class Node;

class ApiServer {
 public:
  ApiServer(Node& node, std::string token);
  ~ApiServer();
  // Binds `listen` ("host:port", port 0 = any free port) and starts accepting.
  std::error_code start(const std::string& listen);
  void stop();
  std::uint16_t port() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Creates DIR/api.token (mode 0600) with a fresh random token, or reads the existing one.
std::string load_or_create_api_token(const std::string& data_dir);

}  // namespace hyphae
