// BitChat packet framing, padding, compression and signatures (see packet.hpp).
#include "bitchat/packet.hpp"

#include <sodium.h>
#include <zlib.h>

#include <algorithm>
#include <bitset>
#include <limits>

#include "core/error.hpp"

namespace hyphae::bitchat {

namespace {

constexpr std::array<std::size_t, 4> kPadBlocks{256, 512, 1024, 2048};

void put_be(Bytes& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::uint64_t get_be(ByteView in, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | in[at + static_cast<std::size_t>(i)];
  return v;
}

std::unexpected<std::error_code> fail(Errc e) {
  return std::unexpected(make_error_code(e));
}

// One attempt at the exact frame (no padding stripped).
std::expected<Packet, std::error_code> decode_exact(ByteView in, const DecodeLimits& limits) {
  if (in.size() < 1) return fail(Errc::truncated);
  Packet p;
  p.version = in[0];
  if (p.version != 1 && p.version != 2) return fail(Errc::malformed);
  const int length_bytes = p.version == 1 ? 2 : 4;
  const std::size_t header = 12 + static_cast<std::size_t>(length_bytes);
  if (in.size() < header + 8) return fail(Errc::truncated);
  p.type = in[1];
  p.ttl = in[2];
  p.timestamp_ms = get_be(in, 3, 8);
  const std::uint8_t f = in[11];
  const std::uint64_t payload_length = get_be(in, 12, length_bytes);
  std::size_t at = header;
  std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(at), 8, p.sender.begin());
  at += 8;
  if (f & flags::has_recipient) {
    if (in.size() < at + 8) return fail(Errc::truncated);
    ShortId r;
    std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(at), 8, r.begin());
    p.recipient = r;
    at += 8;
  }
  if (p.version == 2 && (f & flags::has_route)) {
    if (in.size() < at + 1) return fail(Errc::truncated);
    const std::size_t hops = in[at++];
    if (in.size() < at + 8 * hops) return fail(Errc::truncated);
    for (std::size_t h = 0; h < hops; ++h, at += 8) {
      ShortId hop;
      std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(at), 8, hop.begin());
      p.route.push_back(hop);
    }
  }
  if (in.size() - at < payload_length) return fail(Errc::truncated);
  const ByteView body = in.subspan(at, static_cast<std::size_t>(payload_length));
  at += static_cast<std::size_t>(payload_length);
  if (f & flags::is_compressed) {
    const auto prefix = static_cast<std::size_t>(length_bytes);
    if (body.size() < prefix) return fail(Errc::malformed);
    const auto original = static_cast<std::size_t>(get_be(body, 0, length_bytes));
    const ByteView data = body.subspan(prefix);
    if (original > limits.max_payload) return fail(Errc::too_large);
    if (data.empty()) return fail(Errc::malformed);
    if (original / data.size() > limits.max_expansion) return fail(Errc::too_large);
    auto plain = decompress(data, original);
    if (!plain) return std::unexpected(plain.error());
    p.payload = std::move(*plain);
    p.received_compressed = Bytes(data.begin(), data.end());
  } else {
    if (body.size() > limits.max_payload) return fail(Errc::too_large);
    p.payload.assign(body.begin(), body.end());
  }
  if (f & flags::has_signature) {
    if (in.size() < at + 64) return fail(Errc::truncated);
    Signature s;
    std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(at), 64, s.begin());
    p.signature = s;
    at += 64;
  }
  p.rsr = (f & flags::is_rsr) != 0;
  if (at != in.size()) return fail(Errc::malformed);  // trailing bytes (maybe padding: see decode)
  return p;
}

}  // namespace

std::expected<Bytes, std::error_code> encode(const Packet& p, const EncodeOptions& options) {
  // Version 1 has no route: one set on a v1 packet is left out, as the apps do.
  if ((p.version != 1 && p.version != 2) || p.route.size() > 255) return fail(Errc::invalid_argument);
  const int length_bytes = p.version == 1 ? 2 : 4;
  const std::uint64_t max_length = p.version == 1 ? 0xffffu : 0xffffffffu;
  // A signed packet goes out exactly as it was signed: compressed only if it was then.
  std::optional<Bytes> compressed = p.received_compressed;
  if (!compressed && options.compress && !p.signature && p.payload.size() <= max_length) {
    compressed = compress(p.payload);
    // Worth it only if the frame shrinks, size prefix included.
    if (compressed && compressed->size() + static_cast<std::size_t>(length_bytes) >= p.payload.size())
      compressed.reset();
  }
  Bytes body;
  if (compressed) {
    if (p.payload.size() > max_length) return fail(Errc::too_large);
    put_be(body, p.payload.size(), length_bytes);
    body.insert(body.end(), compressed->begin(), compressed->end());
  } else {
    body = p.payload;
  }
  if (body.size() > max_length) return fail(Errc::too_large);
  std::uint8_t f = 0;
  if (p.recipient) f |= flags::has_recipient;
  if (p.signature) f |= flags::has_signature;
  if (compressed) f |= flags::is_compressed;
  if (p.version == 2 && !p.route.empty()) f |= flags::has_route;  // v1: the route is not encoded
  if (p.rsr) f |= flags::is_rsr;
  Bytes out;
  out.reserve(16 + 16 + 1 + 8 * p.route.size() + body.size() + 64 + 256);
  out.push_back(p.version);
  out.push_back(p.type);
  out.push_back(p.ttl);
  put_be(out, p.timestamp_ms, 8);
  out.push_back(f);
  put_be(out, body.size(), length_bytes);
  out.insert(out.end(), p.sender.begin(), p.sender.end());
  if (p.recipient) out.insert(out.end(), p.recipient->begin(), p.recipient->end());
  if (f & flags::has_route) {
    out.push_back(static_cast<std::uint8_t>(p.route.size()));
    for (const auto& hop : p.route) out.insert(out.end(), hop.begin(), hop.end());
  }
  out.insert(out.end(), body.begin(), body.end());
  if (p.signature) out.insert(out.end(), p.signature->begin(), p.signature->end());
  return options.pad ? pad(out) : out;
}

std::optional<FrameHead> peek_head(ByteView frame) {
  if (frame.size() < 1 || (frame[0] != 1 && frame[0] != 2)) return std::nullopt;
  const std::size_t header = frame[0] == 1 ? 14 : 16;
  if (frame.size() < header + 8) return std::nullopt;
  FrameHead h;
  h.version = frame[0];
  h.type = frame[1];
  h.flags = frame[11];
  std::copy_n(frame.begin() + static_cast<std::ptrdiff_t>(header), 8, h.sender.begin());
  return h;
}

std::expected<Packet, std::error_code> decode(ByteView frame, const DecodeLimits& limits) {
  auto exact = decode_exact(frame, limits);
  if (exact) return exact;
  if (auto unpadded = unpad(frame)) {
    auto stripped = decode_exact(*unpadded, limits);
    if (stripped) return stripped;
  }
  return exact;
}

std::expected<Bytes, std::error_code> signing_bytes(const Packet& packet) {
  Packet q = packet;
  q.ttl = 0;
  q.signature.reset();
  q.rsr = false;
  EncodeOptions options;
  options.pad = true;
  options.compress = false;  // compressed only as received (or as sign() decided)
  return encode(q, options);
}

std::error_code sign(Packet& packet, ByteView secret_key) {
  if (secret_key.size() != crypto_sign_SECRETKEYBYTES) return make_error_code(Errc::invalid_argument);
  if (!packet.received_compressed) packet.received_compressed = compress(packet.payload);
  packet.signature.reset();
  auto preimage = signing_bytes(packet);
  if (!preimage) return preimage.error();
  Signature s;
  crypto_sign_detached(s.data(), nullptr, preimage->data(), preimage->size(), secret_key.data());
  packet.signature = s;
  return {};
}

std::error_code sign_with(Packet& packet, const std::function<Signature(ByteView)>& signer) {
  if (!packet.received_compressed) packet.received_compressed = compress(packet.payload);
  packet.signature.reset();
  auto preimage = signing_bytes(packet);
  if (!preimage) return preimage.error();
  packet.signature = signer(*preimage);
  return {};
}

std::error_code verify(const Packet& packet, ByteView public_key) {
  if (!packet.signature || public_key.size() != crypto_sign_PUBLICKEYBYTES)
    return make_error_code(Errc::bad_signature);
  auto preimage = signing_bytes(packet);
  if (!preimage) return preimage.error();
  if (crypto_sign_verify_detached(packet.signature->data(), preimage->data(), preimage->size(),
                                  public_key.data()) != 0)
    return make_error_code(Errc::bad_signature);
  return {};
}

Bytes pad(ByteView frame) {
  Bytes out(frame.begin(), frame.end());
  for (std::size_t block : kPadBlocks) {
    if (frame.size() + 16 > block) continue;
    const std::size_t n = block - frame.size();
    if (n > 255) return out;
    out.insert(out.end(), n, static_cast<std::uint8_t>(n));
    return out;
  }
  return out;
}

std::optional<ByteView> unpad(ByteView frame) {
  if (frame.empty()) return std::nullopt;
  const std::size_t n = frame.back();
  if (n == 0 || n > frame.size()) return std::nullopt;
  for (std::size_t i = frame.size() - n; i < frame.size(); ++i)
    if (frame[i] != n) return std::nullopt;
  return frame.first(frame.size() - n);
}

std::optional<Bytes> compress(ByteView payload) {
  if (payload.size() < 100 || payload.size() >= std::numeric_limits<uInt>::max()) return std::nullopt;
  const std::size_t sample = std::min<std::size_t>(payload.size(), 256);
  std::bitset<256> seen;
  for (std::size_t i = 0; i < sample; ++i) seen.set(payload[i]);
  if (static_cast<double>(seen.count()) / static_cast<double>(sample) >= 0.9) return std::nullopt;
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return std::nullopt;
  Bytes out(deflateBound(&z, static_cast<uLong>(payload.size())));
  z.next_in = const_cast<Bytef*>(payload.data());
  z.avail_in = static_cast<uInt>(payload.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  const std::size_t produced = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END || produced >= payload.size()) return std::nullopt;
  out.resize(produced);
  return out;
}

namespace {

// One inflate attempt (raw DEFLATE for window_bits -15, zlib for 15) to exactly original_size
// bytes. The buffer starts small and doubles as output arrives, up to original_size + 1 (one byte
// more than promised is a failure).
std::optional<Bytes> inflate_exactly(ByteView data, std::size_t original_size, int window_bits) {
  constexpr std::size_t kFirstChunk = 4096;
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) return std::nullopt;
  Bytes out(std::min(original_size + 1, kFirstChunk));
  z.next_in = const_cast<Bytef*>(data.data());
  z.avail_in = static_cast<uInt>(data.size());
  std::size_t produced = 0;
  int rc = Z_OK;
  for (;;) {
    z.next_out = out.data() + produced;
    z.avail_out = static_cast<uInt>(out.size() - produced);
    rc = inflate(&z, Z_NO_FLUSH);
    produced = out.size() - z.avail_out;
    if (rc != Z_OK) break;  // the end, no progress possible (truncated), or bad data
    if (z.avail_out == 0) {
      if (out.size() > original_size) break;  // more than the stated size
      out.resize(std::min(original_size + 1, out.size() * 2));
    }
  }
  const bool whole = rc == Z_STREAM_END && produced == original_size && z.avail_in == 0;
  inflateEnd(&z);
  if (!whole) return std::nullopt;
  out.resize(original_size);
  return out;
}

}  // namespace

std::expected<Bytes, std::error_code> decompress(ByteView data, std::size_t original_size) {
  if (data.size() > std::numeric_limits<uInt>::max() || original_size >= std::numeric_limits<uInt>::max())
    return fail(Errc::too_large);
  for (int window_bits : {-15, 15})  // raw DEFLATE, then zlib-wrapped (Android accepts both)
    if (auto out = inflate_exactly(data, original_size, window_bits)) return std::move(*out);
  return fail(Errc::malformed);
}

}  // namespace hyphae::bitchat
