// RouteTable dispatch and the JSON response helpers (see route_table.hpp).
#include "api/route_table.hpp"

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <stdexcept>

#include "util/json_util.hpp"

namespace hyphae::api {

namespace http = boost::beast::http;
using boost::asio::awaitable;
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

namespace {
bool is_capture(std::string_view s) {
  return s.size() >= 2 && s.front() == '{' && s.back() == '}';
}
}  // namespace

void RouteTable::add(Route route) {
  if (route.pattern.empty() || route.pattern.front() != '/' || !route.handler)
    throw std::invalid_argument("route pattern must start with '/' and have a handler: " + route.pattern);
  auto segments = parse_target(route.pattern).segments;
  Entry e{std::move(route), std::move(segments)};
  for (const auto& other : routes_)
    if (other.route.method == e.route.method && other.segments == e.segments)
      throw std::invalid_argument("route added twice: " + e.route.pattern);
  routes_.push_back(std::move(e));
}

bool RouteTable::matches(const Entry& e, const std::vector<std::string>& seg, Call* call) {
  if (e.segments.size() != seg.size()) return false;
  for (std::size_t i = 0; i < seg.size(); ++i) {
    const auto& p = e.segments[i];
    if (is_capture(p)) {
      if (seg[i].empty()) return false;
      if (call) call->params[p.substr(1, p.size() - 2)] = seg[i];
    } else if (p != seg[i]) {
      return false;
    }
  }
  return true;
}

awaitable<Response> RouteTable::dispatch(const Request& req, bool& upgrade) {
  upgrade = false;
  const Target target = parse_target(req.target());
  const Entry* found = nullptr;
  std::vector<const Entry*> on_path;
  // A literal segment beats a capture ("/v1/messages/batch" before "/v1/messages/{id}"): among the
  // routes for this method, the one with the fewest captures wins.
  auto captures = [](const Entry& e) {
    return std::count_if(e.segments.begin(), e.segments.end(),
                         [](const std::string& s) { return is_capture(s); });
  };
  for (const auto& e : routes_) {
    if (!matches(e, target.segments, nullptr)) continue;
    on_path.push_back(&e);
    if (e.route.method == req.method() && (!found || captures(e) < captures(*found))) found = &e;
  }
  auto refused = [&](const AuthRule& rule) { return !rule.open() && !rule.allows(req, target); };
  if (on_path.empty()) {
    if (refused(fallback_)) co_return error_response(req, http::status::unauthorized, fallback_.refusal);
    co_return error_response(req, http::status::not_found, "no such route: " + std::string(req.target()));
  }
  if (!found) {
    // Known path, other method: say which methods it answers (to callers allowed on it).
    if (refused(on_path.front()->route.auth))
      co_return error_response(req, http::status::unauthorized, on_path.front()->route.auth.refusal);
    std::vector<http::verb> methods;
    for (const auto* e : on_path)
      if (std::find(methods.begin(), methods.end(), e->route.method) == methods.end())
        methods.push_back(e->route.method);
    std::sort(methods.begin(), methods.end());
    std::string allow;
    for (auto m : methods) allow += (allow.empty() ? "" : ", ") + std::string(http::to_string(m));
    auto res = error_response(req, http::status::method_not_allowed,
                              std::string(req.method_string()) + " is not allowed here; use " + allow);
    res.set(http::field::allow, allow);
    co_return res;
  }
  if (refused(found->route.auth))
    co_return error_response(req, http::status::unauthorized, found->route.auth.refusal);
  Call call{req, target, {}, json(), false};
  matches(*found, target.segments, &call);
  const auto m = req.method();
  // An empty body is no body (null), for actions that take no arguments (POST .../find).
  if ((m == http::verb::post || m == http::verb::put || m == http::verb::patch || m == http::verb::delete_) &&
      !req.body().empty()) {
    call.body = json::parse(req.body(), nullptr, false);
    if (call.body.is_discarded())
      co_return error_response(req, http::status::bad_request, "body is not valid JSON");
  }
  Response res = co_await found->route.handler(call);
  upgrade = call.upgrade;
  co_return res;
}

}  // namespace hyphae::api
