// api::Router: the node API's front door: the Host/Origin guard, the bearer token, and the route
// table (node_routes.cpp) the requests are dispatched through.
#include "api/api_router.hpp"

#include <sodium.h>

#include <algorithm>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "api/app_routes.hpp"
#include "api/node_routes.hpp"
#include "node/config.hpp"
#include "node/node.hpp"
#include "util/json_util.hpp"

namespace hyphae::api {

namespace http = boost::beast::http;
using boost::asio::awaitable;
using json = nlohmann::json;

namespace {

// The host part of a Host or Origin value ("[::1]:8080" -> "[::1]", "example.com" -> itself),
// lower-cased.
std::string host_part(std::string_view value) {
  std::string_view host = value;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    host = close == std::string_view::npos ? host : host.substr(0, close + 1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  std::string out(host);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

bool host_allowed(const Request& req, const std::string& listen_host,
                  const std::vector<std::string>& allowed) {
  auto ok = [&](std::string_view value) {
    const auto host = host_part(value);
    if (host == "localhost" || host == "127.0.0.1" || host == "[::1]") return true;
    if (!listen_host.empty() && (host == listen_host || host == "[" + listen_host + "]")) return true;
    for (const auto& name : allowed)
      if (host == host_part(name) || host == name) return true;
    return false;
  };
  if (auto it = req.find(http::field::host); it != req.end() && !ok(it->value())) return false;
  if (auto it = req.find(http::field::origin); it != req.end()) {
    std::string_view origin = it->value();
    if (origin == "null") return false;  // sandboxed frames, file:// pages
    auto scheme = origin.find("://");
    if (scheme == std::string_view::npos) return false;
    origin = origin.substr(scheme + 3);
    if (!ok(origin.substr(0, origin.find('/')))) return false;
  }
  return true;
}

std::string stream_message_text(const InboundMessage& m) {
  json j{{"type", "message"},          {"id", m.id.to_hex()},
         {"from", m.from.to_string()}, {"timestamp_ms", m.timestamp_ms},
         {"message_type", m.type},     {"ephemeral", m.ephemeral}};
  put_payload(j, m.payload);
  return dump_json(j);
}

std::optional<MessageId> parse_stream_frame(std::string_view text, std::string& error_frame) {
  auto msg = json::parse(text, nullptr, false);
  if (msg.is_object() && msg.contains("type") && msg["type"] == "ack" && msg.contains("id") &&
      msg["id"].is_string())
    if (auto id = MessageId::from_hex(msg["id"].get<std::string>())) return *id;
  error_frame = dump_json(json{{"type", "error"}, {"error", "expected {\"type\":\"ack\",\"id\":\"...\"}"}});
  return std::nullopt;
}

Router::Router(Node& node, std::string token) : node_(node), token_(std::move(token)) {
  AuthRule bearer{[this](const Request& req, const Target& target) {
                    auto it = target.query.find("token");
                    return authorized(req, it == target.query.end() ? std::string_view() : it->second);
                  },
                  "missing or wrong bearer token"};
  // The web app's session (cookie + CSRF token) is as good as the token for the node's routes; a
  // new login link needs the token itself.
  AuthRule any{[this, bearer](const Request& req, const Target& target) {
                 return bearer.allows(req, target) || app_session(req);
               },
               "missing or wrong bearer token (or web app session and X-CSRF-Token)"};
  table_.set_fallback_auth(any);
  add_node_routes(table_, node_, any);
  add_app_routes(table_, node_, app_sessions_, bearer, any);
  std::uint16_t port = 0;
  if (parse_address(node_.config().api_listen, listen_host_, port)) {
    if (listen_host_ == "0.0.0.0" || listen_host_ == "::") listen_host_.clear();
    std::transform(listen_host_.begin(), listen_host_.end(), listen_host_.begin(),
                   [](unsigned char c) { return std::tolower(c); });
  }
}

bool Router::authorized(const Request& req, std::string_view query_token) const {
  auto header = req[http::field::authorization];
  std::string expected = "Bearer " + token_;
  auto equal = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
  };
  if (!header.empty()) return equal(header, expected);
  return !query_token.empty() && equal(query_token, token_);
}

bool Router::app_session(const Request& req) {
  auto cookie = req[http::field::cookie];
  if (cookie.empty()) return false;
  const auto now = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::steady_clock::now().time_since_epoch())
                                                  .count());
  const auto* session = app_sessions_.find(cookie, now);
  if (!session) return false;
  if (req.method() == http::verb::get || req.method() == http::verb::head) return true;
  return secret_equal(req[kCsrfHeader], session->csrf);
}

awaitable<Response> Router::handle(const Request& req, bool& upgrade_stream) {
  upgrade_stream = false;
  if (!host_allowed(req, listen_host_, node_.config().api_allowed_hosts))
    co_return error_response(req, http::status::forbidden,
                             "Host or Origin is not this API (allowed: localhost, 127.0.0.1, [::1] and "
                             "api_allowed_hosts)");
  co_return co_await table_.dispatch(req, upgrade_stream);
}

}  // namespace hyphae::api
