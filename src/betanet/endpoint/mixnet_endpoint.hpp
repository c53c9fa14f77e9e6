// MixnetEndpoint: a node's presence in the mixnet — the part of the BetaNet transport below the
// node. It publishes an endpoint descriptor (layer 0: its HTX address, link key and routing key)
// to the registry's mix directory, keeps the verified topologies, and sends and receives private
// messages: each goes out by PrivateDelivery along a route RouteChooser picks with the node's VRF
// key (its Ed25519 identity), over PacketLinks to the first mix; messages and acks for this node
// arrive as the last hop of their routes.
//
// Routing keys rotate per key epoch as the mixes' do: the current and the next epoch's are
// published, older than the previous epoch are wiped. Senders are anonymous: a delivered message
// carries its id and payload, not who sent it.
// Thread-safety: everything on the strand of the io_context given; callbacks run there.
// Ownership: owns its links and keys.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "betanet/delivery/private_delivery.hpp"
#include "core/identity.hpp"

namespace spdlog {
class logger;
}

namespace hyphae::betanet {

struct MixnetEndpointOptions {
  std::string listen = "127.0.0.1:0";
  std::string registry_url, registry_peer, token, network;
  std::string group;
  std::uint64_t epoch_ms = 3'600'000;
  std::size_t mixes_per_route = 3;  // for send() without a count of its own
  std::size_t min_mixes = 0;        // published: senders route through at least this many mixes
  std::size_t max_links = 64;
  // Loop cover packets a second (Poisson), through mixes_per_route mixes back to this node: an
  // observer of its link sees traffic whether or not it sends. 0: none.
  double loop_rate = 0.5;
  // Drop cover packets a second (Poisson) to a random mix, which drops them. 0: none.
  double drop_rate = 0.5;
  PrivateDeliveryOptions delivery;
};

struct MixnetEndpointCallbacks {
  std::function<void(const MessageId&, Bytes payload)> on_delivered;
  std::function<void(const MessageId&)> on_acked;
  std::function<void(const MessageId&)> on_given_up;
};

class MixnetEndpoint {
 public:
  MixnetEndpoint(boost::asio::io_context& io, const Identity& identity, MixnetEndpointOptions options,
                 MixnetEndpointCallbacks callbacks, std::shared_ptr<spdlog::logger> log);
  // On a strand of the caller's (a node's): its calls and callbacks then need no hand-over.
  MixnetEndpoint(boost::asio::strand<boost::asio::any_io_executor> strand, const Identity& identity,
                 MixnetEndpointOptions options, MixnetEndpointCallbacks callbacks,
                 std::shared_ptr<spdlog::logger> log);
  ~MixnetEndpoint();
  std::expected<void, std::string> start();
  void stop();
  // Sends `payload` to `to` (an endpoint in the topology) privately over routes of `mixes` mixes
  // (nullopt: mixes_per_route; raised to the recipient's published min_mixes); errors as
  // PrivateDelivery's. Call on the endpoint's strand (post it there).
  std::expected<void, std::string> send(const MessageId& id, const PeerId& to, ByteView payload,
                                        std::optional<std::size_t> mixes = std::nullopt);
  bool in_flight(const MessageId& id) const;
  // Private messages not yet acknowledged (send() refuses more at delivery.max_outstanding).
  std::size_t outstanding() const;
  // Without delivery.auto_acknowledge: message `id` was taken for good; its ack goes back now
  // (false: no reply block is held for it).
  bool acknowledge(const MessageId& id);
  // True once the current topology lists `peer` as an endpoint (and at least one mix).
  bool can_reach(const PeerId& peer) const;
  // The other endpoints the usable topology lists.
  std::vector<PeerId> endpoints() const;
  // The epoch of the topology routes use now (nullopt: none yet).
  std::optional<std::uint64_t> topology_epoch() const;
  boost::asio::strand<boost::asio::any_io_executor> strand() const;
  nlohmann::json status() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace hyphae::betanet
