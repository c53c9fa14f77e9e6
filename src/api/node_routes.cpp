// The node's own API routes (docs/api.md), registered into the HTTP engine's RouteTable: messages,
// peers, status and metrics, connectivity, power, broadcasts, transports and fault injection, the
// message stream, and the BitChat-style aliases. Every handler runs on the node's strand.
#include "api/node_routes.hpp"

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <charconv>
#include <functional>
#include <nlohmann/json.hpp>

#include "api/node_views.hpp"
#include "core/error.hpp"
#include "files/transfer_core.hpp"
#include "node/config.hpp"
#include "node/node.hpp"
#include "util/json_util.hpp"

namespace hyphae::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::use_awaitable;
using json = nlohmann::json;

namespace {

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

// Reads the optional "privacy" field ("standard", "private", "anonymous"; true means anonymous,
// false standard) and "privacy_mode" ("strict", "balanced", "performance": the mixnet's route for
// this message); an error message if either is not one of those.
std::optional<std::string> read_privacy(const json& body, SendOptions& options) {
  if (body.contains("privacy")) {
    const auto& p = body["privacy"];
    if (p.is_boolean())
      options.privacy = p.get<bool>() ? Privacy::anonymous : Privacy::standard;
    else if (p == "standard")
      options.privacy = Privacy::standard;
    else if (p == "private")
      options.privacy = Privacy::private_;
    else if (p == "anonymous")
      options.privacy = Privacy::anonymous;
    else
      return "'privacy' must be standard, private, anonymous, true or false";
  }
  if (body.contains("privacy_mode")) {
    const auto& m = body["privacy_mode"];
    if (m == "strict")
      options.mix_mode = MixMode::strict;
    else if (m == "balanced")
      options.mix_mode = MixMode::balanced;
    else if (m == "performance")
      options.mix_mode = MixMode::performance;
    else
      return "'privacy_mode' must be strict, balanced or performance";
  }
  return std::nullopt;
}

// Reads the optional "transport" field (the transport preference); an error message if it
// is not a string or names a transport this node does not have.
// Also reads "redundancy" (redundant send: 1..8, at most the number of transports) and the
// privacy fields (read_privacy).
std::optional<std::string> read_transport(const Node& node, const json& body, SendOptions& options) {
  const auto names = node.transport_names();
  if (auto error = read_privacy(body, options)) return error;
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

awaitable<Response> post_message(Node& node_, Call& c) {
  const Request& req = c.req;
  const json& body = c.body;
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
  if (body.value("type", 0u) == files::kFileMessageType)
    co_return error_response(req, http::status::bad_request,
                             "'type' " + std::to_string(files::kFileMessageType) +
                                 " is reserved for file transfers (POST /v1/files)");
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

awaitable<Response> post_batch(Node& node_, Call& c) {
  const Request& req = c.req;
  const json& body = c.body;
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

awaitable<Response> ready(Response res) {
  co_return res;
}

Response metrics_text(Node& node, const Call& c) {
  Response res{http::status::ok, c.req.version()};
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.keep_alive(c.req.keep_alive());
  res.body() = node.metrics_text();
  res.prepare_payload();
  return res;
}

Response post_connectivity(Node& node, const Call& c) {
  const auto& body = c.body;
  if (!body.is_object() || !body.contains("online") ||
      !(body["online"].is_boolean() || body["online"].is_null()))
    return error_response(c.req, http::status::bad_request,
                          "'online' is required: true or false to override, null to detect again");
  std::optional<bool> online;
  if (body["online"].is_boolean()) online = body["online"].get<bool>();
  node.set_connectivity_override(online);  // the API runs on the node's strand
  return json_response(c.req, http::status::ok, to_json(node.connectivity_view()));
}

Response post_power(Node& node, const Call& c) {
  // Each field: a value overrides the measurement, null (or absent) returns to measuring.
  const auto& body = c.body;
  if (!body.is_object())
    return error_response(
        c.req, http::status::bad_request,
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
  if (!battery) return error_response(c.req, http::status::bad_request, "'battery' must be 0..1 or null");
  if (!temperature)
    return error_response(c.req, http::status::bad_request, "'temperature_c' must be -50..200 or null");
  std::optional<bool> charging;
  if (body.contains("charging") && !body["charging"].is_null()) {
    if (!body["charging"].is_boolean())
      return error_response(c.req, http::status::bad_request, "'charging' must be true, false or null");
    charging = body["charging"].get<bool>();
  }
  node.set_power_overrides(*battery, charging, *temperature);
  return json_response(c.req, http::status::ok, to_json(node.power_view()));
}

Response post_broadcast(Node& node, const Call& c) {
  const auto& body = c.body;
  if (!body.is_object() || !body.contains("text") || !body["text"].is_string() ||
      (body.contains("channel") && !body["channel"].is_string()))
    return error_response(c.req, http::status::bad_request,
                          "need {\"text\": string, \"channel\": optional name of letters, digits, - _ .}");
  const auto channel = body.value("channel", std::string());
  const auto& text = body["text"].get_ref<const std::string&>();
  SendOptions privacy;
  if (auto error = read_privacy(body, privacy))
    return error_response(c.req, http::status::bad_request, *error);
  auto sent = node.broadcast(
      channel, ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), privacy.privacy);
  if (!sent) {
    const auto ec = sent.error();
    return error_response(
        c.req, status_for(ec),
        ec == Errc::no_link
            ? (privacy.privacy == Privacy::anonymous ? "no anonymous broadcast-capable transport is available"
                                                     : "no broadcast-capable transport is available")
        : ec == Errc::too_large ? "'text' is over 4096 bytes"
                                : "'text' must not be empty; 'channel' is up to 64 letters, "
                                  "digits, - _ .");
  }
  return json_response(c.req, http::status::created, {{"sent_on", *sent}, {"channel", channel}});
}

// `after` and `limit` query parameters; false when either is not a number.
bool paging(const Call& c, std::uint64_t& after, std::uint64_t& limit) {
  if ((c.target.query.contains("after") && !parse_u64(c.target.query.at("after"), after)) ||
      (c.target.query.contains("limit") && !parse_u64(c.target.query.at("limit"), limit)))
    return false;
  limit = std::clamp<std::uint64_t>(limit, 1, kMaxRowsPerRequest);
  return true;
}

Response get_broadcasts(Node& node, const Call& c) {
  std::uint64_t after = 0, limit = 100;
  if (!paging(c, after, limit))
    return error_response(c.req, http::status::bad_request, "'after' and 'limit' must be numbers");
  return json_response(
      c.req, http::status::ok,
      {{"broadcasts", to_json_array(node.broadcasts(after, c.query("channel", "*"), limit))}});
}

Response post_fault(Node& node, const Call& c) {
  const auto& body = c.body;
  const auto& name = c.param("name");
  if (!body.is_object() || !body.contains("mode") || !body["mode"].is_string())
    return error_response(c.req, http::status::bad_request,
                          "'mode' is required: none, slow, lossy, offline or dead");
  if ((body.contains("delay_ms") && !body["delay_ms"].is_number_unsigned()) ||
      (body.contains("loss") && !body["loss"].is_number()))
    return error_response(c.req, http::status::bad_request,
                          "'delay_ms' must be a non-negative integer and 'loss' a number in [0, 1]");
  auto ec = node.inject_fault(name, body["mode"].get<std::string>(), body.value("delay_ms", 0ull),
                              body.value("loss", 0.0));
  if (ec == Errc::not_found)
    return error_response(c.req, http::status::not_found, "no transport named '" + name + "'");
  if (ec == Errc::unsupported)
    return error_response(c.req, http::status::conflict,
                          "fault injection is off on this node (config fault_injection: true)");
  if (ec)
    return error_response(c.req, http::status::bad_request,
                          "'mode' must be none, slow, lossy, offline or dead, and 'loss' in [0, 1]");
  return json_response(c.req, http::status::ok, {{"transports", to_json_array(node.transport_status())}});
}

awaitable<Response> post_peer(Node& node, Call& c) {
  const auto& body = c.body;
  const Request& req = c.req;
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
      [&](std::function<void(std::error_code)> done) { node.add_peer(*peer, addresses, std::move(done)); };
  auto ec = co_await await_result(start);
  if (ec) co_return error_response(req, status_for(ec), ec.message());
  co_return json_response(req, http::status::created,
                          {{"peer_id", peer->to_string()}, {"addresses", addresses}});
}

Response get_record(Node& node, const Call& c) {
  auto envelope = node.signed_record();
  if (!envelope) return error_response(c.req, status_for(envelope.error()), envelope.error().message());
  auto record = discovery::open_peer_record(*envelope);
  if (!record)
    return error_response(c.req, http::status::internal_server_error, "cannot read its own record");
  auto j = to_json(*record);
  j["envelope_base64"] = base64_encode(*envelope);
  return json_response(c.req, http::status::ok, j);
}

// Where the discovery chain stands for a peer; POST .../find starts a search first.
Response get_peer_discovery(Node& node, const Call& c, bool start) {
  auto peer = PeerId::from_string(c.param("id"));
  if (!peer) return error_response(c.req, http::status::bad_request, "not a PeerId: " + c.param("id"));
  if (*peer == node.peer_id())
    return error_response(c.req, http::status::bad_request, "this is the node's own PeerId");
  auto view = start ? node.find(*peer) : node.discovery_view(*peer);
  return json_response(c.req, start ? http::status::accepted : http::status::ok, to_json(view));
}

// A peer's signed record, given by the application (from a registry, a QR code, another node).
awaitable<Response> post_record(Node& node, Call& c) {
  const auto& body = c.body;
  const Request& req = c.req;
  if (!body.is_object() || !body.contains("envelope_base64") || !body["envelope_base64"].is_string())
    co_return error_response(req, http::status::bad_request,
                             "'envelope_base64' (a signed peer record) is required");
  auto envelope = base64_decode(body["envelope_base64"].get<std::string>());
  if (!envelope) co_return error_response(req, http::status::bad_request, "'envelope_base64' is not base64");
  std::function<void(std::function<void(std::expected<LearnedRecord, std::error_code>)>)> start =
      [&](std::function<void(std::expected<LearnedRecord, std::error_code>)> done) {
        node.learn_record(*envelope, "api", std::move(done));
      };
  auto learned = co_await await_result(start);
  if (!learned) {
    const auto ec = learned.error();
    if (ec == Errc::replay)
      co_return error_response(req, http::status::conflict, "an older record than the one held (a replay)");
    if (ec == Errc::stale) co_return error_response(req, http::status::bad_request, "the record has expired");
    if (ec == Errc::bad_signature || ec == Errc::peer_id_mismatch)
      co_return error_response(req, http::status::bad_request,
                               "the record's signature does not verify for the peer it names");
    if (ec == Errc::malformed)
      co_return error_response(req, http::status::bad_request, "not a signed peer record");
    co_return error_response(req, status_for(ec), ec.message());
  }
  auto j = to_json(learned->record);
  j["usable_addresses"] = learned->addresses;
  j["stored"] = learned->stored;
  co_return json_response(req, learned->stored ? http::status::created : http::status::ok, j);
}

Response get_messages(Node& node, const Call& c) {
  std::uint64_t after = 0, limit = kMaxRowsPerRequest;
  if (!paging(c, after, limit))
    return error_response(c.req, http::status::bad_request, "'after' and 'limit' must be integers");
  return json_response(c.req, http::status::ok, {{"messages", to_json_array(node.inbox(after, limit))}});
}

Response get_message(Node& node, const Call& c) {
  auto id = MessageId::from_hex(c.param("id"));
  if (!id) return error_response(c.req, http::status::bad_request, "message id must be 32 hex digits");
  auto st = node.status(*id);
  if (!st) return error_response(c.req, http::status::not_found, "no message with this id");
  return json_response(c.req, http::status::ok, to_json(*st));
}

Response post_ack(Node& node, const Call& c) {
  auto id = MessageId::from_hex(c.param("id"));
  if (!id) return error_response(c.req, http::status::bad_request, "message id must be 32 hex digits");
  auto st = node.status(*id);
  if (!st || st->direction != "in")
    return error_response(c.req, http::status::not_found, "no received message with this id");
  node.ack(*id);
  return json_response(c.req, http::status::ok, {{"id", id->to_hex()}, {"acknowledged", true}});
}

// ---- file transfers

Response get_files(Node& node, const Call& c) {
  json list = json::array();
  for (const auto& f : node.file_transfers()) list.push_back(to_json(f));
  return json_response(c.req, http::status::ok,
                       json{{"files", std::move(list)}, {"download_dir", node.download_dir().string()}});
}

Response get_file(Node& node, const Call& c) {
  auto id = files::transfer_id_from_hex(c.param("id"));
  if (!id) return error_response(c.req, http::status::bad_request, "not a transfer id (32 hex digits)");
  auto f = node.file_transfer(*id);
  if (!f) return error_response(c.req, http::status::not_found, "no such transfer");
  return json_response(c.req, http::status::ok, to_json(*f));
}

Response file_action(Node& node, const Call& c, std::string_view action) {
  auto id = files::transfer_id_from_hex(c.param("id"));
  if (!id) return error_response(c.req, http::status::bad_request, "not a transfer id (32 hex digits)");
  std::string reason = action == "decline" ? "declined" : "cancelled";
  if (c.body.is_object() && c.body.contains("reason")) {
    if (!c.body["reason"].is_string() || c.body["reason"].get<std::string>().size() > files::kMaxReasonBytes)
      return error_response(c.req, http::status::bad_request,
                            "'reason' must be a string of at most 512 bytes");
    reason = c.body["reason"].get<std::string>();
  }
  std::error_code ec = action == "accept"    ? node.accept_file(*id)
                       : action == "decline" ? node.decline_file(*id, reason)
                                             : node.cancel_file(*id, reason);
  if (ec == Errc::not_found) return error_response(c.req, http::status::not_found, "no such transfer");
  if (ec == Errc::invalid_argument)
    return error_response(c.req, http::status::conflict,
                          "the transfer is not in a state that allows " + std::string(action));
  if (ec == Errc::too_large)
    return error_response(c.req, http::status::insufficient_storage,
                          "not enough disk space: the offer was declined");
  if (ec) return error_response(c.req, http::status::service_unavailable, ec.message());
  return json_response(c.req, http::status::ok, to_json(*node.file_transfer(*id)));
}

awaitable<Response> post_file(Node& node, Call& c) {
  const Request& req = c.req;
  const json& body = c.body;
  if (!body.is_object())
    co_return error_response(req, http::status::bad_request, "body must be a JSON object");
  if (!body.contains("to") || !body["to"].is_string())
    co_return error_response(req, http::status::bad_request, "'to' (a PeerId) is required");
  auto to = PeerId::from_string(body["to"].get<std::string>());
  if (!to) co_return error_response(req, http::status::bad_request, "'to' is not a valid PeerId");
  if (!body.contains("path") || !body["path"].is_string() || body["path"].get<std::string>().empty())
    co_return error_response(req, http::status::bad_request,
                             "'path' (the file on this node's machine) is required");
  for (const char* key : {"name", "media_type"})
    if (body.contains(key) && !body[key].is_string())
      co_return error_response(req, http::status::bad_request, std::string("'") + key + "' must be a string");
  const std::string path = body["path"].get<std::string>(), name = body.value("name", ""),
                    media_type = body.value("media_type", "");
  using Result = std::expected<files::TransferId, std::string>;
  std::function<void(std::function<void(Result)>)> start = [&](std::function<void(Result)> done) {
    node.offer_file(*to, path, name, media_type, std::move(done));
  };
  auto result = co_await await_result(start);
  if (!result) co_return error_response(req, http::status::bad_request, result.error());
  auto f = node.file_transfer(*result);
  if (!f) co_return error_response(req, http::status::service_unavailable, "the transfer is gone");
  co_return json_response(req, http::status::created, to_json(*f));
}

// The message stream: a WebSocket upgrade the server takes over.
Response stream(Node& node, Call& c) {
  if (auto it = c.params.find("peer"); it != c.params.end() && it->second != node.peer_id().to_string())
    return error_response(c.req, http::status::not_found, "this node serves only its own peer id's stream");
  if (!websocket::is_upgrade(c.req))
    return error_response(c.req, http::status::bad_request,
                          "this path is a WebSocket; send an upgrade request");
  c.upgrade = true;
  return Response{};
}

}  // namespace

void add_node_routes(RouteTable& table, Node& node, const AuthRule& auth) {
  using v = http::verb;
  Node* const n = &node;  // the handlers keep a pointer: the Node outlives the table
  // A handler that answers at once; `fn` runs on the strand when the route is dispatched.
  auto now = [n](auto fn) { return [n, fn](Call& c) -> awaitable<Response> { return ready(fn(*n, c)); }; };
  auto json_of = [n](auto view) {
    return [n, view](Call& c) -> awaitable<Response> {
      return ready(json_response(c.req, http::status::ok, view(*n)));
    };
  };
  table.add({v::get, "/v1/health", AuthRule::anyone(), [](Call& c) {
               return ready(json_response(c.req, http::status::ok, {{"ok", true}}));
             }});
  table.add({v::get, "/metrics", auth, now(metrics_text)});
  table.add({v::get, "/v1/p2p/status", auth, json_of([](Node& n) { return to_json(n.status_view()); })});
  table.add({v::get, "/v1/p2p/connections", auth, json_of([](Node& n) {
               return json{{"connections", to_json_array(n.connections())}};
             })});
  table.add({v::get, "/v1/p2p/connectivity", auth,
             json_of([](Node& n) { return to_json(n.connectivity_view()); })});
  table.add({v::post, "/v1/p2p/connectivity", auth, now(post_connectivity)});
  table.add({v::get, "/v1/p2p/power", auth, json_of([](Node& n) { return to_json(n.power_view()); })});
  table.add({v::post, "/v1/p2p/power", auth, now(post_power)});
  table.add({v::post, "/v1/p2p/broadcast", auth, now(post_broadcast)});
  table.add({v::get, "/v1/p2p/broadcasts", auth, now(get_broadcasts)});
  table.add({v::get, "/v1/p2p/transports", auth, json_of([](Node& n) {
               return json{{"transports", to_json_array(n.transport_status())}};
             })});
  table.add({v::post, "/v1/p2p/transports/{name}/fault", auth, now(post_fault)});
  table.add({v::get, "/v1/p2p/routes", auth, json_of([](Node& n) {
               return json{{"routes", to_json_array(n.routes())}};
             })});
  table.add({v::get, "/v1/p2p/messages/stream", auth, now(stream)});
  auto peers = json_of([](Node& n) { return json{{"peers", to_json_array(n.peers())}}; });
  auto add_peer = [n](Call& c) { return post_peer(*n, c); };
  auto send = [n](Call& c) { return post_message(*n, c); };
  table.add({v::get, "/v1/peers", auth, peers});
  table.add({v::post, "/v1/peers", auth, add_peer});
  table.add({v::get, "/v1/p2p/record", auth, now(get_record)});
  table.add({v::get, "/v1/p2p/peers/{id}", auth,
             now([](Node& n, const Call& c) { return get_peer_discovery(n, c, false); })});
  table.add({v::post, "/v1/p2p/peers/{id}/find", auth,
             now([](Node& n, const Call& c) { return get_peer_discovery(n, c, true); })});
  table.add({v::get, "/v1/p2p/discovery", auth, json_of([](Node& n) {
               auto j = to_json(n.discovery_counters());
               const auto& r = n.registry_counters();
               j["registry"] = {{"url", n.config().registry_url},
                                {"network", n.config().registry_network},
                                {"announces", r.announces},
                                {"announce_failures", r.announce_failures},
                                {"lookups", r.lookups},
                                {"lookups_found", r.lookups_found},
                                {"lookup_failures", r.lookup_failures},
                                {"last_error", r.last_error}};
               const auto relay = n.relay_view();
               auto reserved_at = nlohmann::json::array();
               for (const auto& p : relay.reserved_at) reserved_at.push_back(p.to_string());
               j["relay"] = {{"serving", relay.serving},
                             {"reservations", relay.stats.reservations},
                             {"circuits", relay.stats.circuits},
                             {"circuits_open", relay.stats.circuits_open},
                             {"circuits_opened", relay.stats.circuits_opened},
                             {"circuits_refused", relay.stats.circuits_refused},
                             {"reservations_refused", relay.stats.reservations_refused},
                             {"bytes_relayed", relay.stats.bytes_relayed},
                             {"messages_relayed", relay.stats.messages_relayed},
                             {"dropped", relay.stats.dropped},
                             {"held_messages", relay.held_messages},
                             {"held_stored", relay.held_stored},
                             {"held_delivered", relay.held_delivered},
                             {"held_refused", relay.held_refused},
                             {"held_at_relays", relay.held_at_relays},
                             {"punch_attempts", relay.punch_attempts},
                             {"punch_successes", relay.punch_successes},
                             {"reserved_at", reserved_at}};
               return j;
             })});
  table.add({v::post, "/v1/p2p/records", auth, [n](Call& c) { return post_record(*n, c); }});
  table.add({v::get, "/v1/files", auth, now(get_files)});
  table.add({v::post, "/v1/files", auth, [n](Call& c) { return post_file(*n, c); }});
  table.add({v::get, "/v1/files/{id}", auth, now(get_file)});
  table.add({v::post, "/v1/files/{id}/accept", auth,
             now([](Node& n, const Call& c) { return file_action(n, c, "accept"); })});
  table.add({v::post, "/v1/files/{id}/decline", auth,
             now([](Node& n, const Call& c) { return file_action(n, c, "decline"); })});
  table.add({v::post, "/v1/files/{id}/cancel", auth,
             now([](Node& n, const Call& c) { return file_action(n, c, "cancel"); })});
  table.add({v::get, "/v1/messages", auth, now(get_messages)});
  table.add({v::post, "/v1/messages", auth, send});
  table.add({v::post, "/v1/messages/batch", auth, [n](Call& c) { return post_batch(*n, c); }});
  table.add({v::get, "/v1/messages/{id}", auth, now(get_message)});
  table.add({v::post, "/v1/messages/{id}/ack", auth, now(post_ack)});
  // The BitChat backend aliases (docs/api.md).
  table.add({v::get, "/api/bitchat/peers", auth, peers});
  table.add({v::post, "/api/bitchat/peers/register", auth, add_peer});
  table.add({v::post, "/api/bitchat/messages/send", auth, send});
  table.add({v::get, "/api/bitchat/ws/{peer}", auth, now(stream)});
}

}  // namespace hyphae::api
