// MixNode: the `hyphae mixnode` server. It takes HTX links (TLS 1.3 + Noise XK with its identity's
// X25519 key), reads Sphinx packets from them (every 2394 bytes of a stream is one packet), runs
// them through MixCore (unwrap, replay check, Poisson delay, cover traffic) and sends each on over
// an HTX link it dials to the next mix named in the topology.
//
// Key epochs follow the wall clock (epoch = floor(unix ms / epoch_ms), as the registry counts
// them). Routing keys live in memory only: at start and at each epoch change the node makes the
// key for the next epoch, publishes a descriptor holding the current and the next epoch's keys to
// the registry, fetches the topologies of both epochs (verified against the registry's PeerId) and
// lets MixCore retire the old keys.
// Bounds: incoming links (max_links; more are closed at accept), outgoing links (one per next hop,
// at most max_links), packets waiting for an outgoing link to come up (64 per link; more dropped).
// Thread-safety: everything on the strand of the io_context given. Ownership: owns its links.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "betanet/mix/mix_core.hpp"

namespace spdlog {
class logger;
}

namespace hyphae::mix {

struct MixNodeOptions {
  std::string listen = "127.0.0.1:0";  // host:port for HTX links
  std::string data_dir;                // its identity (PeerId, link key)
  std::string registry_url;            // http(s)://host:port of `hyphae registry --mix-identity`
  std::string registry_peer;           // the registry's PeerId (empty: trusted on first use)
  std::string token, network;          // for the registry
  std::uint32_t layer = 1;
  std::string group;
  std::uint64_t epoch_ms = 3'600'000;  // must be the registry's --mix-epoch
  std::size_t max_links = 256;
  MixOptions mix;
  std::string status_file;  // when set: counters as JSON, rewritten every second
};

class MixNode {
 public:
  MixNode(boost::asio::io_context& io, MixNodeOptions options, std::shared_ptr<spdlog::logger> log);
  ~MixNode();
  // Loads the identity, binds, starts publishing. Errors are sentences.
  std::expected<void, std::string> start();
  void stop();
  std::uint16_t port() const;
  std::string peer_id() const;
  nlohmann::json status() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace hyphae::mix
