// Byte buffers shared by every codec: an owning vector and a non-owning view.
// Plain value types; no thread-safety concerns beyond those of std::vector.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hyphae {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string to_string(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::string to_hex(ByteView b);
// Returns empty on malformed input and sets ok=false.
Bytes from_hex(std::string_view hex, bool* ok = nullptr);

inline void append(Bytes& out, ByteView b) {
  out.insert(out.end(), b.begin(), b.end());
}
inline void put_u16be(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
inline void put_u32be(Bytes& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}
inline void put_u64be(Bytes& out, std::uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}
inline std::uint16_t get_u16be(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t get_u32be(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
inline std::uint64_t get_u64be(const std::uint8_t* p) {
  return (std::uint64_t{get_u32be(p)} << 32) | get_u32be(p + 4);
}

// Unsigned LEB128 varint as used by protobuf, multiformats and libp2p.
void put_uvarint(Bytes& out, std::uint64_t v);
// Reads a varint at data[pos...]; advances pos. Returns false if truncated, longer than 10 bytes or
// above 2^64-1 (a 10th byte other than 0 or 1). Accepts non-minimal encodings, as protobuf does;
// multiformats callers that need the minimal form check it (peer_id.cpp).
bool get_uvarint(ByteView data, std::size_t& pos, std::uint64_t& v);

}  // namespace hyphae
