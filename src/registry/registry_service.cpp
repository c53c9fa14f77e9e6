// RegistryService: routing, authorization, rate limits and the JSON of the registry's API.
#include "registry/registry_service.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "api/node_views.hpp"
#include "core/peer_id.hpp"
#include "discovery/peer_record.hpp"
#include "registry/mix_registry.hpp"
#include "util/json_util.hpp"

namespace hyphae::registry {

namespace {

RegistryReply error(int status, std::string message) {
  return RegistryReply{status, nlohmann::json{{"error", std::move(message)}}};
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto end = path.find('/');
    out.push_back(path.substr(0, end));
    if (end == std::string_view::npos) break;
    path.remove_prefix(end);
  }
  return out;
}

// The value of `name` in a query string ("a=1&b=2"); no percent-decoding (the values this API
// takes are numbers and PeerIds).
std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string join_coordinators(const discovery::PeerRecord& r) {
  std::string out;
  for (const auto& c : r.coordinators) out += (out.empty() ? "" : " ") + c.to_string();
  return out;
}

}  // namespace

std::string RegistryService::new_token() {
  std::array<std::uint8_t, 32> raw{};
  randombytes_buf(raw.data(), raw.size());
  std::string text(sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(text.data(), text.size(), raw.data(), raw.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  text.resize(std::strlen(text.c_str()));
  return "hyr_" + text;
}

std::string RegistryService::hash_token(std::string_view token) {
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(token.data()), token.size());
  std::string hex(digest.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  hex.pop_back();
  return hex;
}

bool RegistryService::valid_network(std::string_view network) {
  if (network.empty() || network.size() > 64) return false;
  return std::all_of(network.begin(), network.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

bool RegistryService::take_token(const std::string& token_hash) {
  const auto now = clock_.monotonic_ms();
  std::lock_guard lock(buckets_mutex_);
  auto it = buckets_.find(token_hash);
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.max_buckets) buckets_.erase(buckets_.begin());  // tokens are few
    it = buckets_.emplace(token_hash, Bucket{options_.burst, now}).first;
  }
  auto& b = it->second;
  b.tokens = std::min(options_.burst,
                      b.tokens + static_cast<double>(now - b.at_ms) * options_.requests_per_second / 1000);
  b.at_ms = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

std::optional<std::string> RegistryService::network_of(RegistryDb& db, const std::string& token_hash) {
  const auto now = clock_.monotonic_ms();
  {
    std::lock_guard lock(tokens_mutex_);
    if (auto it = tokens_.find(token_hash); it != tokens_.end() && it->second.until_ms > now)
      return it->second.network;
  }
  auto network = db.token_network(token_hash);
  if (!network) return network;  // unknown tokens are not cached: a flood of them cannot fill the cache
  std::lock_guard lock(tokens_mutex_);
  if (tokens_.size() >= options_.max_buckets) tokens_.clear();
  tokens_[token_hash] = CachedToken{*network, now + kTokenCacheMs};
  return network;
}

RegistryReply RegistryService::handle(RegistryDb& db, const RegistryRequest& request) {
  if (request.body.size() > options_.max_body_bytes)
    return error(413, "body over " + std::to_string(options_.max_body_bytes) + " bytes");
  try {
    return route(db, request);
  } catch (const RegistryDbError& e) {
    return error(503, std::string("database: ") + e.what());
  }
}

std::optional<RegistryReply> RegistryService::authorize(RegistryDb& db, const RegistryRequest& request,
                                                        const std::string& network) {
  constexpr std::string_view kBearer = "Bearer ";
  if (!request.authorization.starts_with(kBearer) || request.authorization.size() == kBearer.size())
    return error(401, "an 'Authorization: Bearer <token>' header is required");
  const auto hash = hash_token(std::string_view(request.authorization).substr(kBearer.size()));
  const auto token_network = network_of(db, hash);
  if (!token_network) return error(401, "unknown token");
  if (*token_network != network) return error(403, "this token is for another network");
  if (!take_token(hash)) return error(429, "too many requests for this token; slow down");
  return std::nullopt;
}

RegistryReply RegistryService::route(RegistryDb& db, const RegistryRequest& request) {
  const std::string_view target = request.target;
  const auto question = target.find('?');
  const auto path = target.substr(0, question);
  const auto query = question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  const auto seg = split_path(path);
  const bool get = request.method == "GET", post = request.method == "POST";
  if (seg.size() == 1 && seg[0] == "health") {
    if (!get) return error(405, "use GET");
    return {200, {{"ok", true}, {"backend", db.backend()}}};
  }
  if (seg.size() == 2 && seg[0] == "coordinator" && seg[1] == "heartbeat") {
    if (!post) return error(405, "use POST");
    auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (!body.is_object() || !body.contains("network") || !body["network"].is_string())
      return error(400, "'network' is required");
    const auto network = body["network"].get<std::string>();
    if (!valid_network(network)) return error(400, "bad network name");
    if (auto refused = authorize(db, request, network)) return *refused;
    return announce(db, network, request.body, true);
  }
  if (seg.size() >= 3 && seg[0] == "network") {
    const std::string network(seg[1]);
    if (!valid_network(network)) return error(400, "bad network name");
    if (seg.size() == 3 && seg[2] == "announce") {
      if (!post) return error(405, "use POST");
      if (auto refused = authorize(db, request, network)) return *refused;
      return announce(db, network, request.body, false);
    }
    if (seg.size() == 3 && seg[2] == "active-peers") {
      if (!get) return error(405, "use GET");
      if (auto refused = authorize(db, request, network)) return *refused;
      return active_peers(db, network, query);
    }
    if (seg.size() == 3 && (seg[2] == "mixes" || seg[2] == "mix-topology")) {
      if (!mixes_) return error(404, "this registry keeps no mix directory");
      const bool publish = seg[2] == "mixes";
      if (publish ? !post : !get) return error(405, publish ? "use POST" : "use GET");
      if (auto refused = authorize(db, request, network)) return *refused;
      return publish ? mixes_->publish(network, request.body) : mixes_->topology(network, query);
    }
    if (seg.size() == 4 && seg[2] == "peer") {
      if (!get) return error(405, "use GET");
      if (auto refused = authorize(db, request, network)) return *refused;
      return peer(db, network, std::string(seg[3]));
    }
  }
  return error(404, "no such route");
}

RegistryReply RegistryService::announce(RegistryDb& db, const std::string& network, const std::string& text,
                                        bool coordinator) {
  auto body = nlohmann::json::parse(text, nullptr, false);
  if (!body.is_object() || !body.contains("envelope_base64") || !body["envelope_base64"].is_string())
    return error(400, "'envelope_base64' (a signed peer record) is required");
  const auto envelope_text = body["envelope_base64"].get<std::string>();
  auto envelope = base64_decode(envelope_text);
  if (!envelope) return error(400, "'envelope_base64' is not base64");
  auto record = discovery::open_peer_record(*envelope);
  if (!record) return error(400, "not a valid signed peer record: " + record.error().message());
  const auto now = clock_.wall_ms();
  if (record->expires_ms && record->expires_ms <= now) return error(400, "the record has expired");
  if (coordinator && record->role == discovery::PeerRole::basic)
    return error(400, "a heartbeat comes from a RELAY or SUPER_PEER record");
  PeerRow row;
  row.network = network;
  row.peer = record->peer.to_string();
  row.seq = record->seq;
  row.envelope_base64 = envelope_text;
  row.role = std::string(discovery::to_string(record->role));
  row.coordinators = join_coordinators(*record);
  row.record_json = api::to_json(*record).dump();
  row.expires_ms = record->expires_ms ? std::min(record->expires_ms, now + options_.max_ttl_ms)
                                      : now + options_.max_ttl_ms;
  row.last_seen_ms = now;
  if (coordinator) db.heartbeat(network, CoordinatorRow{row.peer, now, envelope_text});
  switch (db.announce(row)) {
    case AnnounceResult::replay:
      return error(409, "an older record than the one held (seq " + std::to_string(record->seq) + ")");
    case AnnounceResult::repeat:
      return {200,
              {{"userId", row.peer}, {"seq", row.seq}, {"stored", false}, {"expires_ms", row.expires_ms}}};
    case AnnounceResult::stored:
      break;
  }
  return {201, {{"userId", row.peer}, {"seq", row.seq}, {"stored", true}, {"expires_ms", row.expires_ms}}};
}

RegistryReply RegistryService::peer(RegistryDb& db, const std::string& network, const std::string& peer) {
  if (!PeerId::from_string(peer)) return error(400, "not a PeerId: " + peer);
  const auto now = clock_.wall_ms();
  auto row = db.peer(network, peer, now);
  if (!row) return error(404, "no live announcement for this peer");
  nlohmann::json out{{"userId", row->peer},
                     {"online", row->last_seen_ms + options_.online_window_ms > now},
                     {"lastSeen", row->last_seen_ms},
                     {"expires_ms", row->expires_ms},
                     {"envelope_base64", row->envelope_base64}};
  // Verified when it was announced: shown as rendered then (no signature check per lookup).
  out["record"] = nlohmann::json::parse(row->record_json, nullptr, false);
  // The coordinators the peer was last attached to, with their own records so they can be dialed.
  auto coordinators = nlohmann::json::array();
  std::string_view list = row->coordinators;
  while (!list.empty()) {
    const auto space = list.find(' ');
    const std::string id(list.substr(0, space));
    nlohmann::json c{{"userId", id}};
    if (auto hb = db.coordinator(network, id)) {
      c["lastSeen"] = hb->last_seen_ms;
      c["online"] = hb->last_seen_ms + options_.online_window_ms > now;
      c["envelope_base64"] = hb->envelope_base64;
    } else {
      c["online"] = false;
    }
    coordinators.push_back(std::move(c));
    if (space == std::string_view::npos) break;
    list.remove_prefix(space + 1);
  }
  out["lastCoordinators"] = std::move(coordinators);
  return {200, std::move(out)};
}

RegistryReply RegistryService::active_peers(RegistryDb& db, const std::string& network,
                                            std::string_view query) {
  std::size_t limit = 100;
  if (auto text = query_value(query, "limit")) {
    std::size_t v = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec != std::errc{} || end != text->data() + text->size() || v == 0)
      return error(400, "'limit' must be a positive integer");
    limit = std::min(v, options_.max_page);
  }
  std::string cursor;
  if (auto text = query_value(query, "cursor")) {
    if (!text->empty() && !PeerId::from_string(*text))
      return error(400, "'cursor' must be a PeerId from a previous page");
    cursor = std::string(*text);
  }
  const auto now = clock_.wall_ms();
  auto rows = db.active_peers(network, now, cursor, limit);
  auto peers = nlohmann::json::array();
  for (const auto& r : rows)
    peers.push_back({{"userId", r.peer},
                     {"role", r.role},
                     {"online", r.last_seen_ms + options_.online_window_ms > now},
                     {"lastSeen", r.last_seen_ms},
                     {"envelope_base64", r.envelope_base64}});
  nlohmann::json out{{"peers", std::move(peers)}};
  out["next_cursor"] = rows.size() == limit ? nlohmann::json(rows.back().peer) : nlohmann::json(nullptr);
  return {200, std::move(out)};
}

}  // namespace hyphae::registry
