#include "api/http_api.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "api/json_util.hpp"
#include "core/error.hpp"
#include "node/config.hpp"
#include "node/node.hpp"

namespace hyphae {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using json = nlohmann::json;

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

Response json_response(const Request& req, http::status status, const json& body) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::server, "hyphae");
  res.keep_alive(req.keep_alive());
  res.body() = body.dump();
  res.prepare_payload();
  return res;
}

Response error_response(const Request& req, http::status status, const std::string& message) {
  return json_response(req, status, {{"error", message}, {"status", static_cast<int>(status)}});
}

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

}  // namespace

class ApiServer::Impl : public std::enable_shared_from_this<ApiServer::Impl> {
 public:
  Impl(Node& node, std::string token) : node_(node), token_(std::move(token)), acceptor_(node.executor()) {}

  Node& node_;
  std::string token_;
  tcp::acceptor acceptor_;
  bool running_ = false;
  std::set<std::shared_ptr<tcp::socket>> sockets_;

  awaitable<void> accept_loop();
  awaitable<void> session(std::shared_ptr<tcp::socket> socket);
  awaitable<Response> handle(const Request& req, bool& upgrade_stream);
  awaitable<Response> post_message(const Request& req, const json& body);
  awaitable<Response> post_batch(const Request& req, const json& body);
  awaitable<void> stream(std::shared_ptr<tcp::socket> socket, Request req);
  bool authorized(const Request& req, const Target& target) const;
};

bool ApiServer::Impl::authorized(const Request& req, const Target& target) const {
  auto header = req[http::field::authorization];
  std::string expected = "Bearer " + token_;
  auto equal = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
  };
  if (!header.empty()) return equal(header, expected);
  auto it = target.query.find("token");
  return it != target.query.end() && equal(it->second, token_);
}

awaitable<Response> ApiServer::Impl::post_message(const Request& req, const json& body) {
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

awaitable<Response> ApiServer::Impl::post_batch(const Request& req, const json& body) {
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

awaitable<Response> ApiServer::Impl::handle(const Request& req, bool& upgrade_stream) {
  auto target = parse_target(req.target());
  const auto& seg = target.segments;
  auto method = req.method();
  if (seg == std::vector<std::string>{"v1", "health"})
    co_return json_response(req, http::status::ok, {{"ok", true}});
  if (!authorized(req, target))
    co_return error_response(req, http::status::unauthorized, "missing or wrong bearer token");

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
      co_return error_response(req, http::status::bad_request,
                               "need {\"text\": string, \"channel\": optional name of letters, digits, - _ .}");
    const auto channel = body.value("channel", std::string());
    auto sent = node_.broadcast(channel, body["text"].get<std::string>());
    if (!sent) {
      const auto ec = sent.error();
      co_return error_response(req, status_for(ec),
                               ec == Errc::no_link ? "no broadcast-capable transport is available"
                               : ec == Errc::too_large
                                   ? "'text' is over 4096 bytes"
                                   : "'text' must not be empty; 'channel' is up to 64 letters, digits, - _ .");
    }
    co_return json_response(req, http::status::created, {{"sent_on", *sent}, {"channel", channel}});
  }
  if (method == http::verb::get && is({"v1", "p2p", "broadcasts"})) {
    std::uint64_t after = 0;
    std::size_t limit = 100;
    try {
      if (target.query.contains("after")) after = std::stoull(target.query.at("after"));
      if (target.query.contains("limit")) limit = std::clamp<std::size_t>(std::stoull(target.query.at("limit")), 1, 1000);
    } catch (const std::exception&) {
      co_return error_response(req, http::status::bad_request, "'after' and 'limit' must be numbers");
    }
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
    std::uint64_t after = 0, limit = 1000;
    try {
      if (target.query.contains("after")) after = std::stoull(target.query["after"]);
      if (target.query.contains("limit"))
        limit = std::min<std::uint64_t>(std::stoull(target.query["limit"]), 100000);
    } catch (const std::exception&) {
      co_return error_response(req, http::status::bad_request, "'after' and 'limit' must be integers");
    }
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

awaitable<void> ApiServer::Impl::session(std::shared_ptr<tcp::socket> socket) {
  beast::flat_buffer buffer;
  const std::size_t body_limit = node_.config().max_message_bytes * 2 + 64 * 1024;
  try {
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(body_limit);
      boost::system::error_code ec;
      co_await http::async_read(*socket, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted)
        break;
      if (ec == http::error::body_limit) {
        Request req;
        req.version(11);
        auto res = error_response(req, http::status::payload_too_large, "request body is too large");
        res.keep_alive(false);
        co_await http::async_write(*socket, res, use_awaitable);
        // Read and drop what the client is still sending (bounded), so it sees the 413 instead of a reset.
        socket->shutdown(tcp::socket::shutdown_send, ec);
        std::array<char, 65536> sink;
        for (std::size_t drained = 0; drained < 64u * 1024 * 1024;) {
          auto n =
              co_await socket->async_read_some(asio::buffer(sink), asio::redirect_error(use_awaitable, ec));
          if (ec) break;
          drained += n;
        }
        break;
      }
      if (ec) {
        Request req;
        req.version(11);
        auto res = error_response(req, http::status::bad_request, "malformed HTTP request: " + ec.message());
        res.keep_alive(false);
        co_await http::async_write(*socket, res, use_awaitable);
        break;
      }
      Request req = parser.release();
      bool upgrade = false;
      Response res = co_await handle(req, upgrade);
      if (upgrade) {
        co_await stream(socket, std::move(req));
        break;
      }
      bool keep_alive = res.keep_alive();
      co_await http::async_write(*socket, res, use_awaitable);
      if (!keep_alive) break;
    }
  } catch (const boost::system::system_error& e) {
    spdlog::debug("api session ended: {}", e.code().message());
  }
  boost::system::error_code ignored;
  socket->shutdown(tcp::socket::shutdown_both, ignored);
  socket->close(ignored);
  sockets_.erase(socket);
}

awaitable<void> ApiServer::Impl::stream(std::shared_ptr<tcp::socket> socket, Request req) {
  auto ws = std::make_shared<websocket::stream<tcp::socket&>>(*socket);
  co_await ws->async_accept(req, use_awaitable);
  struct Shared {
    std::deque<std::string> queue;
    bool closed = false;
    asio::steady_timer signal;
    explicit Shared(asio::any_io_executor ex) : signal(ex, asio::steady_timer::time_point::max()) {}
  };
  auto shared = std::make_shared<Shared>(node_.executor());
  auto token = node_.subscribe([shared](const InboundMessage& m) {
    json j{{"type", "message"},          {"id", m.id.to_hex()},
           {"from", m.from.to_string()}, {"timestamp_ms", m.timestamp_ms},
           {"message_type", m.type},     {"ephemeral", m.ephemeral}};
    put_payload(j, m.payload);
    shared->queue.push_back(j.dump());
    shared->signal.cancel();
  });
  // Writer: drains the queue; reader: takes acks. Both on the node's strand.
  auto writer = [](std::shared_ptr<Shared> sh, std::shared_ptr<websocket::stream<tcp::socket&>> w,
                   std::shared_ptr<tcp::socket> keep) -> awaitable<void> {
    while (!sh->closed) {
      while (!sh->queue.empty()) {
        auto text = std::move(sh->queue.front());
        sh->queue.pop_front();
        boost::system::error_code ec;
        co_await w->async_write(asio::buffer(text), asio::redirect_error(use_awaitable, ec));
        if (ec) {
          sh->closed = true;
          co_return;
        }
      }
      boost::system::error_code ec;
      sh->signal.expires_at(asio::steady_timer::time_point::max());
      co_await sh->signal.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  };
  asio::co_spawn(node_.executor(), writer(shared, ws, socket), asio::detached);
  beast::flat_buffer buffer;
  for (;;) {
    boost::system::error_code ec;
    buffer.clear();
    co_await ws->async_read(buffer, asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    auto msg = json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
    if (msg.is_object() && msg.value("type", "") == "ack" && msg.contains("id") && msg["id"].is_string()) {
      if (auto id = MessageId::from_hex(msg["id"].get<std::string>())) node_.ack(*id);
      continue;
    }
    shared->queue.push_back(
        json{{"type", "error"}, {"error", "expected {\"type\":\"ack\",\"id\":\"...\"}"}}.dump());
    shared->signal.cancel();
  }
  node_.unsubscribe(token);
  shared->closed = true;
  shared->signal.cancel();  // the writer sees `closed` and ends; it holds the stream and socket until then
}

awaitable<void> ApiServer::Impl::accept_loop() {
  auto self = shared_from_this();
  while (running_) {
    auto socket = std::make_shared<tcp::socket>(node_.executor());
    boost::system::error_code ec;
    co_await acceptor_.async_accept(*socket, asio::redirect_error(use_awaitable, ec));
    if (!running_) break;
    if (ec) continue;
    sockets_.insert(socket);
    asio::co_spawn(node_.executor(), session(socket), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("api session failed: {}", ex.what());
      }
    });
  }
}

ApiServer::ApiServer(Node& node, std::string token) : impl_(std::make_shared<Impl>(node, std::move(token))) {}
ApiServer::~ApiServer() {
  stop();
}

std::error_code ApiServer::start(const std::string& listen) {
  std::string host;
  std::uint16_t port = 0;
  if (!parse_address(listen, host, port)) return Errc::invalid_argument;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Errc::invalid_argument;
  tcp::endpoint endpoint(address, port);
  impl_->acceptor_.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor_.bind(endpoint, ec);
  if (!ec) impl_->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::error_code(ec.value(), std::system_category());
  impl_->running_ = true;
  asio::co_spawn(impl_->node_.executor(), impl_->accept_loop(), asio::detached);
  return {};
}

void ApiServer::stop() {
  if (!impl_->running_) return;
  impl_->running_ = false;
  boost::system::error_code ec;
  impl_->acceptor_.close(ec);
  for (const auto& s : impl_->sockets_) s->close(ec);
}

std::uint16_t ApiServer::port() const {
  boost::system::error_code ec;
  auto endpoint = impl_->acceptor_.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

std::string load_or_create_api_token(const std::string& data_dir) {
  auto path = std::filesystem::path(data_dir) / "api.token";
  {
    std::ifstream in(path);
    std::string token;
    if (in && std::getline(in, token) && !token.empty()) return token;
  }
  std::array<std::uint8_t, 24> raw{};
  randombytes_buf(raw.data(), raw.size());
  std::string token = to_hex(raw);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd >= 0) {
    auto line = token + "\n";
    [[maybe_unused]] auto n = ::write(fd, line.data(), line.size());
    ::fsync(fd);
    ::close(fd);
  }
  return token;
}

}  // namespace hyphae
