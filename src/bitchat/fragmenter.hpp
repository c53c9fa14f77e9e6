// BitChat fragmentation (type 0x20): split a packet whose frame does not fit a link's MTU into
// fragment packets, and reassemble fragment packets back into the original packet, with the
// apps' timeout and memory caps. The split data is the original's whole unpadded encoded frame;
// each fragment carries BitChat's 13-byte fragment header (payloads.hpp). Facts:
// docs/bitchat.md ("Pieces", Fragmenter).
// Sans-IO and clock-free: the caller passes now_ms (any monotonic millisecond clock).
// Thread-safety: fragment_packet() is stateless and safe from any thread; a Reassembler is not
// thread-safe: one owner (the BitChat link's strand) calls every method.
// Ownership: everything is returned by value; the Reassembler owns the partial sets it holds.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "bitchat/packet.hpp"
#include "bitchat/payloads.hpp"

namespace hyphae::bitchat {

using FragmentId = std::array<std::uint8_t, 8>;

inline constexpr std::size_t kMaxFragmentData = 469;  // the apps' largest fragment chunk
// Fragments (type 0x20) are never padded on a link (only the Noise types are), so no room is kept.
inline constexpr std::size_t kFragmentPaddingAllowance = 0;
inline constexpr std::size_t kMaxFragmentCount = 65535;  // index and total are u16

// Data bytes per fragment of `original` over a link of `link_mtu` bytes, 0 if none fit:
//   chunk = min(469, link_mtu - overhead), overhead = header (14 in v1, 16 in v2) + 8 sender
//           + 8 if a recipient + (1 + 8 * hops if v2 with a route) + 13 fragment header
// The real header sizes, and no room for padding: fragment frames go at their natural length
// (Android keeps 16 spare bytes; iOS uses limit - 42). A 512-byte MTU gives the apps' 469 bytes for
// a v1 packet with or without a recipient (frames of 504 and 512 bytes); routed v2 packets get less.
std::size_t fragment_chunk_size(const Packet& original, std::size_t link_mtu);

// The packets to send for `original` over a link of `link_mtu` bytes. If the unpadded encoding
// (encode(original, {.pad = false})) fits link_mtu, that is `original` alone. Otherwise the frame is
// cut into chunks of fragment_chunk_size() bytes, each sent as an unsigned type-0x20 packet that
// copies the original's version, sender, recipient, timestamp, TTL and route, with payload
// encode_fragment({fragment_id, index, total, original.type, chunk}). The caller picks
// fragment_id (8 random bytes; unique per original). Every fragment's unpadded encoding fits
// link_mtu (both apps send fragments unpadded over BLE).
// Errors: what encode() returns for the original; too_large when more than 65535 fragments would
// be needed or link_mtu leaves no room for data; invalid_argument when the original is itself a
// fragment that does not fit (fragments are never fragmented again, as in both apps).
std::expected<std::vector<Packet>, std::error_code> fragment_packet(const Packet& original,
                                                                    std::size_t link_mtu,
                                                                    FragmentId fragment_id);

// Defaults are Android's (AppConstants.Fragmentation); iOS holds up to 128 assemblies of 1 MiB.
struct ReassemblyLimits {
  std::uint64_t timeout_ms = 30'000;       // a set this old (since its first fragment) is dropped
  std::size_t max_fragments = 256;         // `total` of one set
  std::size_t max_set_bytes = 1u << 20;    // fragment data held for one set
  std::size_t max_sets = 64;               // concurrent partial sets
  std::size_t max_total_bytes = 4u << 20;  // fragment data held for all sets
  DecodeLimits decode{};                   // for the reassembled frame
};

struct ReassemblyStats {
  std::uint64_t completed = 0;   // packets reassembled and returned
  std::uint64_t expired = 0;     // sets dropped for age
  std::uint64_t rejected = 0;    // fragments refused with an error (some also dropped their set)
  std::uint64_t duplicates = 0;  // fragments whose index was already held (ignored)
  std::size_t held_bytes = 0;    // fragment data held now
};

class Reassembler {
 public:
  explicit Reassembler(ReassemblyLimits limits = {});

  // Takes one fragment packet. Sets are keyed by (sender, fragment ID): unlike the apps, which key
  // by the fragment ID alone, a fragment from one sender can never join, complete or drop another
  // sender's set, even if two senders pick the same ID. Fragments are stored by index; a duplicate
  // index is ignored (the first copy is kept). When all `total` fragments are held, their data is
  // concatenated in index order and decoded with decode() (raw, then unpadded); the set is dropped
  // and the packet returned with TTL 0, so it is not relayed again (the fragments were relayed;
  // signatures exclude TTL, so a signed original still verifies). Returns nullopt while the set is
  // incomplete or for a duplicate.
  // Errors (the fragment is dropped): invalid_argument (not a type-0x20 packet); truncated or
  // malformed (bad fragment header); malformed (total or original type disagree with the set's
  // first fragment: the set is dropped); decode()'s error when the complete set's frame does not
  // decode (the set is dropped); too_large
  // (total over max_fragments, or the set's data over max_set_bytes: the set is dropped);
  // backpressure (max_sets or max_total_bytes reached even after expiring old sets; the existing
  // sets are kept).
  std::expected<std::optional<Packet>, std::error_code> accept(const Packet& fragment_packet,
                                                               std::uint64_t now_ms);

  // Drops every set whose first fragment arrived timeout_ms or more before now_ms; returns how
  // many. Call it every few seconds (Android sweeps every 10 s); accept() also expires as needed.
  std::size_t expire(std::uint64_t now_ms);

  std::size_t held_bytes() const { return held_bytes_; }
  std::size_t set_count() const { return sets_.size(); }
  ReassemblyStats stats() const;
  const ReassemblyLimits& limits() const { return limits_; }

 private:
  struct Set {
    std::uint16_t total = 0;
    std::uint8_t original_type = 0;
    std::uint64_t started_ms = 0;
    std::size_t bytes = 0;
    std::map<std::uint16_t, Bytes> parts;
  };
  using Key = std::pair<ShortId, FragmentId>;

  bool is_old(const Set& set, std::uint64_t now_ms) const;
  void drop(std::map<Key, Set>::iterator it);
  std::unexpected<std::error_code> reject(std::error_code ec);

  ReassemblyLimits limits_;
  std::map<Key, Set> sets_;
  std::size_t held_bytes_ = 0;
  ReassemblyStats stats_;
};

}  // namespace hyphae::bitchat
