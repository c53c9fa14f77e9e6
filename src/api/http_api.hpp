// ApiServer: the node's local HTTP + WebSocket API (Boost.Beast), bound to loopback by default.
// Every request needs `Authorization: Bearer <token>` (WebSockets may pass `?token=`) and a Host
// (and Origin, if any) naming this machine; errors are JSON `{"error": "..."}` with a 4xx/5xx
// status. Routes are listed in docs/api.md; the routing itself is api/api_router.hpp.
// Bounds (NodeConfig, docs/configuration.md): api_max_connections, api_timeout_ms (request read,
// keep-alive idle, response write, WebSocket pings), api_ws_queue_bytes (a slower WebSocket client
// is dropped; its messages stay in the inbox), 1000 rows per GET. An exception from a request
// handler is logged, answered with a 500 when possible and closes that connection only.
// Thread-safety: runs on the node's strand and calls the Node directly there; start(), stop(),
// port() and connections() must be called on that strand too.
// Ownership: the caller owns the server and the Node; stop() before destroying the Node. Live
// sessions keep the server's internals alive, so stop() may run while requests are in flight.
#pragma once

#include <cstddef>
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
  // Binds `listen` ("host:port", port 0 = any free port) and starts accepting. Logs a warning when
  // the address is not loopback.
  std::error_code start(const std::string& listen);
  // Stops accepting, closes every connection and ends every stream subscription at once.
  void stop();
  std::uint16_t port() const;
  // Connections open now (HTTP and WebSocket).
  std::size_t connections() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Creates DIR/api.token (mode 0600) with a fresh random token, or reads the existing one.
std::string load_or_create_api_token(const std::string& data_dir);

}  // namespace hyphae
