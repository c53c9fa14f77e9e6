// Node::Impl's client of the peer registry (docs/registry.md): it announces the node's signed
// record every registry_announce_interval_ms, and the discovery chain's registry step looks a
// PeerId up there. A found record is checked like any other (learn_record): the registry cannot
// forge or replay it.
#include <nlohmann/json.hpp>

#include "net/http_fetch.hpp"
#include "node/node_impl.hpp"
#include "util/json_util.hpp"

namespace hyphae {

namespace {

std::string registry_base(const NodeConfig& config) {
  auto base = config.registry_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

}  // namespace

void Node::Impl::tick_registry() {
  if (config.registry_url.empty() || announce_in_flight) return;
  const auto now = clock->monotonic_ms();
  if (now < next_announce_ms) return;
  next_announce_ms = now + config.registry_announce_interval_ms;
  announce_to_registry();
}

void Node::Impl::announce_to_registry() {
  const auto& record = current_own_record();
  if (record.empty()) return;
  net::HttpRequest request;
  request.method = "POST";
  // A coordinator (relay or super peer) sends heartbeats: they announce it and mark it online for
  // the peers that list it.
  const bool coordinator = config.role != "basic";
  request.url = registry_base(config) + (coordinator ? "/coordinator/heartbeat"
                                                     : "/network/" + config.registry_network + "/announce");
  request.bearer_token = config.registry_token;
  request.ca_file = config.registry_ca_file;
  nlohmann::json body{{"envelope_base64", base64_encode(record)}};
  if (coordinator) body["network"] = config.registry_network;
  request.body = body.dump();
  announce_in_flight = true;
  net::http_fetch(strand, std::move(request), [self = shared_from_this()](net::HttpResult r) {
    self->announce_in_flight = false;
    auto& c = self->registry_counters;
    if (r.status == 200 || r.status == 201) {
      if (c.announces == 0) self->log->info("announced to the registry {}", self->config.registry_url);
      ++c.announces;
      return;
    }
    ++c.announce_failures;
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    c.last_error = r.status ? "announce: " + std::to_string(r.status) + " " +
                                  (body.is_object() ? body.value("error", r.body) : r.body)
                            : "announce: " + r.error;
    self->log->warn("registry {}: {}", self->config.registry_url, c.last_error);
    // Try again sooner than the interval, but not in a tight loop.
    self->next_announce_ms = std::min(self->next_announce_ms, self->clock->monotonic_ms() + 5000);
  });
}

void Node::Impl::look_up_in_registry(const PeerId& peer) {
  net::HttpRequest request;
  request.url = registry_base(config) + "/network/" + config.registry_network + "/peer/" + peer.to_string();
  request.bearer_token = config.registry_token;
  request.ca_file = config.registry_ca_file;
  ++registry_counters.lookups;
  net::http_fetch(strand, std::move(request), [self = shared_from_this(), peer](net::HttpResult r) {
    auto& c = self->registry_counters;
    auto empty = [&](std::string why) {
      self->run_discovery(self->chain.empty(peer, discovery::Step::registry, std::move(why)));
    };
    if (r.status == 404) return empty("the registry does not know it");
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (r.status != 200 || !body.is_object() || !body.contains("envelope_base64") ||
        !body["envelope_base64"].is_string()) {
      ++c.lookup_failures;
      c.last_error = r.status ? "lookup: " + std::to_string(r.status) : "lookup: " + r.error;
      return empty("registry: " + (r.status ? "answered " + std::to_string(r.status) : r.error));
    }
    auto envelope = base64_decode(body["envelope_base64"].get<std::string>());
    if (!envelope) return empty("registry: the record is not base64");
    // The coordinators it was last seen with come with their own signed records: learned first, so
    // a circuit through one of them can dial it (at most a few; each is checked like any record).
    if (body.contains("lastCoordinators") && body["lastCoordinators"].is_array()) {
      std::size_t taken = 0;
      for (const auto& c : body["lastCoordinators"]) {
        if (++taken > 4) break;
        if (!c.is_object() || !c.contains("envelope_base64") || !c["envelope_base64"].is_string()) continue;
        if (auto record = base64_decode(c["envelope_base64"].get<std::string>()))
          self->learn_record(*record, "registry", [](auto) {});
      }
    }
    self->learn_record(
        *envelope, "registry", [self, peer](std::expected<LearnedRecord, std::error_code> learned) {
          auto& c = self->registry_counters;
          if (!learned || learned->record.peer != peer) {
            self->run_discovery(
                self->chain.empty(peer, discovery::Step::registry,
                                  "registry: its record was refused: " +
                                      (learned ? std::string("another peer's") : learned.error().message())));
            return;
          }
          if (learned->stored) ++self->discovery_counters.records_learned;
          if (learned->addresses.empty()) {
            self->run_discovery(self->chain.empty(peer, discovery::Step::registry,
                                                  "registry: its record has no address this node can dial"));
            return;
          }
          ++c.lookups_found;
          ++self->discovery_counters.found;
          self->run_discovery(self->chain.found(peer, discovery::Step::registry));
          for (auto& slot : self->transports) slot.transport->connect_soon(peer);
        });
  });
}

const RegistryCounters& Node::registry_counters() const {
  return impl_->registry_counters;
}

}  // namespace hyphae
