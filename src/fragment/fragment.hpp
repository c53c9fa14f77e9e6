// Fragmentation for transports with a small MTU (the router's message fragmentation): split a
// message into fragments that each fit the transport's MTU and carry a CRC32 of their data, optionally
// LZ4-compressing the message first, and reassemble them on the other side with a timeout and
// memory caps per peer and in total. Wire format: docs/wire-format.md, "Fragments".
// Sans-IO and clock-free (the caller passes now_ms). Not thread-safe: one owner (a transport's
// strand) calls every method. Ownership: fragment() returns owned buffers; the Reassembler owns
// the partial messages it holds and hands completed ones out by value.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"

namespace hyphae::fragment {

inline constexpr std::uint8_t kVersion = 1;
// version, flags, set id (16), index, count, total size, plain size, CRC32.
inline constexpr std::size_t kHeaderSize = 1 + 1 + 16 + 2 + 2 + 4 + 4 + 4;
inline constexpr std::uint32_t kMaxFragments = 65535;
inline constexpr std::uint64_t kMaxLz4Ratio = 255;  // plain bytes per LZ4 byte, at most
namespace flags {
inline constexpr std::uint8_t lz4 = 0x01;  // the reassembled bytes are an LZ4 block of plain_size bytes
}

using SetId = std::array<std::uint8_t, 16>;

struct FragmentOptions {
  std::size_t mtu = 244;                 // bytes per fragment, header included (> kHeaderSize)
  std::size_t compress_at_least = 1024;  // LZ4 from this size on, when it shrinks the message
  std::optional<SetId> set_id;           // random when empty
};

// Splits message into ceil(n / (mtu - kHeaderSize)) fragments (one for an empty message).
// Errors: invalid_argument (mtu too small), too_large (more than kMaxFragments or 4 GiB).
std::expected<std::vector<Bytes>, std::error_code> split(ByteView message, const FragmentOptions& options);

// One fragment's header, as decoded; data views into the decoded buffer.
struct FragmentView {
  std::uint8_t flags = 0;
  SetId set_id{};
  std::uint16_t index = 0;
  std::uint16_t count = 0;
  std::uint32_t total_size = 0;  // bytes of all fragments' data together
  std::uint32_t plain_size = 0;  // bytes after decompression (== total_size without lz4)
  ByteView data;
};
// Checks the version, the field ranges and the CRC. Errors: truncated (shorter than a header),
// malformed (unknown version or flags, index >= count, data longer than total_size, CRC mismatch,
// an LZ4 plain size beyond LZ4's ratio).
std::expected<FragmentView, std::error_code> decode(ByteView fragment);

struct ReassemblyLimits {
  std::uint64_t timeout_ms = 30'000;          // a partial message older than this is dropped
  std::size_t max_message_bytes = 16u << 20;  // plain size of one message
  std::size_t per_peer_bytes = 32u << 20;     // partial data held for one peer
  std::size_t total_bytes = 128u << 20;       // partial data held for all peers
  std::size_t max_partial_per_peer = 64;      // partial messages held for one peer
};

struct ReassemblyStats {
  std::uint64_t completed = 0, duplicates = 0, rejected = 0, expired = 0, evicted = 0;
};

class Reassembler {
 public:
  explicit Reassembler(ReassemblyLimits limits = {});

  // Takes one fragment from `peer`. Returns the whole message once its last fragment arrives
  // (decompressed when it was compressed), nullopt while it is incomplete or for a duplicate.
  // Errors (the fragment is dropped; other partial messages are kept): malformed (bad header or
  // CRC, or a header that disagrees with the set's first fragment), too_large (over
  // max_message_bytes), backpressure (the peer's or the total memory cap is reached even after
  // dropping expired sets).
  std::expected<std::optional<Bytes>, std::error_code> accept(const std::string& peer, ByteView fragment,
                                                              std::uint64_t now_ms);
  // Drops partial messages older than the timeout; returns how many.
  std::size_t expire(std::uint64_t now_ms);
  // Forgets everything held for a peer (it disconnected).
  void drop_peer(const std::string& peer);

  std::size_t held_bytes() const { return total_held_; }
  std::size_t held_bytes(const std::string& peer) const;
  std::size_t partial_messages() const;
  const ReassemblyStats& stats() const { return stats_; }

 private:
  struct Partial {
    std::uint8_t flags = 0;
    std::uint16_t count = 0;
    std::uint32_t total_size = 0, plain_size = 0;
    std::uint64_t started_ms = 0;
    std::size_t chunk = 0;  // data bytes per fragment (from the first non-last fragment seen)
    std::vector<std::uint8_t> have;
    std::uint16_t received = 0;
    std::size_t received_bytes = 0;
    Bytes data;  // total_size bytes, filled by index
  };
  struct PeerSets {
    std::map<SetId, Partial> sets;
    std::size_t bytes = 0;
  };
  void release(PeerSets& peer, std::map<SetId, Partial>::iterator it);

  ReassemblyLimits limits_;
  std::map<std::string, PeerSets> peers_;
  std::size_t total_held_ = 0;
  ReassemblyStats stats_;
};

}  // namespace hyphae::fragment
