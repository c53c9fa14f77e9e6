// PacketLinks: Sphinx packets over HTX links, both ways, for a mix node or a mixnet endpoint. It
// accepts HTX links (each stream's bytes cut into 2394-byte packets, handed to `on_packet`) and
// dials one link per next hop on demand (resolved from the topology by `resolve`), queueing a few
// packets while the link comes up.
// Bounds: incoming links and outgoing links (max_links each; more are closed or dropped), packets
// waiting for a link to come up (64 per link).
// Thread-safety: everything on the strand given; callbacks run there. Ownership: shared (the
// links' callbacks hold weak references); close() ends every link.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "betanet/htx/htx_link.hpp"
#include "betanet/sphinx/sphinx.hpp"

namespace spdlog {
class logger;
}

namespace hyphae::htx {

struct PacketPeer {
  std::string host;
  std::uint16_t port = 0;
  std::array<std::uint8_t, 32> link_key{};
};
// "/ip4/HOST/tcp/PORT" (or /ip6/, /dns/) and a link key -> where to dial.
std::optional<PacketPeer> packet_peer(const std::string& multiaddr,
                                      const std::array<std::uint8_t, 32>& link_key);

struct PacketLinkCounters {
  std::uint64_t links_refused = 0, unknown_next_hop = 0, dropped = 0;
  // What arrived on incoming links: packets, stream frames, and frames that were not a whole
  // number of packets (an observer of the link would see a size other than a packet's multiple).
  std::uint64_t packets_in = 0, frames_in = 0, frames_not_whole_packets = 0;
};

class PacketLinks : public std::enable_shared_from_this<PacketLinks> {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  using Resolve = std::function<std::optional<PacketPeer>(const sphinx::NodeId&)>;
  using OnPacket = std::function<void(ByteView packet)>;

  PacketLinks(Strand strand, const noise::KeyPair& local, std::size_t max_links, Resolve resolve,
              OnPacket on_packet, std::shared_ptr<spdlog::logger> log);
  ~PacketLinks();
  // Binds host:port (an IP address) and accepts; the multiaddr to advertise, or why not.
  std::expected<std::string, std::string> listen(const std::string& host_port);
  std::uint16_t port() const;
  void send(const sphinx::NodeId& to, Bytes packet);
  void close();
  std::size_t links_in() const;
  std::size_t links_out() const;
  const PacketLinkCounters& counters() const;

  struct Impl;

 private:
  void accept_next();
  std::unique_ptr<Impl> impl_;
};

}  // namespace hyphae::htx
