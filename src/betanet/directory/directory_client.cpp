#include "betanet/directory/directory_client.hpp"

#include <spdlog/spdlog.h>

#include "net/http_fetch.hpp"
#include "util/json_util.hpp"

namespace hyphae::betanet {

DirectoryClient::DirectoryClient(Strand strand, DirectoryClientOptions options,
                                 std::shared_ptr<spdlog::logger> log)
    : strand_(std::move(strand)), options_(std::move(options)), log_(std::move(log)) {}

void DirectoryClient::publish(const Bytes& descriptor_envelope) {
  if (options_.registry_url.empty() || stopped_) return;
  net::HttpRequest r;
  r.method = "POST";
  r.url = options_.registry_url + "/network/" + options_.network + "/mixes";
  r.bearer_token = options_.token;
  r.body = nlohmann::json{{"envelope_base64", base64_encode(descriptor_envelope)}}.dump();
  std::weak_ptr<DirectoryClient> weak = shared_from_this();
  net::http_fetch(strand_, r, [weak](net::HttpResult result) {
    auto self = weak.lock();
    if (!self || self->stopped_) return;
    if (result.status == 200) {
      ++self->counters_.publishes;
    } else {
      ++self->counters_.publish_failures;
      self->log_->warn("mix directory: publishing the descriptor failed: {} {}", result.status,
                       result.error.empty() ? result.body : result.error);
    }
  });
}

void DirectoryClient::fetch(std::uint64_t epoch, std::uint64_t current_epoch) {
  if (options_.registry_url.empty() || stopped_) return;
  net::HttpRequest r;
  r.url =
      options_.registry_url + "/network/" + options_.network + "/mix-topology?epoch=" + std::to_string(epoch);
  r.bearer_token = options_.token;
  std::weak_ptr<DirectoryClient> weak = shared_from_this();
  net::http_fetch(strand_, r, [weak, current_epoch](net::HttpResult result) {
    auto self = weak.lock();
    if (!self || self->stopped_) return;
    auto body = nlohmann::json::parse(result.body, nullptr, false);
    if (result.status != 200 || !body.is_object() || !body.contains("envelope_base64") ||
        !body["envelope_base64"].is_string()) {
      ++self->counters_.topology_failures;
      return;
    }
    if (!self->options_.registry) {
      auto claimed = PeerId::from_string(body.value("registry", std::string()));
      if (!claimed) {
        ++self->counters_.topology_failures;
        return;
      }
      self->options_.registry = *claimed;
      self->log_->warn("mix directory: trusting the registry key {} on first use (configure its PeerId)",
                       claimed->to_string());
    }
    const auto bytes = base64_decode(body["envelope_base64"].get<std::string>());
    auto t = bytes ? open_topology(*bytes, *self->options_.registry)
                   : std::expected<Topology, std::string>(std::unexpected("not base64"));
    if (!t) {
      ++self->counters_.topology_failures;
      self->log_->warn("mix directory: topology refused: {}", t.error());
      return;
    }
    ++self->counters_.topologies;
    self->book_.add(std::move(*t), current_epoch);
  });
}

}  // namespace hyphae::betanet
