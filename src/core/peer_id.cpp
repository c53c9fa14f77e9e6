#include "core/peer_id.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include "core/base58.hpp"
#include "core/error.hpp"

namespace hyphae {
namespace {

constexpr std::uint8_t kIdentityCode = 0x00;
constexpr std::uint8_t kSha256Code = 0x12;
constexpr std::size_t kSha256Len = 32;
constexpr std::size_t kMaxIdentityDigest = 42;  // peer-ids.md: keys up to 42 bytes are inlined
constexpr std::uint8_t kKeyTypeEd25519 = 1;
constexpr std::uint64_t kLibp2pKeyCodec = 0x72;
constexpr std::size_t kMaxCidText = 256;

std::unexpected<std::error_code> fail(Errc e) {
  return std::unexpected(make_error_code(e));
}

// Reads a minimally encoded uvarint of at most 9 bytes (protobuf/multiformats canonical form).
bool read_canonical_uvarint(ByteView data, std::size_t& pos, std::uint64_t& v) {
  std::size_t start = pos;
  if (!get_uvarint(data, pos, v)) return false;
  std::size_t n = pos - start;
  if (n > 9) return false;
  if (n > 1 && data[pos - 1] == 0) return false;  // trailing zero group: not minimal
  return true;
}

// Lowercase RFC 4648 base32 without padding (multibase 'b'); rejects non-zero leftover bits.
std::expected<Bytes, std::error_code> base32_decode_lower(std::string_view text) {
  Bytes out;
  out.reserve(text.size() * 5 / 8);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'a' && c <= 'z')
      v = c - 'a';
    else if (c >= '2' && c <= '7')
      v = c - '2' + 26;
    else
      return fail(Errc::malformed);
    acc = (acc << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  if (bits >= 5 || acc != 0) return fail(Errc::malformed);
  return out;
}

std::uint64_t process_seed() {
  static const std::uint64_t seed = [] {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd() ^ 0x6a09e667f3bcc908ull;
  }();
  return seed;
}

}  // namespace

Bytes encode_ed25519_public_key_protobuf(const std::array<std::uint8_t, 32>& pub) {
  Bytes out;
  out.reserve(kEd25519PublicKeyProtobufSize);
  out.insert(out.end(), {0x08, kKeyTypeEd25519, 0x12, 0x20});
  out.insert(out.end(), pub.begin(), pub.end());
  return out;
}

std::expected<std::array<std::uint8_t, 32>, std::error_code> decode_ed25519_public_key_protobuf(ByteView pb) {
  // Canonical PublicKey: field 1 (varint Type) then field 2 (bytes Data), nothing else.
  if (pb.size() >= 3 && pb[0] == 0x08 && pb[1] != kKeyTypeEd25519 && pb[1] <= 3 && pb[2] == 0x12) {
    std::size_t pos = 3;
    std::uint64_t len = 0;
    if (read_canonical_uvarint(pb, pos, len) && len == pb.size() - pos) return fail(Errc::unsupported);
    return fail(Errc::malformed);
  }
  if (pb.size() != kEd25519PublicKeyProtobufSize || pb[0] != 0x08 || pb[1] != kKeyTypeEd25519 ||
      pb[2] != 0x12 || pb[3] != 0x20)
    return fail(Errc::malformed);
  std::array<std::uint8_t, 32> pub;
  std::copy(pb.begin() + 4, pb.end(), pub.begin());
  return pub;
}

PeerId PeerId::from_ed25519(const std::array<std::uint8_t, 32>& pub) {
  PeerId id;
  const std::uint8_t head[] = {kIdentityCode, kEd25519PublicKeyProtobufSize, 0x08, kKeyTypeEd25519, 0x12,
                               0x20};
  std::memcpy(id.buf_.data(), head, sizeof head);
  std::memcpy(id.buf_.data() + sizeof head, pub.data(), pub.size());
  id.len_ = static_cast<std::uint8_t>(sizeof head + pub.size());
  return id;
}

std::expected<PeerId, std::error_code> PeerId::from_bytes(ByteView mh) {
  if (mh.size() < 2 || mh.size() > kMaxSize) return fail(Errc::malformed);
  std::size_t pos = 0;
  std::uint64_t code = 0, len = 0;
  if (!read_canonical_uvarint(mh, pos, code) || !read_canonical_uvarint(mh, pos, len))
    return fail(Errc::malformed);
  if (len != mh.size() - pos) return fail(Errc::malformed);
  if (code == kIdentityCode) {
    if (len > kMaxIdentityDigest) return fail(Errc::malformed);
    auto key = decode_ed25519_public_key_protobuf(mh.subspan(pos));
    if (!key) return std::unexpected(key.error());
  } else if (code == kSha256Code) {
    if (len != kSha256Len) return fail(Errc::malformed);
  } else {
    return fail(Errc::malformed);
  }
  PeerId id;
  std::copy(mh.begin(), mh.end(), id.buf_.begin());
  id.len_ = static_cast<std::uint8_t>(mh.size());
  return id;
}

std::expected<PeerId, std::error_code> PeerId::from_string(std::string_view text) {
  if (text.empty()) return fail(Errc::malformed);
  if (text.front() == '1' || text.starts_with("Qm")) {
    // A 64-byte multihash is at most 88 base58 characters; refuse longer text early.
    if (text.size() > 90) return fail(Errc::malformed);
    auto raw = base58btc_decode(text);
    if (!raw) return std::unexpected(raw.error());
    return from_bytes(*raw);
  }
  // CIDv1 with the libp2p-key codec: multibase prefix, then <version><codec><multihash>.
  if (text.size() > kMaxCidText) return fail(Errc::malformed);
  std::expected<Bytes, std::error_code> raw;
  if (text.front() == 'b')
    raw = base32_decode_lower(text.substr(1));
  else if (text.front() == 'z')
    raw = base58btc_decode(text.substr(1));
  else
    return fail(Errc::malformed);
  if (!raw) return std::unexpected(make_error_code(Errc::malformed));
  std::size_t pos = 0;
  std::uint64_t version = 0, codec = 0;
  if (!read_canonical_uvarint(*raw, pos, version) || version != 1) return fail(Errc::malformed);
  if (!read_canonical_uvarint(*raw, pos, codec) || codec != kLibp2pKeyCodec) return fail(Errc::malformed);
  return from_bytes(ByteView(*raw).subspan(pos));
}

std::string PeerId::to_string() const {
  return empty() ? std::string{} : base58btc_encode(bytes());
}

bool PeerId::is_ed25519() const {
  return len_ == 2 + kEd25519PublicKeyProtobufSize && buf_[0] == kIdentityCode;
}

std::expected<std::array<std::uint8_t, 32>, std::error_code> PeerId::ed25519_public_key() const {
  if (empty()) return fail(Errc::invalid_argument);
  if (!is_ed25519()) return fail(Errc::unsupported);
  std::array<std::uint8_t, 32> pub;
  std::memcpy(pub.data(), buf_.data() + 2 + 4, pub.size());
  return pub;
}

std::size_t hash_value(const PeerId& id) noexcept {
  // Bytes past the length are zero and the buffer is a multiple of 8, so whole words are safe.
  static_assert(PeerId::kMaxSize % 8 == 0);
  const std::uint8_t* p = id.bytes().data();
  std::uint64_t h = process_seed() ^ (id.bytes().size() * 0x9e3779b97f4a7c15ull);
  for (std::size_t i = 0; i < id.bytes().size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  h *= 0x94d049bb133111ebull;
  h ^= h >> 29;
  return static_cast<std::size_t>(h);
}

}  // namespace hyphae
