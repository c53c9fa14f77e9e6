// TransferLimits: the bounds and pacing of file transfers (config `files:`), a plain value.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hyphae::files {

struct TransferLimits {
  std::uint64_t max_file_bytes = std::uint64_t{4} << 30;  // larger incoming offers are declined
  std::uint32_t chunk_size = 256 * 1024;                  // what this node offers
  std::uint64_t window_bytes = std::uint64_t{8} << 20;    // sent ahead of the receiver's report
  std::size_t read_ahead = 4;                             // chunk reads in flight per transfer
  std::uint64_t progress_every_bytes = std::uint64_t{1} << 20;
  std::uint64_t stall_ms = 10'000;       // nothing reported for this long with bytes out: resend
  std::uint32_t max_bad_chunks = 3;      // chunks failing their hash before the transfer fails
  std::size_t max_offers_per_peer = 16;  // incoming transfers not finished, per peer
  std::size_t max_incoming = 128;        // incoming transfers not finished, in all
  std::size_t max_finished = 1000;       // finished transfers remembered; the oldest are forgotten
  bool auto_accept = false;
};

}  // namespace hyphae::files
