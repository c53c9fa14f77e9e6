#include "core/bytes.hpp"

namespace hyphae {

std::string to_hex(ByteView b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (auto c : b) {
    s.push_back(digits[c >> 4]);
    s.push_back(digits[c & 15]);
  }
  return s;
}

Bytes from_hex(std::string_view hex, bool* ok) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out;
  if (hex.size() % 2 != 0) {
    if (ok) *ok = false;
    return out;
  }
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      if (ok) *ok = false;
      return {};
    }
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  if (ok) *ok = true;
  return out;
}

void put_uvarint(Bytes& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

bool get_uvarint(ByteView data, std::size_t& pos, std::uint64_t& v) {
  v = 0;
  for (int shift = 0, i = 0; i < 10; ++i, shift += 7) {
    if (pos >= data.size()) return false;
    std::uint8_t c = data[pos++];
    if (i == 9 && c > 1) return false;  // the 10th group holds bit 63 only: more would not fit
    v |= std::uint64_t{c & 0x7fu} << shift;
    if ((c & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace hyphae
