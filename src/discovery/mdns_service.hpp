// MdnsService: libp2p mDNS discovery on the LAN for one node, the socket side of mdns.hpp. It joins
// 224.0.0.251:5353 on every IPv4 interface (sharing the port with other responders such as
// avahi-daemon), asks for `_p2p._udp.local` when it starts, again after 1, 2, 4, ... seconds up to
// the query interval and then every interval, answers such questions with this node's addresses
// (at most once a second, RFC 6762 §6), and reports every peer it hears of. Packets over 9000 bytes or that
// do not decode are counted and dropped. Thread-safety: everything runs on the strand passed in (the node's).
// Ownership: owned by the node; stop() before destroying it.
#pragma once

#include <spdlog/logger.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>

#include "discovery/mdns.hpp"

namespace hyphae::discovery {

struct MdnsOptions {
  std::uint64_t query_interval_ms = 10'000;
  std::uint32_t ttl_s = 120;
};

struct MdnsCounters {
  std::uint64_t queries_sent = 0, answers_sent = 0, packets_received = 0, packets_dropped = 0,
                peers_heard = 0;
};

class MdnsService {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  using FoundHandler = std::function<void(const MdnsPeer&)>;
  MdnsService(Strand strand, PeerId self, MdnsOptions options, FoundHandler on_found,
              std::shared_ptr<spdlog::logger> log);
  ~MdnsService();
  // Starts advertising a TCP listener on `tcp_port` bound to `listen_host` (a wildcard host
  // advertises every interface's address; a loopback host advertises nothing but still listens).
  std::expected<void, std::string> start(std::uint16_t tcp_port, const std::string& listen_host);
  void stop();
  void query_now();
  const MdnsCounters& counters() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace hyphae::discovery
