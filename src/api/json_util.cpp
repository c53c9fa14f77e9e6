#include "api/json_util.hpp"

#include <sodium.h>

#include <cstring>

namespace hyphae {

bool is_valid_utf8(ByteView b) {
  std::size_t i = 0;
  while (i < b.size()) {
    std::uint8_t c = b[i];
    std::size_t n = 0;
    if (c < 0x80) {
      n = 0;
    } else if ((c & 0xe0) == 0xc0 && c >= 0xc2) {
      n = 1;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
    } else if ((c & 0xf8) == 0xf0 && c <= 0xf4) {
      n = 3;
    } else {
      return false;
    }
    if (i + n >= b.size()) return false;
    for (std::size_t k = 1; k <= n; ++k)
      if ((b[i + k] & 0xc0) != 0x80) return false;
    i += n + 1;
  }
  return true;
}

std::string base64_encode(ByteView bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
  Bytes out(text.size());
  std::size_t len = 0;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return std::nullopt;
  out.resize(len);
  return out;
}

void put_payload(nlohmann::json& out, ByteView payload) {
  if (is_valid_utf8(payload))
    out["payload"] = to_string(payload);
  else
    out["payload_base64"] = base64_encode(payload);
}

}  // namespace hyphae
