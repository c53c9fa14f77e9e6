#include "core/base58.hpp"

#include <array>

#include "core/error.hpp"

namespace hyphae {
namespace {

constexpr char kAlphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

constexpr std::array<std::int8_t, 256> make_reverse() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 58; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}
constexpr auto kReverse = make_reverse();

}  // namespace

std::string base58btc_encode(ByteView data) {
  std::size_t zeros = 0;
  while (zeros < data.size() && data[zeros] == 0) ++zeros;
  // log(256)/log(58) ~= 1.366: digits needed for the non-zero part.
  std::size_t cap = (data.size() - zeros) * 138 / 100 + 1;
  std::string digits(cap, '\0');  // base-58 digits, most significant first, right-aligned
  std::size_t used = 0;           // number of significant digits at the end of `digits`
  for (std::size_t i = zeros; i < data.size(); ++i) {
    unsigned carry = data[i];
    std::size_t j = 0;
    for (std::size_t k = cap; k-- > 0 && (carry != 0 || j < used); ++j) {
      carry += 256u * static_cast<unsigned char>(digits[k]);
      digits[k] = static_cast<char>(carry % 58);
      carry /= 58;
    }
    used = j;
  }
  std::string out;
  out.reserve(zeros + used);
  out.append(zeros, '1');
  for (std::size_t k = cap - used; k < cap; ++k)
    out.push_back(kAlphabet[static_cast<unsigned char>(digits[k])]);
  return out;
}

std::expected<Bytes, std::error_code> base58btc_decode(std::string_view text) {
  if (text.size() > kBase58MaxInput) return std::unexpected(make_error_code(Errc::too_large));
  std::size_t ones = 0;
  while (ones < text.size() && text[ones] == '1') ++ones;
  // log(58)/log(256) ~= 0.733: bytes needed for the rest.
  std::size_t cap = (text.size() - ones) * 733 / 1000 + 1;
  Bytes buf(cap, 0);  // big-endian, right-aligned
  std::size_t used = 0;
  for (std::size_t i = ones; i < text.size(); ++i) {
    int value = kReverse[static_cast<unsigned char>(text[i])];
    if (value < 0) return std::unexpected(make_error_code(Errc::malformed));
    unsigned carry = static_cast<unsigned>(value);
    std::size_t j = 0;
    for (std::size_t k = cap; k-- > 0 && (carry != 0 || j < used); ++j) {
      carry += 58u * buf[k];
      buf[k] = static_cast<std::uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    used = j;
  }
  Bytes out;
  out.reserve(ones + used);
  out.assign(ones, 0);
  out.insert(out.end(), buf.end() - static_cast<std::ptrdiff_t>(used), buf.end());
  return out;
}

}  // namespace hyphae
