// DirectoryClient: a mix's or an endpoint's side of the registry's mix directory. It publishes the
// caller's signed descriptor (POST /network/{id}/mixes) and fetches topology documents
// (GET /network/{id}/mix-topology?epoch=N), keeping those that verify against the registry's
// PeerId in a TopologyBook. Without a configured registry PeerId, the first one seen is trusted
// (and logged).
// Thread-safety: everything on the strand given; HTTP answers come back there. Ownership: shared
// (pending requests hold weak references); stop() makes late answers a no-op.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <optional>
#include <string>

#include "betanet/directory/directory.hpp"

namespace spdlog {
class logger;
}

namespace hyphae::betanet {

struct DirectoryClientOptions {
  std::string registry_url, token, network;
  std::optional<PeerId> registry;  // the PeerId that signs topologies
};

struct DirectoryCounters {
  std::uint64_t publishes = 0, publish_failures = 0, topologies = 0, topology_failures = 0;
};

class DirectoryClient : public std::enable_shared_from_this<DirectoryClient> {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  DirectoryClient(Strand strand, DirectoryClientOptions options, std::shared_ptr<spdlog::logger> log);
  void publish(const Bytes& descriptor_envelope);
  // Fetches `epoch`'s topology; a verified one goes into the book (as seen from `current_epoch`).
  void fetch(std::uint64_t epoch, std::uint64_t current_epoch);
  void stop() { stopped_ = true; }
  TopologyBook& book() { return book_; }
  const TopologyBook& book() const { return book_; }
  const DirectoryCounters& counters() const { return counters_; }

 private:
  Strand strand_;
  DirectoryClientOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  TopologyBook book_;
  DirectoryCounters counters_;
  bool stopped_ = false;
};

}  // namespace hyphae::betanet
