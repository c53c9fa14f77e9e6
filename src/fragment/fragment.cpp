#include "fragment/fragment.hpp"

#include <lz4.h>
#include <sodium.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.hpp"

namespace hyphae::fragment {
namespace {

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
std::uint16_t get16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t get32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
std::uint32_t crc32_of(ByteView data) {
  return static_cast<std::uint32_t>(
      ::crc32(::crc32(0L, Z_NULL, 0), data.data(), static_cast<uInt>(data.size())));
}
std::unexpected<std::error_code> fail(Errc e) {
  return std::unexpected(make_error_code(e));
}

}  // namespace

std::expected<std::vector<Bytes>, std::error_code> split(ByteView message, const FragmentOptions& options) {
  if (options.mtu <= kHeaderSize) return fail(Errc::invalid_argument);
  if (message.size() > std::numeric_limits<std::uint32_t>::max() ||
      message.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    return fail(Errc::too_large);
  std::uint8_t fl = 0;
  Bytes compressed;
  ByteView body = message;
  if (message.size() >= options.compress_at_least && options.compress_at_least > 0) {
    const int bound = LZ4_compressBound(static_cast<int>(message.size()));
    compressed.resize(static_cast<std::size_t>(bound));
    const int n = LZ4_compress_default(reinterpret_cast<const char*>(message.data()),
                                       reinterpret_cast<char*>(compressed.data()),
                                       static_cast<int>(message.size()), bound);
    if (n > 0 && static_cast<std::size_t>(n) < message.size()) {
      compressed.resize(static_cast<std::size_t>(n));
      body = compressed;
      fl |= flags::lz4;
    }
  }
  const std::size_t chunk = options.mtu - kHeaderSize;
  const std::size_t count = body.empty() ? 1 : (body.size() + chunk - 1) / chunk;
  if (count > kMaxFragments) return fail(Errc::too_large);
  SetId id;
  if (options.set_id) {
    id = *options.set_id;
  } else {
    randombytes_buf(id.data(), id.size());
  }
  std::vector<Bytes> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t off = i * chunk;
    const std::size_t len = std::min(chunk, body.size() - off);
    Bytes f(kHeaderSize + len);
    std::uint8_t* p = f.data();
    p[0] = kVersion;
    p[1] = fl;
    std::memcpy(p + 2, id.data(), id.size());
    put16(p + 18, static_cast<std::uint16_t>(i));
    put16(p + 20, static_cast<std::uint16_t>(count));
    put32(p + 22, static_cast<std::uint32_t>(body.size()));
    put32(p + 26, static_cast<std::uint32_t>(message.size()));
    ByteView data = body.subspan(off, len);
    put32(p + 30, crc32_of(data));
    if (len) std::memcpy(p + kHeaderSize, data.data(), len);
    out.push_back(std::move(f));
  }
  return out;
}

std::expected<FragmentView, std::error_code> decode(ByteView f) {
  if (f.size() < kHeaderSize) return fail(Errc::truncated);
  const std::uint8_t* p = f.data();
  if (p[0] != kVersion || (p[1] & ~flags::lz4) != 0) return fail(Errc::malformed);
  FragmentView v;
  v.flags = p[1];
  std::memcpy(v.set_id.data(), p + 2, v.set_id.size());
  v.index = get16(p + 18);
  v.count = get16(p + 20);
  v.total_size = get32(p + 22);
  v.plain_size = get32(p + 26);
  v.data = f.subspan(kHeaderSize);
  if (v.count == 0 || v.index >= v.count || v.data.size() > v.total_size) return fail(Errc::malformed);
  if (!(v.flags & flags::lz4) && v.plain_size != v.total_size) return fail(Errc::malformed);
  // An LZ4 block expands at most ~255:1; a larger claim is a decompression bomb.
  if ((v.flags & flags::lz4) && v.plain_size > std::uint64_t{v.total_size} * kMaxLz4Ratio + 64)
    return fail(Errc::malformed);
  if (crc32_of(v.data) != get32(p + 30)) return fail(Errc::malformed);
  return v;
}

Reassembler::Reassembler(ReassemblyLimits limits) : limits_(limits) {}

void Reassembler::release(PeerSets& peer, std::map<SetId, Partial>::iterator it) {
  peer.bytes -= it->second.total_size;
  total_held_ -= it->second.total_size;
  peer.sets.erase(it);
}

std::expected<std::optional<Bytes>, std::error_code> Reassembler::accept(const std::string& peer_key,
                                                                         ByteView bytes,
                                                                         std::uint64_t now_ms) {
  auto v = decode(bytes);
  if (!v) {
    ++stats_.rejected;
    return std::unexpected(v.error());
  }
  if (v->plain_size > limits_.max_message_bytes || v->total_size > limits_.max_message_bytes) {
    ++stats_.rejected;
    return fail(Errc::too_large);
  }
  const bool last = v->index + 1 == v->count;
  if (v->count == 1) {  // the common small case: no state at all
    if (v->data.size() != v->total_size) {
      ++stats_.rejected;
      return fail(Errc::malformed);
    }
  }
  // A new multi-fragment set must fit the caps; expired sets make room first (a live set of
  // another sender is never evicted for it). expire() may erase peer entries, so look up after it.
  auto fits = [&] {
    auto p = peers_.find(peer_key);
    const std::size_t peer_bytes = p == peers_.end() ? 0 : p->second.bytes;
    const std::size_t peer_sets = p == peers_.end() ? 0 : p->second.sets.size();
    return peer_bytes + v->total_size <= limits_.per_peer_bytes &&
           total_held_ + v->total_size <= limits_.total_bytes && peer_sets < limits_.max_partial_per_peer;
  };
  auto known = peers_.find(peer_key);
  const bool is_new = known == peers_.end() || !known->second.sets.contains(v->set_id);
  if (is_new && v->count > 1 && !fits()) {
    expire(now_ms);
    if (!fits()) {
      ++stats_.rejected;
      return fail(Errc::backpressure);
    }
  }
  auto& peer = peers_[peer_key];
  auto it = peer.sets.find(v->set_id);
  if (it == peer.sets.end()) {
    Partial part;
    part.flags = v->flags;
    part.count = v->count;
    part.total_size = v->total_size;
    part.plain_size = v->plain_size;
    part.started_ms = now_ms;
    part.have.assign(v->count, 0);
    part.data.resize(v->total_size);
    it = peer.sets.emplace(v->set_id, std::move(part)).first;
    peer.bytes += v->total_size;
    total_held_ += v->total_size;
  }
  Partial& part = it->second;
  if (part.flags != v->flags || part.count != v->count || part.total_size != v->total_size ||
      part.plain_size != v->plain_size) {
    ++stats_.rejected;
    return fail(Errc::malformed);  // a set's first fragment fixes its header
  }
  // Every fragment but the last carries exactly `chunk` bytes; the last one the rest.
  std::size_t chunk = part.chunk;
  if (chunk == 0) {
    if (!last) {
      chunk = v->data.size();
    } else if (part.count > 1) {
      const std::size_t before = part.total_size - v->data.size();
      if (before % (part.count - 1) != 0) {
        ++stats_.rejected;
        return fail(Errc::malformed);
      }
      chunk = before / (part.count - 1);
    } else {
      chunk = v->data.size();
    }
  }
  // The geometry must describe total_size exactly: count-1 full chunks and a last fragment of
  // 1..chunk bytes (split() never makes another shape). Checked in 64 bits before any offset is
  // used, so no fragment can point past the set's buffer.
  const std::uint64_t full_bytes = std::uint64_t{chunk} * (part.count - 1u);
  const bool geometry_ok =
      part.count == 1 || (chunk > 0 && full_bytes < part.total_size && part.total_size - full_bytes <= chunk);
  const std::size_t offset = static_cast<std::size_t>(v->index) * chunk;
  const std::size_t expect_len =
      last ? part.total_size - std::min<std::size_t>(part.total_size, offset) : chunk;
  if (!geometry_ok || offset > part.total_size || v->data.size() != expect_len ||
      offset + v->data.size() > part.total_size || (last && offset + v->data.size() != part.total_size)) {
    ++stats_.rejected;
    if (part.received == 0) release(peer, it);
    if (peer.sets.empty()) peers_.erase(peer_key);
    return fail(Errc::malformed);
  }
  part.chunk = chunk;
  if (part.have[v->index]) {
    ++stats_.duplicates;
    return std::optional<Bytes>{};
  }
  part.have[v->index] = 1;
  ++part.received;
  part.received_bytes += v->data.size();
  if (!v->data.empty()) std::memcpy(part.data.data() + offset, v->data.data(), v->data.size());
  if (part.received < part.count) return std::optional<Bytes>{};

  Bytes whole = std::move(part.data);
  const std::uint8_t fl = part.flags;
  const std::uint32_t plain = part.plain_size;
  release(peer, it);
  if (peer.sets.empty()) peers_.erase(peer_key);
  if (fl & flags::lz4) {
    Bytes out(plain);
    const int n =
        LZ4_decompress_safe(reinterpret_cast<const char*>(whole.data()), reinterpret_cast<char*>(out.data()),
                            static_cast<int>(whole.size()), static_cast<int>(plain));
    if (n < 0 || static_cast<std::uint32_t>(n) != plain) {
      ++stats_.rejected;
      return fail(Errc::malformed);
    }
    whole = std::move(out);
  }
  ++stats_.completed;
  return std::optional<Bytes>{std::move(whole)};
}

std::size_t Reassembler::expire(std::uint64_t now_ms) {
  std::size_t dropped = 0;
  for (auto p = peers_.begin(); p != peers_.end();) {
    auto& sets = p->second.sets;
    for (auto it = sets.begin(); it != sets.end();) {
      if (now_ms >= it->second.started_ms + limits_.timeout_ms) {
        auto next = std::next(it);
        release(p->second, it);
        it = next;
        ++dropped;
      } else {
        ++it;
      }
    }
    p = sets.empty() ? peers_.erase(p) : std::next(p);
  }
  stats_.expired += dropped;
  return dropped;
}

void Reassembler::drop_peer(const std::string& peer_key) {
  auto p = peers_.find(peer_key);
  if (p == peers_.end()) return;
  stats_.evicted += p->second.sets.size();
  total_held_ -= p->second.bytes;
  peers_.erase(p);
}

std::size_t Reassembler::held_bytes(const std::string& peer_key) const {
  auto p = peers_.find(peer_key);
  return p == peers_.end() ? 0 : p->second.bytes;
}

std::size_t Reassembler::partial_messages() const {
  std::size_t n = 0;
  for (const auto& [key, peer] : peers_) n += peer.sets.size();
  return n;
}

}  // namespace hyphae::fragment
