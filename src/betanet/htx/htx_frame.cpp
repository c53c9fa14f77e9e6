#include "betanet/htx/htx_frame.hpp"

#include <sodium.h>
#include <zlib.h>

#include <algorithm>

#include "crypto/hkdf/hkdf.hpp"

namespace hyphae::htx {

namespace {

std::uint32_t crc32_of(ByteView b) {
  return static_cast<std::uint32_t>(::crc32(0L, b.data(), static_cast<uInt>(b.size())));
}

void put_u32(Bytes& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}

std::uint64_t get_be(ByteView b, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = v << 8 | b[at + i];
  return v;
}

}  // namespace

bool has_stream_id(FrameType t) {
  return t == FrameType::stream || t == FrameType::window_update;
}

void put_quic_varint(Bytes& out, std::uint64_t v) {
  if (v < (1u << 6)) {
    out.push_back(static_cast<std::uint8_t>(v));
  } else if (v < (1u << 14)) {
    out.push_back(static_cast<std::uint8_t>(0x40 | v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
  } else if (v < (1u << 30)) {
    put_u32(out, static_cast<std::uint32_t>(v) | 0x80000000u);
  } else {
    const std::uint64_t w = v | (std::uint64_t{3} << 62);
    for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(w >> s));
  }
}

std::optional<std::pair<std::uint64_t, std::size_t>> read_quic_varint(ByteView in) {
  if (in.empty()) return std::nullopt;
  const std::size_t n = std::size_t{1} << (in[0] >> 6);
  if (in.size() < n) return std::nullopt;
  std::uint64_t v = in[0] & 0x3f;
  for (std::size_t i = 1; i < n; ++i) v = v << 8 | in[i];
  return std::pair{v, n};
}

void put_header(Bytes& out, const FrameHeader& h) {
  out.push_back(kMagic);
  out.push_back(kVersion);
  out.push_back(static_cast<std::uint8_t>(h.length >> 16));
  out.push_back(static_cast<std::uint8_t>(h.length >> 8));
  out.push_back(static_cast<std::uint8_t>(h.length));
  out.push_back(static_cast<std::uint8_t>(h.type));
  put_u32(out, h.sequence);
  put_u32(out, static_cast<std::uint32_t>(h.timestamp_ms >> 32));
  put_u32(out, static_cast<std::uint32_t>(h.timestamp_ms));
  if (has_stream_id(h.type)) put_quic_varint(out, h.stream_id);
}

std::expected<std::optional<ParsedFrame>, std::string> parse_frame(ByteView buffer, std::size_t max_length) {
  if (buffer.size() < kFixedHeaderBytes) {
    // Refuse a wrong start at once rather than after a full header's wait.
    if (!buffer.empty() && buffer[0] != kMagic) return std::unexpected("not an HTX frame (magic)");
    if (buffer.size() > 1 && buffer[1] != kVersion) return std::unexpected("unsupported HTX version");
    return std::nullopt;
  }
  if (buffer[0] != kMagic) return std::unexpected("not an HTX frame (magic)");
  if (buffer[1] != kVersion) return std::unexpected("unsupported HTX version");
  ParsedFrame f;
  f.header.length = static_cast<std::uint32_t>(get_be(buffer, 2, 3));
  if (buffer[5] > static_cast<std::uint8_t>(FrameType::window_update))
    return std::unexpected("unknown frame type");
  f.header.type = static_cast<FrameType>(buffer[5]);
  f.header.sequence = static_cast<std::uint32_t>(get_be(buffer, 6, 4));
  f.header.timestamp_ms = get_be(buffer, 10, 8);
  if (f.header.length > max_length) return std::unexpected("frame longer than allowed");
  std::size_t at = kFixedHeaderBytes;
  if (has_stream_id(f.header.type)) {
    const auto v = read_quic_varint(buffer.subspan(at));
    if (!v) return std::nullopt;
    f.header.stream_id = v->first;
    at += v->second;
  }
  const std::size_t total = at + f.header.length + kTagBytes + kCrcBytes;
  if (buffer.size() < total) return std::nullopt;
  const std::size_t crc_at = total - kCrcBytes;
  if (crc32_of(buffer.first(crc_at)) != static_cast<std::uint32_t>(get_be(buffer, crc_at, 4)))
    return std::unexpected("CRC32 mismatch");
  f.ad = buffer.first(at);
  f.sealed = buffer.subspan(at, f.header.length + kTagBytes);
  f.size = total;
  return f;
}

HtxDirection::HtxDirection(const std::array<std::uint8_t, 32>& key, ByteView handshake_hash,
                           std::uint64_t now_ms)
    : key_(key), handshake_hash_(handshake_hash.begin(), handshake_hash.end()) {
  install(now_ms);
}

HtxDirection::~HtxDirection() {
  sodium_memzero(key_.data(), key_.size());
  sodium_memzero(salt_.data(), salt_.size());
}

void HtxDirection::install(std::uint64_t now_ms) {
  hkdf::derive({}, key_, as_bytes("ns"), salt_);
  counter_ = 0;
  bytes_ = 0;
  since_ms_ = now_ms;
}

void HtxDirection::update(std::uint64_t now_ms) {
  std::array<std::uint8_t, 32> next{};
  hkdf::derive(handshake_hash_, key_, as_bytes("next"), next);
  key_ = next;
  sodium_memzero(next.data(), next.size());
  ++generation_;
  install(now_ms);
}

bool HtxDirection::due_for_update(std::uint64_t now_ms) const {
  return counter_ >= kUpdateFrames || bytes_ >= kUpdateBytes || now_ms >= since_ms_ + kUpdateMs;
}

std::array<std::uint8_t, 12> HtxDirection::nonce() const {
  std::array<std::uint8_t, 12> n = salt_;
  for (std::size_t i = 0; i < 8; ++i) n[i] ^= static_cast<std::uint8_t>(counter_ >> (8 * i));
  return n;
}

void HtxDirection::seal_frame(FrameHeader h, ByteView plaintext, Bytes& out) {
  h.length = static_cast<std::uint32_t>(plaintext.size());
  h.sequence = sequence_;
  const std::size_t start = out.size();
  put_header(out, h);
  const std::size_t ad_len = out.size() - start;
  out.resize(out.size() + plaintext.size() + kTagBytes);
  const auto n = nonce();
  unsigned long long written = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out.data() + start + ad_len, &written, plaintext.data(),
                                            plaintext.size(), out.data() + start, ad_len, nullptr, n.data(),
                                            key_.data());
  const std::uint32_t crc = crc32_of(ByteView(out.data() + start, out.size() - start));
  put_u32(out, crc);
  ++counter_;
  ++sequence_;
  bytes_ += plaintext.size();
}

std::optional<Bytes> HtxDirection::open_frame(const ParsedFrame& f) {
  if (f.header.sequence != sequence_) return std::nullopt;  // dropped, reordered or replayed
  Bytes plain(f.sealed.size() - kTagBytes);
  const auto n = nonce();
  unsigned long long written = 0;
  if (crypto_aead_chacha20poly1305_ietf_decrypt(plain.data(), &written, nullptr, f.sealed.data(),
                                                f.sealed.size(), f.ad.data(), f.ad.size(), n.data(),
                                                key_.data()) != 0)
    return std::nullopt;
  ++counter_;
  ++sequence_;
  bytes_ += plain.size();
  return plain;
}

}  // namespace hyphae::htx
