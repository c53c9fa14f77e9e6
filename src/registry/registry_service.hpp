// RegistryService: the registry's REST API as a function from a request to a reply, without
// sockets (the server in registry_server.hpp carries the bytes):
//   GET  /health                                  no token
//   POST /network/{networkId}/announce            {"envelope_base64": signed peer record}
//   GET  /network/{networkId}/peer/{userId}       online, lastSeen, lastCoordinators, the record
//   GET  /network/{networkId}/active-peers        ?limit=N&cursor=C (paginated, PeerId order)
//   POST /coordinator/heartbeat                   {"network": N, "envelope_base64": its record}
//   POST /network/{networkId}/mixes, GET /network/{networkId}/mix-topology: the mix directory
//        (mix_registry.hpp), when the server runs one
// Every other route needs `Authorization: Bearer <token>` for that network (tokens are stored as
// SHA-256 hashes). An announce must carry the peer's own signature, so a token holder cannot
// announce someone else; an older record than the one held is refused (409). Announcements expire
// at the record's expiry, at most max_ttl_ms after the announce. Requests are rate-limited per
// token; bodies are bounded. Errors are {"error": "..."} with a 4xx status (503: database).
// Thread-safety: handle() may run on several threads at once, each with its own RegistryDb.
// Ownership: values; the Clock must outlive the service.
#pragma once

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.hpp"
#include "registry/registry_db.hpp"

namespace hyphae::registry {

class MixRegistry;

struct RegistryOptions {
  std::uint64_t max_ttl_ms = 3600'000;       // an announcement lives at most this long
  std::uint64_t online_window_ms = 300'000;  // "online": announced (or heartbeat) this recently
  double requests_per_second = 200;          // per token
  double burst = 400;
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_page = 1000;       // active-peers rows per page
  std::size_t max_buckets = 10'000;  // rate-limit buckets kept (the oldest is dropped past this)
};

struct RegistryRequest {
  std::string method;  // GET, POST, ...
  std::string target;  // path and query
  std::string authorization;
  std::string body;
};

struct RegistryReply {
  int status = 200;
  nlohmann::json body;
};

class RegistryService {
 public:
  RegistryService(RegistryOptions options, const Clock& clock) : options_(options), clock_(clock) {}
  RegistryReply handle(RegistryDb& db, const RegistryRequest& request);
  // Serves the mix directory routes from `mixes` (not owned; null: 404 on them).
  void set_mix_registry(MixRegistry* mixes) { mixes_ = mixes; }
  const RegistryOptions& options() const { return options_; }

  // A new random bearer token ("hyr_" + 43 base64url characters) and the hash stored for it.
  static std::string new_token();
  static std::string hash_token(std::string_view token);
  static bool valid_network(std::string_view network);  // [A-Za-z0-9._-]{1,64}

 private:
  RegistryReply route(RegistryDb& db, const RegistryRequest& request);
  // The network the request's token is for; an error reply when there is none or it is refused.
  std::optional<RegistryReply> authorize(RegistryDb& db, const RegistryRequest& request,
                                         const std::string& network);
  bool take_token(const std::string& token_hash);
  // A token's network, from a small cache (kTokenCacheMs) in front of the database.
  std::optional<std::string> network_of(RegistryDb& db, const std::string& token_hash);
  static constexpr std::uint64_t kTokenCacheMs = 10'000;
  struct CachedToken {
    std::string network;
    std::uint64_t until_ms;
  };
  MixRegistry* mixes_ = nullptr;
  std::mutex tokens_mutex_;
  std::unordered_map<std::string, CachedToken> tokens_;
  RegistryReply announce(RegistryDb& db, const std::string& network, const std::string& body,
                         bool coordinator);
  RegistryReply peer(RegistryDb& db, const std::string& network, const std::string& peer);
  RegistryReply active_peers(RegistryDb& db, const std::string& network, std::string_view query);

  RegistryOptions options_;
  const Clock& clock_;
  struct Bucket {
    double tokens;
    std::uint64_t at_ms;
  };
  std::mutex buckets_mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace hyphae::registry
