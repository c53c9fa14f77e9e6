// Sync packet IDs and Golomb-coded sets for BitChat's REQUEST_SYNC (see gcs.hpp).
#include "bitchat/gcs.hpp"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.hpp"

namespace hyphae::bitchat {

namespace {

std::unexpected<std::error_code> fail(Errc e) {
  return std::unexpected(make_error_code(e));
}

bool valid_p(std::uint8_t p) {
  return p >= 1 && p <= kGcsMaxP;
}

std::uint64_t h64(const SyncPacketId& id) {
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), id.data(), id.size());
  return get_u64be(digest.data()) & 0x7FFF'FFFF'FFFF'FFFFull;
}

// MSB-first bit packing; the unused low bits of the last byte stay zero.
class BitWriter {
 public:
  void put(bool bit) {
    if (bits_ % 8 == 0) out_.push_back(0);
    if (bit) out_.back() |= static_cast<std::uint8_t>(0x80u >> (bits_ % 8));
    ++bits_;
  }
  void put_bits(std::uint64_t value, int count) {
    for (int i = count - 1; i >= 0; --i) put(((value >> i) & 1u) != 0);
  }
  std::size_t bits() const { return bits_; }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
  std::size_t bits_ = 0;
};

// The decoder proper, for p in 1..32 and m >= 1; no size limit (callers apply it).
std::expected<std::vector<std::uint64_t>, std::error_code> decode_values(std::uint8_t p, std::uint32_t m,
                                                                         ByteView data) {
  const std::size_t total = data.size() * 8;
  auto bit = [&](std::size_t i) -> std::uint64_t { return (data[i / 8] >> (7 - i % 8)) & 1u; };
  std::vector<std::uint64_t> values;
  std::uint64_t acc = 0;
  std::size_t pos = 0;
  while (pos < total) {
    const std::size_t left = total - pos;
    // Fewer than 8 bits left, all zero: the last byte's padding (not a run of delta-1 codewords).
    if (left < 8 && (data.back() & ((1u << left) - 1u)) == 0) break;
    std::uint64_t q = 0;
    while (pos < total && bit(pos) != 0) {
      ++q;
      ++pos;
    }
    if (pos == total) break;     // a unary run that runs off the end is the end
    ++pos;                       // the unary terminator
    if (total - pos < p) break;  // an incomplete remainder is the end as well
    std::uint64_t r = 0;
    for (int i = 0; i < p; ++i) r = r << 1 | bit(pos++);
    // q <= 8 * data.size() and acc < m <= 2^32 - 1 before this step: no overflow.
    acc += (q << p) + r + 1;
    if (acc >= m) return fail(Errc::malformed);
    values.push_back(acc);
  }
  return values;
}

// Number of bits the codewords of `values` (strictly increasing, >= 1) take.
std::uint64_t encoded_bits(std::span<const std::uint64_t> values, std::uint8_t p) {
  std::uint64_t bits = 0, prev = 0;
  for (std::uint64_t v : values) {
    bits += ((v - prev - 1) >> p) + 1 + p;
    prev = v;
  }
  return bits;
}

// Encodes strictly increasing values in [1, m). Pads with zero bits, as the apps do, unless that
// padding would read back as codewords hiding our own last values (possible for p <= 6 only): then
// the padding is one-bits, or a 0xFF byte when the codewords end on a byte boundary.
Bytes encode_values(std::span<const std::uint64_t> values, std::uint8_t p, std::uint32_t m) {
  BitWriter w;
  std::uint64_t prev = 0;
  for (std::uint64_t v : values) {
    const std::uint64_t x = v - prev;  // >= 1
    prev = v;
    for (std::uint64_t q = (x - 1) >> p; q > 0; --q) w.put(true);
    w.put(false);
    w.put_bits(x - 1, p);
  }
  const std::size_t bits = w.bits();
  Bytes out = w.take();
  auto back = decode_values(p, m, out);
  if (!back || back->size() != values.size()) {
    const std::size_t pad = out.size() * 8 - bits;
    if (pad == 0)
      out.push_back(0xFF);
    else
      out.back() |= static_cast<std::uint8_t>((1u << pad) - 1u);
  }
  return out;
}

}  // namespace

SyncPacketId sync_packet_id(std::uint8_t type, const ShortId& sender, std::uint64_t timestamp_ms,
                            ByteView payload) {
  std::array<std::uint8_t, 8> ts{};
  for (int i = 0; i < 8; ++i)
    ts[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(timestamp_ms >> (56 - 8 * i));
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, &type, 1);
  crypto_hash_sha256_update(&st, sender.data(), sender.size());
  crypto_hash_sha256_update(&st, ts.data(), ts.size());
  crypto_hash_sha256_update(&st, payload.data(), payload.size());
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256_final(&st, digest.data());
  SyncPacketId id{};
  std::copy_n(digest.begin(), id.size(), id.begin());
  return id;
}

std::uint8_t gcs_p_for(double false_positive_rate) {
  if (!(false_positive_rate > 0.0)) return kGcsMaxP;  // zero, negative, NaN
  if (false_positive_rate >= 0.5) return 1;
  const double p = std::ceil(std::log2(1.0 / false_positive_rate));
  if (!(p <= kGcsMaxP)) return kGcsMaxP;
  return static_cast<std::uint8_t>(std::max(1.0, p));
}

std::uint64_t gcs_value(const SyncPacketId& id, std::uint32_t m) {
  if (m == 0) return 0;
  const std::uint64_t v = h64(id) % m;
  return v == 0 ? 1 : v;
}

GcsFilter build_gcs(std::span<const SyncPacketId> ids, std::uint8_t p, std::size_t max_bytes) {
  p = std::clamp<std::uint8_t>(p, 1, kGcsMaxP);
  max_bytes = std::min(max_bytes, kMaxSyncFilterBytes);
  const std::size_t limit =
      std::min<std::size_t>(ids.size(), std::uint64_t{std::numeric_limits<std::uint32_t>::max()} >> p);

  // The filter of the newest n IDs (the first n of the span).
  auto make = [&](std::size_t n) {
    GcsFilter f;
    f.p = p;
    if (n == 0) {
      f.m = 1;
      return f;
    }
    f.m = static_cast<std::uint32_t>(n << p);
    std::vector<std::uint64_t> values;
    values.reserve(n);
    for (const auto& id : ids.first(n)) values.push_back(gcs_value(id, f.m));
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    f.data = encode_values(values, p, f.m);
    return f;
  };
  auto fits = [&](const GcsFilter& f) { return f.data.size() <= max_bytes; };

  // Invariant of the bisection: make(lo) fits (kept in best), make(hi) does not.
  std::size_t lo = 0, hi = limit;
  GcsFilter best = make(0);
  auto probe = [&](std::size_t n) {
    GcsFilter f = make(n);
    if (!fits(f)) {
      hi = n;
      return false;
    }
    lo = n;
    best = std::move(f);
    return true;
  };
  // Distinct IDs take at least p + 1 bits each, so more than `upper` of them never fit; trying it
  // first spares encoding a long list in full.
  const std::size_t upper = std::min(limit, max_bytes * 8 / (std::size_t{p} + 1) + 1);
  if (upper < limit) probe(upper);
  if (hi == limit && probe(limit)) return best;
  // The apps' estimate (8 * max_bytes / (p + 2), at least 1): when it fits, never keep fewer.
  const std::size_t estimate =
      std::max<std::size_t>(1, std::max<std::size_t>(8, max_bytes * 8) / std::max(3, p + 2));
  if (estimate > lo && estimate < hi) probe(estimate);
  while (hi - lo > 1) probe(lo + (hi - lo) / 2);
  return best;
}

std::expected<GcsFilter, std::error_code> encode_gcs(std::uint8_t p, std::uint32_t m,
                                                     std::span<const std::uint64_t> sorted_values) {
  if (!valid_p(p) || m == 0) return fail(Errc::invalid_argument);
  std::uint64_t prev = 0;
  for (std::uint64_t v : sorted_values) {
    if (v <= prev || v >= m) return fail(Errc::invalid_argument);
    prev = v;
  }
  if ((encoded_bits(sorted_values, p) + 7) / 8 > kMaxSyncFilterBytes) return fail(Errc::too_large);
  GcsFilter f{p, m, encode_values(sorted_values, p, m)};
  if (f.data.size() > kMaxSyncFilterBytes) return fail(Errc::too_large);  // the rare 0xFF byte
  return f;
}

std::expected<std::vector<std::uint64_t>, std::error_code> decode_gcs(const GcsFilter& filter) {
  if (!valid_p(filter.p) || filter.m == 0) return fail(Errc::malformed);
  if (filter.data.size() > kMaxSyncFilterBytes) return fail(Errc::too_large);
  return decode_values(filter.p, filter.m, filter.data);
}

bool gcs_contains(const GcsFilter& filter, const SyncPacketId& id) {
  auto reader = GcsReader::open(filter);
  return reader && reader->contains(id);
}

std::expected<GcsReader, std::error_code> GcsReader::open(const GcsFilter& filter) {
  auto values = decode_gcs(filter);
  if (!values) return std::unexpected(values.error());
  return GcsReader(filter.p, filter.m, std::move(*values));
}

bool GcsReader::contains(const SyncPacketId& id) const {
  return contains_value(gcs_value(id, m_));
}

bool GcsReader::contains_value(std::uint64_t value) const {
  return std::binary_search(values_.begin(), values_.end(), value);
}

}  // namespace hyphae::bitchat
