// ApiRouter: turns one parsed HTTP request into its response, with no socket: the Host/Origin
// check, then the route table (route_table.hpp) with the node's routes (node_routes.hpp) behind the
// bearer token. The session code (http_api.cpp) reads requests and
// writes the responses; the fuzz target drives the router directly.
// Internal to src/api (and tests): it pulls in Beast's message templates, so keep it out of widely
// included headers.
// Thread-safety: every call runs on the node's strand. Ownership: holds a reference to the Node,
// which must outlive the router.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/app_sessions.hpp"
#include "api/route_table.hpp"

namespace hyphae {

class Node;
struct InboundMessage;
struct MessageId;

namespace api {

// Whether a request's Host and Origin headers name this API: localhost, 127.0.0.1 or [::1] (any
// port), the host of api_listen when it is not a wildcard, or one of `allowed` (exact names, any
// port). A request without a Host header passes (no browser sends one); an Origin, when present,
// must name one of the same hosts. Guards against DNS rebinding.
bool host_allowed(const Request& req, const std::string& listen_host,
                  const std::vector<std::string>& allowed);

// The message stream's frames: one received message, and the answer to a client frame (an ack is
// applied to the node and answers nothing; anything else answers an error frame).
std::string stream_message_text(const InboundMessage& message);
// Parses a client frame: the id of an ack, or nullopt (then `error_frame` holds the reply).
std::optional<MessageId> parse_stream_frame(std::string_view text, std::string& error_frame);

class Router {
 public:
  Router(Node& node, std::string token);
  Router(const Router&) = delete;  // the auth rule in the table points back here
  Router& operator=(const Router&) = delete;

  // The table the requests are dispatched through: another service on the same HTTP engine (with
  // its own paths and auth rule) adds its routes here before the server starts.
  RouteTable& table() { return table_; }

  // The response to `req`. Sets `upgrade_stream` (and returns an empty response) when the request
  // is an authorized WebSocket upgrade to the message stream.
  boost::asio::awaitable<Response> handle(const Request& req, bool& upgrade_stream);

 private:
  bool authorized(const Request& req, std::string_view query_token) const;
  // The web app's session cookie, with the session's CSRF token on anything but GET and HEAD.
  bool app_session(const Request& req);

  Node& node_;
  std::string token_;
  AppSessions app_sessions_;
  std::string listen_host_;
  RouteTable table_;
};

}  // namespace api
}  // namespace hyphae
