#include "util/json_util.hpp"

#include <sodium.h>

#include <cstring>

namespace hyphae {
namespace {

// Length of the well-formed UTF-8 sequence at the start of `b` (RFC 3629, table 3-7 of
// Unicode), or 0 when it is ill-formed or truncated.
std::size_t utf8_sequence_length(const std::uint8_t* b, std::size_t size) {
  const std::uint8_t c = b[0];
  if (c < 0x80) return 1;
  std::size_t n = 0;
  std::uint8_t lo = 0x80, hi = 0xbf;  // the allowed range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;  // overlong
    if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;  // continuation byte, C0/C1 (overlong), F5..FF
  }
  if (size < n) return 0;
  if (b[1] < lo || b[1] > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if ((b[k] & 0xc0) != 0x80) return 0;
  return n;
}

}  // namespace

bool is_valid_utf8(ByteView b) {
  std::size_t i = 0;
  while (i < b.size()) {
    const auto n = utf8_sequence_length(b.data() + i, b.size() - i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool is_valid_utf8(std::string_view text) {
  return is_valid_utf8(ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

std::string sanitize_utf8(std::string_view text) {
  const auto* b = reinterpret_cast<const std::uint8_t*>(text.data());
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto n = utf8_sequence_length(b + i, text.size() - i);
    if (n == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD, one per ill-formed byte
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

void sanitize_strings(nlohmann::json& value) {
  if (value.is_string()) {
    auto& text = value.get_ref<std::string&>();
    if (!is_valid_utf8(text)) text = sanitize_utf8(text);
  } else if (value.is_array()) {
    for (auto& item : value) sanitize_strings(item);
  } else if (value.is_object()) {
    nlohmann::json fixed = nlohmann::json::object();
    for (auto& [key, item] : value.items()) {
      sanitize_strings(item);
      fixed[is_valid_utf8(key) ? key : sanitize_utf8(key)] = std::move(item);
    }
    value = std::move(fixed);
  }
}

std::string dump_json(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
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
