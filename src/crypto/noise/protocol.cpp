#include "crypto/noise/protocol.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "core/error.hpp"
#include "crypto/noise/primitives.hpp"

namespace hyphae::noise {
namespace {

// Section 7 of the Noise spec, rev 34, transcribed token by token.
constexpr std::array<PatternSpec, kPatternCount> kPatterns{{
    {Pattern::N, "N", "", "s", "e,es"},
    {Pattern::K, "K", "s", "s", "e,es,ss"},
    {Pattern::X, "X", "", "s", "e,es,s,ss"},
    {Pattern::NN, "NN", "", "", "e|e,ee"},
    {Pattern::NK, "NK", "", "s", "e,es|e,ee"},
    {Pattern::NX, "NX", "", "", "e|e,ee,s,es"},
    {Pattern::KN, "KN", "s", "", "e|e,ee,se"},
    {Pattern::KK, "KK", "s", "s", "e,es,ss|e,ee,se"},
    {Pattern::KX, "KX", "s", "", "e|e,ee,se,s,es"},
    {Pattern::XN, "XN", "", "", "e|e,ee|s,se"},
    {Pattern::XK, "XK", "", "s", "e,es|e,ee|s,se"},
    {Pattern::XX, "XX", "", "", "e|e,ee,s,es|s,se"},
    {Pattern::IN, "IN", "", "", "e,s|e,ee,se"},
    {Pattern::IK, "IK", "", "s", "e,es,s,ss|e,ee,se"},
    {Pattern::IX, "IX", "", "", "e,s|e,ee,se,s,es"},
    {Pattern::NK1, "NK1", "", "s", "e|e,ee,es"},
    {Pattern::NX1, "NX1", "", "", "e|e,ee,s|es"},
    {Pattern::X1N, "X1N", "", "", "e|e,ee|s|se"},
    {Pattern::X1K, "X1K", "", "s", "e,es|e,ee|s|se"},
    {Pattern::XK1, "XK1", "", "s", "e|e,ee,es|s,se"},
    {Pattern::X1K1, "X1K1", "", "s", "e|e,ee,es|s|se"},
    {Pattern::X1X, "X1X", "", "", "e|e,ee,s,es|s|se"},
    {Pattern::XX1, "XX1", "", "", "e|e,ee,s|es,s,se"},
    {Pattern::X1X1, "X1X1", "", "", "e|e,ee,s|es,s|se"},
    {Pattern::K1N, "K1N", "s", "", "e|e,ee|se"},
    {Pattern::K1K, "K1K", "s", "s", "e,es|e,ee|se"},
    {Pattern::KK1, "KK1", "s", "s", "e|e,ee,se,es"},
    {Pattern::K1K1, "K1K1", "s", "s", "e|e,ee,es|se"},
    {Pattern::K1X, "K1X", "s", "", "e|e,ee,s,es|se"},
    {Pattern::KX1, "KX1", "s", "", "e|e,ee,se,s|es"},
    {Pattern::K1X1, "K1X1", "s", "", "e|e,ee,s|se,es"},
    {Pattern::I1N, "I1N", "", "", "e,s|e,ee|se"},
    {Pattern::I1K, "I1K", "", "s", "e,es,s|e,ee|se"},
    {Pattern::IK1, "IK1", "", "s", "e,s|e,ee,se,es"},
    {Pattern::I1K1, "I1K1", "", "s", "e,s|e,ee,es|se"},
    {Pattern::I1X, "I1X", "", "", "e,s|e,ee,s,es|se"},
    {Pattern::IX1, "IX1", "", "", "e,s|e,ee,se,s|es"},
    {Pattern::I1X1, "I1X1", "", "", "e,s|e,ee,s|se,es"},
}};

constexpr bool table_in_enum_order() {
  for (std::size_t i = 0; i < kPatterns.size(); ++i)
    if (static_cast<std::size_t>(kPatterns[i].pattern) != i) return false;
  return true;
}
static_assert(table_in_enum_order(), "kPatterns must follow the Pattern enum order");

std::unexpected<std::error_code> fail(Errc e) {
  return std::unexpected(make_error_code(e));
}

}  // namespace

const PatternSpec& pattern_spec(Pattern p) {
  return kPatterns[static_cast<std::size_t>(p)];
}
std::span<const PatternSpec> all_patterns() {
  return kPatterns;
}
std::string_view pattern_name(Pattern p) {
  return pattern_spec(p).name;
}
bool is_one_way(Pattern p) {
  return p == Pattern::N || p == Pattern::K || p == Pattern::X;
}
std::size_t message_count(Pattern p) {
  const auto m = pattern_spec(p).messages;
  return static_cast<std::size_t>(std::count(m.begin(), m.end(), '|')) + 1;
}
std::string_view cipher_name(CipherKind c) {
  return c == CipherKind::AESGCM ? "AESGCM" : "ChaChaPoly";
}
std::string_view hash_name(HashKind h) {
  return h == HashKind::BLAKE2b ? "BLAKE2b" : "SHA256";
}

bool cipher_available(CipherKind c) {
  if (c == CipherKind::ChaChaPoly) return true;
  return detail::aesgcm_available();
}

std::expected<Protocol, std::error_code> Protocol::parse(std::string_view name) {
  // Split into exactly five '_'-separated fields.
  std::array<std::string_view, 5> f;
  std::size_t n = 0;
  while (true) {
    const auto pos = name.find('_');
    if (n == f.size()) return fail(Errc::malformed);
    f[n++] = name.substr(0, pos);
    if (pos == std::string_view::npos) break;
    name.remove_prefix(pos + 1);
  }
  if (n != f.size() || f[0] != "Noise") return fail(Errc::malformed);

  Protocol p{Pattern::NN};
  // Pattern: base name is the leading run of uppercase letters and digits; modifiers follow.
  std::string_view pat = f[1];
  const auto base_len = static_cast<std::size_t>(
      std::find_if(pat.begin(), pat.end(),
                   [](char c) { return !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9'); }) -
      pat.begin());
  const std::string_view base = pat.substr(0, base_len);
  const auto it =
      std::find_if(kPatterns.begin(), kPatterns.end(), [&](const PatternSpec& s) { return s.name == base; });
  if (base.empty()) return fail(Errc::malformed);
  if (it == kPatterns.end()) return fail(Errc::unsupported);
  p.pattern = it->pattern;

  std::string_view mods = pat.substr(base_len);
  int last = -1;
  const std::size_t msgs = message_count(p.pattern);
  while (!mods.empty()) {
    const auto plus = mods.find('+');
    const std::string_view m = mods.substr(0, plus);
    if (m.empty()) return fail(Errc::malformed);
    if (!m.starts_with("psk")) return fail(Errc::unsupported);  // fallback, hfs, ...
    const std::string_view digits = m.substr(3);
    unsigned v = 0;
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (digits.empty() || ec != std::errc{} || ptr != digits.data() + digits.size() ||
        (digits.size() > 1 && digits[0] == '0'))
      return fail(Errc::malformed);
    // Positions must be strictly increasing (the name is hashed, so it must round-trip exactly).
    if (v > msgs || static_cast<int>(v) <= last) return fail(Errc::malformed);
    last = static_cast<int>(v);
    p.psk_modifiers = static_cast<std::uint8_t>(p.psk_modifiers | (1u << v));
    if (plus == std::string_view::npos) break;
    mods.remove_prefix(plus + 1);
    if (mods.empty()) return fail(Errc::malformed);
  }

  if (f[2] != "25519") return fail(Errc::unsupported);
  if (f[3] == "ChaChaPoly")
    p.cipher = CipherKind::ChaChaPoly;
  else if (f[3] == "AESGCM")
    p.cipher = CipherKind::AESGCM;
  else
    return fail(Errc::unsupported);
  if (f[4] == "SHA256")
    p.hash = HashKind::SHA256;
  else if (f[4] == "BLAKE2b")
    p.hash = HashKind::BLAKE2b;
  else
    return fail(Errc::unsupported);
  return p;
}

std::string Protocol::name() const {
  std::string out = "Noise_";
  out += pattern_name(pattern);
  bool first = true;
  for (unsigned i = 0; i < 8; ++i) {
    if (!(psk_modifiers & (1u << i))) continue;
    if (!first) out += '+';
    out += "psk";
    out += static_cast<char>('0' + i);
    first = false;
  }
  out += "_25519_";
  out += cipher_name(cipher);
  out += '_';
  out += hash_name(hash);
  return out;
}

}  // namespace hyphae::noise
