// bitchat gossip sync: the 16-byte sync packet ID and the Golomb-coded set (GCS) that a REQUEST_SYNC
// (type 0x21) carries in its TLVs 0x01 P, 0x02 M and 0x03 data (see payloads.hpp for the TLVs).
// A peer lists the packets it holds as a GCS; the other side answers with the packets that are not
// in it. Rules (docs/bitchat.md, "Gossip sync"):
//   - packet ID = SHA-256(type | senderID | timestamp u64 BE | payload)[0..16];
//   - P = ceil(log2(1/FPR)); M = N * 2^P for the N IDs kept;
//   - value = (SHA-256(ID)[0..8] read big-endian & 0x7FFF'FFFF'FFFF'FFFF) % M, 0 mapped to 1;
//   - the sorted, de-duplicated values are coded as deltas x >= 1 (the first from 0): Golomb-Rice,
//     q = (x-1) >> P as q one-bits and a zero-bit, then the low P bits of x-1; MSB-first bits.
// Padding and its one ambiguity: the apps pad the last byte with zero bits. For P <= 6 a run of
// zero padding is itself a codeword (delta 1), which the apps then read as spurious members. Our
// decoder treats fewer than 8 trailing zero bits from the start of a codeword as padding, and our
// encoder pads with one-bits instead (or appends 0xFF) in the rare case where zero padding would
// hide its own last codeword; an unterminated unary run is the end of the set, not an error. For
// P >= 7 (the apps' 1 % FPR gives 7) codewords are at least 8 bits long, nothing is ambiguous and the
// bytes equal the apps' bytes.
// Stateless and sans-IO: every function is safe from any thread. Values own their bytes; spans
// are read during the call only. GcsReader is an immutable value (safe to share once built).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include "bitchat/packet.hpp"
#include "bitchat/payloads.hpp"
#include "core/bytes.hpp"

namespace hyphae::bitchat {

using SyncPacketId = std::array<std::uint8_t, 16>;

inline constexpr std::uint8_t kGcsMaxP = 32;
inline constexpr std::size_t kGcsMaxBytesIos = 400;      // iOS's filter budget
inline constexpr std::size_t kGcsMaxBytesAndroid = 256;  // Android's default budget
// Receivers refuse filters over kMaxSyncFilterBytes (1024, payloads.hpp); decode_gcs does too.

// First 16 bytes of SHA-256(type | sender | timestamp_ms as 8 bytes big-endian | payload).
SyncPacketId sync_packet_id(std::uint8_t type, const ShortId& sender, std::uint64_t timestamp_ms,
                            ByteView payload);

// ceil(log2(1 / false_positive_rate)), clamped to [1, 32]: 0.01 -> 7, 0.5 and above -> 1; zero,
// negative or NaN -> 32. (The apps clamp the rate to [1e-6, 0.25] first, so they send P in 2..20.)
std::uint8_t gcs_p_for(double false_positive_rate);

struct GcsFilter {
  std::uint8_t p = 0;   // Golomb-Rice parameter, 1..32
  std::uint32_t m = 0;  // range: N * 2^P (1 for an empty filter, as the apps send)
  Bytes data;           // the Golomb-Rice bit stream, MSB-first
};

// The value an ID maps to in a filter of range m: h64(id) % m, with 0 mapped to 1 (0 if m == 0).
std::uint64_t gcs_value(const SyncPacketId& id, std::uint32_t m);

// Builds the filter of `ids`, which callers list newest first, as the apps do. When the whole list
// does not fit in max_bytes (clamped to kMaxSyncFilterBytes), the newest IDs are kept: the longest
// prefix of `ids` that fits, found by bisection (the size grows with N almost, not strictly,
// monotonically). The apps keep a prefix too, but size it by an estimate (8 * max_bytes / (P + 2)
// IDs), so for the same budget this keeps at least as many. N also stays within UINT32_MAX >> P so
// that M fits its u32 TLV. p is clamped to [1, 32]. N counts the IDs kept, duplicates included (as
// the apps count them); an empty result has m = 1 and no data.
GcsFilter build_gcs(std::span<const SyncPacketId> ids, std::uint8_t p,
                    std::size_t max_bytes = kGcsMaxBytesAndroid);

// Encodes strictly increasing values, each in [1, m), as a filter (the inverse of decode_gcs).
// Errors: invalid_argument (p not in 1..32, m == 0, values out of range or not strictly
// increasing), too_large (the encoding would exceed kMaxSyncFilterBytes).
std::expected<GcsFilter, std::error_code> encode_gcs(std::uint8_t p, std::uint32_t m,
                                                     std::span<const std::uint64_t> sorted_values);

// The filter's values, strictly increasing, each in [1, m). Decoding ends at the end of the data: an
// unterminated unary run, an incomplete remainder or fewer than 8 trailing zero bits are the end.
// Errors: malformed (p == 0 or p > 32, m == 0, a value >= m), too_large (data over 1024 bytes).
// Note: the apps stop silently at the first value >= m instead of refusing the filter.
std::expected<std::vector<std::uint64_t>, std::error_code> decode_gcs(const GcsFilter& filter);

// Whether `id` is (probably) in the filter; false if the filter does not decode. Decodes on every
// call: to test many IDs against one filter, use GcsReader.
bool gcs_contains(const GcsFilter& filter, const SyncPacketId& id);

// A decoded filter for repeated membership tests (binary search over the decoded values).
class GcsReader {
 public:
  // Errors as decode_gcs.
  static std::expected<GcsReader, std::error_code> open(const GcsFilter& filter);

  bool contains(const SyncPacketId& id) const;
  bool contains_value(std::uint64_t value) const;
  const std::vector<std::uint64_t>& values() const { return values_; }
  std::uint8_t p() const { return p_; }
  std::uint32_t m() const { return m_; }

 private:
  GcsReader(std::uint8_t p, std::uint32_t m, std::vector<std::uint64_t> values)
      : p_(p), m_(m), values_(std::move(values)) {}

  std::uint8_t p_;
  std::uint32_t m_;
  std::vector<std::uint64_t> values_;
};

}  // namespace hyphae::bitchat
