// ApiClient: a small synchronous client of a node's HTTP/WebSocket API, used by the CLI, the demo
// and the integration tests. One instance holds one keep-alive connection.
// Thread-safety: none; use one client per thread. Ownership: owns its socket.
// With ApiEndpoint::netns set, each socket is created inside that Linux network namespace (on a
// short-lived thread that setns()es into it), so a process in the root namespace can reach a node
// running under `ip netns exec`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace hyphae {

struct ApiEndpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string token;
  // A named network namespace (/var/run/netns/<netns>) to connect from; empty = this process's.
  std::string netns;
  // Reads DIR/node.json (written by a running node) and DIR/api.token.
  static std::optional<ApiEndpoint> from_data_dir(const std::filesystem::path& dir,
                                                  std::string* error = nullptr);
};

struct ApiResponse {
  int status = 0;
  nlohmann::json body;  // discarded (is_discarded()) when the body is not JSON
  std::string raw;      // the body as received
};

class ApiClient {
 public:
  explicit ApiClient(ApiEndpoint endpoint);
  ~ApiClient();
  // Throws std::runtime_error when the node cannot be reached (or the namespace cannot be entered).
  ApiResponse request(const std::string& method, const std::string& target,
                      const std::optional<nlohmann::json>& body = std::nullopt);
  // Sends raw bytes as a request body (tests of malformed input).
  ApiResponse request_raw(const std::string& method, const std::string& target, const std::string& body,
                          bool with_token = true);
  // Opens the message stream; calls on_message for each message until it returns false or
  // `idle_timeout_ms` passes without a message (0 = wait forever). Acks every durable message it
  // hands to on_message. A message that is not UTF-8 comes with `payload_base64` instead of `payload`.
  void stream(const std::function<bool(const nlohmann::json&)>& on_message, int idle_timeout_ms);

 private:
  struct Connection;
  ApiEndpoint endpoint_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace hyphae
