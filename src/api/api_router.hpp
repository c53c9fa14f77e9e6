// ApiRouter: turns one parsed HTTP request into its response, with no socket: authentication, the
// Host/Origin check, routing, JSON in and out. The session code (http_api.cpp) reads requests and
// writes the responses; the fuzz target drives the router directly.
// Internal to src/api (and tests): it pulls in Beast's message templates, so keep it out of widely
// included headers.
// Thread-safety: every call runs on the node's strand. Ownership: holds a reference to the Node,
// which must outlive the router.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hyphae {

class Node;
struct InboundMessage;
struct MessageId;

namespace api {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// Rows one GET answers at most; a larger `limit` is clamped to it.
inline constexpr std::size_t kMaxRowsPerRequest = 1000;

// A JSON response (`body` serialized with ill-formed UTF-8 replaced, never throwing).
Response json_response(const Request& req, boost::beast::http::status status, const nlohmann::json& body);
// {"error": message, "status": code}.
Response error_response(const Request& req, boost::beast::http::status status, const std::string& message);

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

  // The response to `req`. Sets `upgrade_stream` (and returns an empty response) when the request
  // is an authorized WebSocket upgrade to the message stream.
  boost::asio::awaitable<Response> handle(const Request& req, bool& upgrade_stream);

 private:
  boost::asio::awaitable<Response> route(const Request& req, bool& upgrade_stream);
  boost::asio::awaitable<Response> post_message(const Request& req, const nlohmann::json& body);
  boost::asio::awaitable<Response> post_batch(const Request& req, const nlohmann::json& body);
  bool authorized(const Request& req, std::string_view query_token) const;

  Node& node_;
  std::string token_;
  std::string listen_host_;
};

}  // namespace api
}  // namespace hyphae
