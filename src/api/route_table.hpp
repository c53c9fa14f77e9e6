// RouteTable: the HTTP engine's dispatch, shared by every service that runs on it (the node's API
// today; a registry or signaling service registers its own routes, with its own auth rule). A route
// is a method, a path pattern ("/v1/messages/{id}/ack": literal segments and {named} captures), an
// auth rule and a handler. The table answers what no handler should: 404 for an unknown path, 405
// with an Allow header for a known path and the wrong method, 401 when the route's auth rule
// refuses, 400 for a POST body that is not JSON. Errors are JSON {"error", "status"}.
// Internal to src/api (it pulls in Beast's message templates): keep it out of widely included
// headers.
// Thread-safety: fill the table before serving; dispatch() then runs on the server's strand.
// Ownership: holds the handlers (and whatever they capture) by value.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace hyphae::api {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// A request target split into path segments and query parameters (not percent-decoded).
struct Target {
  std::vector<std::string> segments;
  std::map<std::string, std::string> query;
};
Target parse_target(std::string_view target);

// What a handler gets: the request, its target, the path's captures by name, the parsed JSON body
// (POST, PUT, PATCH, DELETE with a body), and `upgrade`, which a WebSocket route sets to ask the
// server to take the connection over (its response is then ignored).
struct Call {
  const Request& req;
  const Target& target;
  std::map<std::string, std::string, std::less<>> params;
  nlohmann::json body;
  bool upgrade = false;
  const std::string& param(std::string_view name) const { return params.find(name)->second; }
  std::string query(const std::string& key, std::string fallback = {}) const {
    auto it = target.query.find(key);
    return it == target.query.end() ? fallback : it->second;
  }
};

using Handler = std::function<boost::asio::awaitable<Response>(Call&)>;

// Who may call a route: `allows` (null: anyone) and the 401 message when it refuses.
struct AuthRule {
  std::function<bool(const Request&, const Target&)> allows;
  std::string refusal = "missing or wrong credentials";
  bool open() const { return !allows; }
  static AuthRule anyone() { return {}; }
};

struct Route {
  boost::beast::http::verb method;
  std::string pattern;
  AuthRule auth;
  Handler handler;
};

class RouteTable {
 public:
  // Adds a route. A pattern must start with '/'; a second route with the same method and pattern is
  // a programming error (std::invalid_argument).
  void add(Route route);
  // A path no route matches answers 404 to callers `fallback` allows and 401 to the rest, so an
  // unauthenticated caller cannot map the routes.
  void set_fallback_auth(AuthRule fallback) { fallback_ = std::move(fallback); }
  boost::asio::awaitable<Response> dispatch(const Request& req, bool& upgrade);
  std::size_t size() const { return routes_.size(); }

 private:
  struct Entry {
    Route route;
    std::vector<std::string> segments;  // "{name}" captures one segment
  };
  static bool matches(const Entry& e, const std::vector<std::string>& seg, Call* call);
  std::vector<Entry> routes_;
  AuthRule fallback_;
};

// A JSON response (`body` serialized with ill-formed UTF-8 replaced, never throwing).
Response json_response(const Request& req, boost::beast::http::status status, const nlohmann::json& body);
// {"error": message, "status": code}.
Response error_response(const Request& req, boost::beast::http::status status, const std::string& message);

}  // namespace hyphae::api
