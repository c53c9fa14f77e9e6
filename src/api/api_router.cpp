#include "api/api_router.hpp"

#include <sodium.h>

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <charconv>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "api/json_util.hpp"
#include "core/error.hpp"
#include "node/config.hpp"
#include "node/node.hpp"

namespace hyphae::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::use_awaitable;
using json = nlohmann::json;

Response json_response(const Request& req, http::status status, const json& body) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::server, "hyphae");
  res.keep_alive(req.keep_alive());
  res.body() = dump_json(body);
  res.prepare_payload();
  return res;
}

Response error_response(const Request& req, http::status status, const std::string& message) {
  return json_response(req, status, {{"error", message}, {"status", static_cast<int>(status)}});
}

namespace {

// Target split into path segments and query parameters.
struct Target {
  std::vector<std::string> segments;
  std::map<std::string, std::string> query;
};

Target parse_target(std::string_view target) {
  Target t;
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      auto amp = rest.find('&');
      auto pair = rest.substr(0, amp);
      auto eq = pair.find('=');
      t.query[std::string(pair.substr(0, eq))] =
          eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
      if (amp == std::string_view::npos) break;
      rest = rest.substr(amp + 1);
    }
  }
  std::size_t start = 0;
  while (start < path.size()) {
    if (path[start] == '/') {
      ++start;
      continue;
    }
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    t.segments.emplace_back(path.substr(start, end - start));
    start = end;
  }
  return t;
}

std::optional<Priority> parse_priority(const json& value) {
  if (value.is_null()) return Priority::normal;
  if (!value.is_string()) return std::nullopt;
  auto s = value.get<std::string>();
  if (s == "emergency") return Priority::emergency;
  if (s == "high") return Priority::high;
  if (s == "normal") return Priority::normal;
  if (s == "low") return Priority::low;
  return std::nullopt;
}

http::status status_for(std::error_code ec) {
  if (ec == Errc::too_large) return http::status::payload_too_large;
  if (ec == Errc::invalid_argument) return http::status::bad_request;
  if (ec == Errc::no_link) return http::status::conflict;
  if (ec == Errc::backpressure) return http::status::too_many_requests;
  if (ec == Errc::not_found || ec == Errc::unknown_peer) return http::status::not_found;
  return http::status::service_unavailable;
}

// Reads the optional "transport" field (seed 001's transport_preference); an error message if it
// is not a string or names a transport this node does not have.
// Also reads "redundancy" (seed 000's redundant=N: 1..8, at most the number of transports).
std::optional<std::string> read_transport(const Node& node, const json& body, SendOptions& options) {
  const auto names = node.transport_names();
  if (body.contains("redundancy")) {
    if (!body["redundancy"].is_number_unsigned() || body["redundancy"].get<unsigned>() < 1 ||
        body["redundancy"].get<unsigned>() > std::min<std::size_t>(8, names.size()))
      return "'redundancy' must be 1.." + std::to_string(std::min<std::size_t>(8, names.size())) +
             " (the number of transports)";
    options.redundancy = static_cast<std::uint8_t>(body["redundancy"].get<unsigned>());
  }
  if (!body.contains("transport")) return std::nullopt;
  if (!body["transport"].is_string()) return "'transport' must be a transport name";
  options.transport = body["transport"].get<std::string>();
  std::string available;
  for (const auto& name : names) {
    if (name == options.transport) return std::nullopt;
    available += (available.empty() ? "" : ", ") + name;
  }
  return "transport '" + options.transport + "' is not available on this node (available: " + available + ")";
}

// Awaits a Node callback: `start` receives the function to call with the result.
// `start` is taken by reference and must be a named local of the awaiting coroutine: GCC 12
// double-destroys temporaries in co_await expressions.
template <typename T>
awaitable<T> await_result(const std::function<void(std::function<void(T)>)>& start) {
  co_return co_await asio::async_initiate<decltype(use_awaitable), void(T)>(
      [&start](auto handler) mutable {
        // Resume the coroutine from a fresh handler, never inside the Node's callback.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        auto executor = asio::get_associated_executor(*shared);
        start([shared, executor](T value) {
          asio::post(executor,
                     [shared, value = std::move(value)]() mutable { std::move (*shared)(std::move(value)); });
        });
      },
      use_awaitable);
}

// A decimal number; a value above 2^64-1 saturates (a huge `limit` is clamped, not refused).
bool parse_u64(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 64) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec == std::errc::result_out_of_range) {
    out = UINT64_MAX;
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  }
  return ec == std::errc{} && ptr == text.data() + text.size();
}

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

// Each route's path (segments, "*" any one) and the methods it answers.
struct RouteSpec {
  std::vector<std::string_view> path;
  std::vector<http::verb> methods;
};

const std::vector<RouteSpec>& route_table() {
  using v = http::verb;
  static const std::vector<RouteSpec> table = {
      {{"v1", "health"}, {v::get}},
      {{"metrics"}, {v::get}},
      {{"v1", "p2p", "status"}, {v::get}},
      {{"v1", "p2p", "connections"}, {v::get}},
      {{"v1", "p2p", "connectivity"}, {v::get, v::post}},
      {{"v1", "p2p", "power"}, {v::get, v::post}},
      {{"v1", "p2p", "broadcast"}, {v::post}},
      {{"v1", "p2p", "broadcasts"}, {v::get}},
      {{"v1", "p2p", "transports"}, {v::get}},
      {{"v1", "p2p", "transports", "*", "fault"}, {v::post}},
      {{"v1", "p2p", "routes"}, {v::get}},
      {{"v1", "p2p", "messages", "stream"}, {v::get}},
      {{"v1", "peers"}, {v::get, v::post}},
      {{"v1", "messages"}, {v::get, v::post}},
      {{"v1", "messages", "batch"}, {v::post}},
      {{"v1", "messages", "*"}, {v::get}},
      {{"v1", "messages", "*", "ack"}, {v::post}},
      {{"api", "bitchat", "peers"}, {v::get}},
      {{"api", "bitchat", "peers", "register"}, {v::post}},
      {{"api", "bitchat", "messages", "send"}, {v::post}},
      {{"api", "bitchat", "ws", "*"}, {v::get}},
  };
  return table;
}

bool path_matches(const std::vector<std::string_view>& pattern, const std::vector<std::string>& seg) {
  if (pattern.size() != seg.size()) return false;
  for (std::size_t i = 0; i < seg.size(); ++i)
    if (pattern[i] != "*" && pattern[i] != seg[i]) return false;
  return true;
}

// The methods the path answers ("GET, POST"), empty for an unknown path; sets `allowed` when
// `method` is one of them.
std::string methods_for(const std::vector<std::string>& seg, http::verb method, bool& allowed) {
  std::vector<http::verb> methods;
  for (const auto& spec : route_table())
    if (path_matches(spec.path, seg))
      for (auto m : spec.methods)
        if (std::find(methods.begin(), methods.end(), m) == methods.end()) methods.push_back(m);
  allowed = std::find(methods.begin(), methods.end(), method) != methods.end();
  std::sort(methods.begin(), methods.end());
  std::string out;
  for (auto m : methods) out += (out.empty() ? "" : ", ") + std::string(http::to_string(m));
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

awaitable<Response> Router::handle(const Request& req, bool& upgrade_stream) {
  upgrade_stream = false;
  if (!host_allowed(req, listen_host_, node_.config().api_allowed_hosts))
    co_return error_response(req, http::status::forbidden,
                             "Host or Origin is not this API (allowed: localhost, 127.0.0.1, [::1] and "
                             "api_allowed_hosts)");
  co_return co_await route(req, upgrade_stream);
}

awaitable<Response> Router::post_message(const Request& req, const json& body) {
  if (!body.is_object())
    co_return error_response(req, http::status::bad_request, "body must be a JSON object");
  auto to_field = body.contains("to") ? body["to"] : json();
  if (!to_field.is_string())
    co_return error_response(req, http::status::bad_request, "'to' (a PeerId) is required");
  auto to = PeerId::from_string(to_field.get<std::string>());
  if (!to) co_return error_response(req, http::status::bad_request, "'to' is not a valid PeerId");
  Bytes payload;
  const char* text_key = body.contains("payload")   ? "payload"
                         : body.contains("content") ? "content"
                                                    : nullptr;
  if (text_key && body[text_key].is_string()) {
    auto s = body[text_key].get<std::string>();
    payload.assign(s.begin(), s.end());
  } else if (body.contains("payload_base64") && body["payload_base64"].is_string()) {
    auto decoded = base64_decode(body["payload_base64"].get<std::string>());
    if (!decoded) co_return error_response(req, http::status::bad_request, "'payload_base64' is not base64");
    payload = std::move(*decoded);
  } else {
    co_return error_response(req, http::status::bad_request,
                             "'payload' (string) or 'payload_base64' is required");
  }
  SendOptions options;
  auto priority = parse_priority(body.value("priority", json()));
  if (!priority)
    co_return error_response(req, http::status::bad_request,
                             "'priority' must be emergency, high, normal or low");
  options.priority = *priority;
  if (body.contains("ephemeral") && !body["ephemeral"].is_boolean())
    co_return error_response(req, http::status::bad_request, "'ephemeral' must be a boolean");
  options.ephemeral = body.value("ephemeral", false);
  if (body.contains("type") && (!body["type"].is_number_unsigned() || body["type"].get<unsigned>() > 255))
    co_return error_response(req, http::status::bad_request, "'type' must be 0..255");
  options.type = static_cast<std::uint8_t>(body.value("type", 0u));
  if (body.contains("ttl_s") && !body["ttl_s"].is_number_unsigned())
    co_return error_response(req, http::status::bad_request, "'ttl_s' must be a positive integer");
  options.ttl_s = body.value("ttl_s", 0u);
  if (auto error = read_transport(node_, body, options))
    co_return error_response(req, http::status::bad_request, *error);
  if (payload.size() > node_.config().max_message_bytes)
    co_return error_response(req, http::status::payload_too_large,
                             "payload is larger than max_message_bytes (" +
                                 std::to_string(node_.config().max_message_bytes) + ")");
  std::function<void(std::function<void(std::expected<MessageId, std::error_code>)>)> start =
      [&](std::function<void(std::expected<MessageId, std::error_code>)> done) {
        node_.send(*to, std::move(payload), options, std::move(done));
      };
  auto result = co_await await_result(start);
  if (!result) co_return error_response(req, status_for(result.error()), result.error().message());
  json out{{"id", result->to_hex()}, {"message_id", result->to_hex()}};
  if (auto st = node_.status(*result)) {
    out["status"] = st->state;
  } else {
    out["status"] = options.ephemeral ? "sent" : "queued";
  }
  out["ephemeral"] = options.ephemeral;
  co_return json_response(req, http::status::created, out);
}

awaitable<Response> Router::post_batch(const Request& req, const json& body) {
  if (!body.is_object() || !body.contains("to") || !body["to"].is_string() || !body.contains("payloads") ||
      !body["payloads"].is_array())
    co_return error_response(req, http::status::bad_request,
                             "need {\"to\": PeerId, \"payloads\": [strings]}");
  auto to = PeerId::from_string(body["to"].get<std::string>());
  if (!to) co_return error_response(req, http::status::bad_request, "'to' is not a valid PeerId");
  std::vector<Bytes> payloads;
  for (const auto& p : body["payloads"]) {
    if (!p.is_string()) co_return error_response(req, http::status::bad_request, "payloads must be strings");
    auto s = p.get<std::string>();
    payloads.emplace_back(s.begin(), s.end());
  }
  if (payloads.empty() || payloads.size() > 100000)
    co_return error_response(req, http::status::bad_request, "payloads must hold 1..100000 entries");
  SendOptions options;
  if (auto error = read_transport(node_, body, options))
    co_return error_response(req, http::status::bad_request, *error);
  auto priority = parse_priority(body.value("priority", json()));
  if (!priority)
    co_return error_response(req, http::status::bad_request,
                             "'priority' must be emergency, high, normal or low");
  options.priority = *priority;
  std::function<void(std::function<void(std::expected<std::vector<MessageId>, std::error_code>)>)> start =
      [&](std::function<void(std::expected<std::vector<MessageId>, std::error_code>)> done) {
        node_.send_many(*to, std::move(payloads), options, std::move(done));
      };
  auto result = co_await await_result(start);
  if (!result) co_return error_response(req, status_for(result.error()), result.error().message());
  json ids = json::array();
  for (const auto& id : *result) ids.push_back(id.to_hex());
  co_return json_response(req, http::status::created, {{"ids", ids}});
}

awaitable<Response> Router::route(const Request& req, bool& upgrade_stream) {
  auto target = parse_target(req.target());
  const auto& seg = target.segments;
  auto method = req.method();
  if (seg == std::vector<std::string>{"v1", "health"} && method == http::verb::get)
    co_return json_response(req, http::status::ok, {{"ok", true}});
  const auto token_param = target.query.find("token");
  if (!authorized(req, token_param == target.query.end() ? std::string_view() : token_param->second))
    co_return error_response(req, http::status::unauthorized, "missing or wrong bearer token");
  bool method_allowed = false;
  const auto allow = methods_for(seg, method, method_allowed);
  if (!allow.empty() && !method_allowed) {
    auto res = error_response(req, http::status::method_not_allowed,
                              std::string(req.method_string()) + " is not allowed here; use " + allow);
    res.set(http::field::allow, allow);
    co_return res;
  }

  json body;
  if (method == http::verb::post) {
    body = json::parse(req.body(), nullptr, false);
    if (body.is_discarded())
      co_return error_response(req, http::status::bad_request, "body is not valid JSON");
  }
  auto is = [&](std::initializer_list<std::string_view> path) {
    if (path.size() != seg.size()) return false;
    std::size_t i = 0;
    for (auto p : path) {
      if (p != "*" && seg[i] != p) return false;
      ++i;
    }
    return true;
  };

  if (method == http::verb::get && is({"metrics"})) {
    Response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.keep_alive(req.keep_alive());
    res.body() = node_.metrics_text();
    res.prepare_payload();
    co_return res;
  }
  if (method == http::verb::get && is({"v1", "p2p", "status"}))
    co_return json_response(req, http::status::ok, node_.status_json());
  if (method == http::verb::get && is({"v1", "p2p", "connections"}))
    co_return json_response(req, http::status::ok, {{"connections", node_.connections_json()}});
  if (method == http::verb::get && is({"v1", "p2p", "connectivity"}))
    co_return json_response(req, http::status::ok, node_.connectivity_json());
  if (method == http::verb::post && is({"v1", "p2p", "connectivity"})) {
    if (!body.is_object() || !body.contains("online") ||
        !(body["online"].is_boolean() || body["online"].is_null()))
      co_return error_response(req, http::status::bad_request,
                               "'online' is required: true or false to override, null to detect again");
    std::optional<bool> online;
    if (body["online"].is_boolean()) online = body["online"].get<bool>();
    node_.set_connectivity_override(online);  // the API runs on the node's strand
    co_return json_response(req, http::status::ok, node_.connectivity_json());
  }
  if (method == http::verb::get && is({"v1", "p2p", "power"}))
    co_return json_response(req, http::status::ok, node_.power_json());
  if (method == http::verb::post && is({"v1", "p2p", "power"})) {
    // Each field: a value overrides the measurement, null (or absent) returns to measuring.
    if (!body.is_object())
      co_return error_response(
          req, http::status::bad_request,
          "need {\"battery\": 0..1|null, \"charging\": bool|null, \"temperature_c\": n|null}");
    auto number = [&](const char* key, double lo, double hi) -> std::optional<std::optional<double>> {
      if (!body.contains(key) || body[key].is_null()) return std::optional<double>{};
      if (!body[key].is_number()) return std::nullopt;
      const double v = body[key].get<double>();
      if (v < lo || v > hi) return std::nullopt;
      return std::optional<double>{v};
    };
    auto battery = number("battery", 0, 1);
    auto temperature = number("temperature_c", -50, 200);
    if (!battery) co_return error_response(req, http::status::bad_request, "'battery' must be 0..1 or null");
    if (!temperature)
      co_return error_response(req, http::status::bad_request, "'temperature_c' must be -50..200 or null");
    std::optional<bool> charging;
    if (body.contains("charging") && !body["charging"].is_null()) {
      if (!body["charging"].is_boolean())
        co_return error_response(req, http::status::bad_request, "'charging' must be true, false or null");
      charging = body["charging"].get<bool>();
    }
    node_.set_power_overrides(*battery, charging, *temperature);
    co_return json_response(req, http::status::ok, node_.power_json());
  }
  if (method == http::verb::post && is({"v1", "p2p", "broadcast"})) {
    if (!body.is_object() || !body.contains("text") || !body["text"].is_string() ||
        (body.contains("channel") && !body["channel"].is_string()))
      co_return error_response(
          req, http::status::bad_request,
          "need {\"text\": string, \"channel\": optional name of letters, digits, - _ .}");
    const auto channel = body.value("channel", std::string());
    auto sent = node_.broadcast(channel, body["text"].get<std::string>());
    if (!sent) {
      const auto ec = sent.error();
      co_return error_response(
          req, status_for(ec),
          ec == Errc::no_link     ? "no broadcast-capable transport is available"
          : ec == Errc::too_large ? "'text' is over 4096 bytes"
                                  : "'text' must not be empty; 'channel' is up to 64 letters, digits, - _ .");
    }
    co_return json_response(req, http::status::created, {{"sent_on", *sent}, {"channel", channel}});
  }
  if (method == http::verb::get && is({"v1", "p2p", "broadcasts"})) {
    std::uint64_t after = 0, limit = 100;
    if ((target.query.contains("after") && !parse_u64(target.query.at("after"), after)) ||
        (target.query.contains("limit") && !parse_u64(target.query.at("limit"), limit)))
      co_return error_response(req, http::status::bad_request, "'after' and 'limit' must be numbers");
    limit = std::clamp<std::uint64_t>(limit, 1, kMaxRowsPerRequest);
    const auto channel = target.query.contains("channel") ? target.query.at("channel") : std::string("*");
    co_return json_response(req, http::status::ok, node_.broadcasts_json(after, channel, limit));
  }
  if (method == http::verb::get && is({"v1", "p2p", "transports"}))
    co_return json_response(req, http::status::ok, {{"transports", node_.transports_json()}});
  if (method == http::verb::post && is({"v1", "p2p", "transports", "*", "fault"})) {
    if (!body.is_object() || !body.contains("mode") || !body["mode"].is_string())
      co_return error_response(req, http::status::bad_request,
                               "'mode' is required: none, slow, lossy, offline or dead");
    if ((body.contains("delay_ms") && !body["delay_ms"].is_number_unsigned()) ||
        (body.contains("loss") && !body["loss"].is_number()))
      co_return error_response(req, http::status::bad_request,
                               "'delay_ms' must be a non-negative integer and 'loss' a number in [0, 1]");
    auto ec = node_.inject_fault(seg[3], body["mode"].get<std::string>(), body.value("delay_ms", 0ull),
                                 body.value("loss", 0.0));
    if (ec == Errc::not_found)
      co_return error_response(req, http::status::not_found,
                               "no transport named '" + std::string(seg[3]) + "'");
    if (ec == Errc::unsupported)
      co_return error_response(req, http::status::conflict,
                               "fault injection is off on this node (config fault_injection: true)");
    if (ec)
      co_return error_response(req, http::status::bad_request,
                               "'mode' must be none, slow, lossy, offline or dead, and 'loss' in [0, 1]");
    co_return json_response(req, http::status::ok, {{"transports", node_.transports_json()}});
  }
  if (method == http::verb::get && is({"v1", "p2p", "routes"}))
    co_return json_response(req, http::status::ok, {{"routes", node_.routes_json()}});
  if (method == http::verb::get && (is({"v1", "peers"}) || is({"api", "bitchat", "peers"})))
    co_return json_response(req, http::status::ok, {{"peers", node_.peers_json()}});
  if (method == http::verb::post && (is({"v1", "peers"}) || is({"api", "bitchat", "peers", "register"}))) {
    if (!body.is_object() || !body.contains("peer_id") || !body["peer_id"].is_string())
      co_return error_response(req, http::status::bad_request, "'peer_id' is required");
    auto peer = PeerId::from_string(body["peer_id"].get<std::string>());
    if (!peer) co_return error_response(req, http::status::bad_request, "'peer_id' is not a valid PeerId");
    std::vector<std::string> addresses;
    if (body.contains("addresses")) {
      if (!body["addresses"].is_array())
        co_return error_response(req, http::status::bad_request, "'addresses' must be a list");
      for (const auto& a : body["addresses"]) {
        if (!a.is_string() || !valid_peer_address(a.get<std::string>()))
          co_return error_response(req, http::status::bad_request,
                                   "addresses must be [transport=]host:port or /ip4/../tcp/..");
        addresses.push_back(a.get<std::string>());
      }
    }
    std::function<void(std::function<void(std::error_code)>)> start =
        [&](std::function<void(std::error_code)> done) { node_.add_peer(*peer, addresses, std::move(done)); };
    auto ec = co_await await_result(start);
    if (ec) co_return error_response(req, status_for(ec), ec.message());
    co_return json_response(req, http::status::created,
                            {{"peer_id", peer->to_string()}, {"addresses", addresses}});
  }
  if (method == http::verb::post && (is({"v1", "messages"}) || is({"api", "bitchat", "messages", "send"})))
    co_return co_await post_message(req, body);
  if (method == http::verb::post && is({"v1", "messages", "batch"})) co_return co_await post_batch(req, body);
  if (method == http::verb::get && is({"v1", "messages"})) {
    std::uint64_t after = 0, limit = kMaxRowsPerRequest;
    if ((target.query.contains("after") && !parse_u64(target.query["after"], after)) ||
        (target.query.contains("limit") && !parse_u64(target.query["limit"], limit)))
      co_return error_response(req, http::status::bad_request, "'after' and 'limit' must be integers");
    limit = std::clamp<std::uint64_t>(limit, 1, kMaxRowsPerRequest);
    co_return json_response(req, http::status::ok, {{"messages", node_.inbox_json(after, limit)}});
  }
  if (seg.size() >= 3 && seg[0] == "v1" && seg[1] == "messages") {
    auto id = MessageId::from_hex(seg[2]);
    if (!id) co_return error_response(req, http::status::bad_request, "message id must be 32 hex digits");
    if (method == http::verb::get && seg.size() == 3) {
      auto st = node_.status(*id);
      if (!st) co_return error_response(req, http::status::not_found, "no message with this id");
      co_return json_response(req, http::status::ok, to_json(*st));
    }
    if (method == http::verb::post && seg.size() == 4 && seg[3] == "ack") {
      auto st = node_.status(*id);
      if (!st || st->direction != "in")
        co_return error_response(req, http::status::not_found, "no received message with this id");
      node_.ack(*id);
      co_return json_response(req, http::status::ok, {{"id", id->to_hex()}, {"acknowledged", true}});
    }
  }
  bool stream_path = is({"v1", "p2p", "messages", "stream"}) ||
                     (seg.size() == 4 && seg[0] == "api" && seg[1] == "bitchat" && seg[2] == "ws");
  if (stream_path) {
    if (seg.size() == 4 && seg[0] == "api" && seg[3] != node_.peer_id().to_string())
      co_return error_response(req, http::status::not_found,
                               "this node serves only its own peer id's stream");
    if (!websocket::is_upgrade(req))
      co_return error_response(req, http::status::bad_request,
                               "this path is a WebSocket; send an upgrade request");
    upgrade_stream = true;
    co_return Response{};
  }
  co_return error_response(req, http::status::not_found, "no such route: " + std::string(req.target()));
}

}  // namespace hyphae::api
