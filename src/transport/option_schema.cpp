// OptionSchema checks and readers (see option_schema.hpp).
#include "transport/option_schema.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace hyphae::transport {

namespace {

std::string format_bound(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string range_text(const OptionSpec& spec) {
  return "between " + format_bound(spec.min) + " and " + format_bound(spec.max);
}

bool parse_double(std::string_view text, double& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && ptr == text.data() + text.size() && std::isfinite(out);
}

bool parse_integer(std::string_view text, long long& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && ptr == text.data() + text.size();
}

}  // namespace

const OptionSpec* OptionSchema::find(std::string_view key) const {
  auto it = std::find_if(specs_.begin(), specs_.end(), [&](const OptionSpec& s) { return s.key == key; });
  return it == specs_.end() ? nullptr : &*it;
}

std::expected<std::string, std::string> OptionSchema::check(std::string_view key,
                                                            std::string_view text) const {
  const OptionSpec* spec = find(key);
  if (!spec) return std::unexpected(std::string(key) + " is not a known setting");
  const std::string name(key);
  switch (spec->kind) {
    case OptionSpec::Kind::boolean:
      if (text == "true" || text == "yes" || text == "on") return std::string("true");
      if (text == "false" || text == "no" || text == "off") return std::string("false");
      return std::unexpected(name + " must be true or false");
    case OptionSpec::Kind::integer: {
      long long v = 0;
      if (!parse_integer(text, v) || static_cast<double>(v) < spec->min || static_cast<double>(v) > spec->max)
        return std::unexpected(name + " must be an integer " + range_text(*spec));
      return std::string(text);
    }
    case OptionSpec::Kind::number: {
      double v = 0;
      if (!parse_double(text, v) || v < spec->min || v > spec->max)
        return std::unexpected(name + " must be a number " + range_text(*spec));
      return std::string(text);
    }
    case OptionSpec::Kind::choice:
      if (std::find(spec->choices.begin(), spec->choices.end(), text) == spec->choices.end()) {
        std::string list;
        for (const auto& c : spec->choices) list += (list.empty() ? "'" : ", '") + c + "'";
        return std::unexpected(name + " must be one of " + list);
      }
      return std::string(text);
    case OptionSpec::Kind::text:
    case OptionSpec::Kind::list:
      return std::string(text);
  }
  return std::string(text);
}

std::expected<void, std::string> OptionSchema::check_all(const Options& options) const {
  for (const auto& [key, value] : options) {
    if (key.starts_with("caps.")) continue;
    if (auto r = check(key, value); !r) return std::unexpected(r.error());
  }
  return {};
}

std::expected<std::uint64_t, std::string> OptionSchema::integer(const Options& options, std::string_view key,
                                                                std::uint64_t fallback) const {
  auto it = options.find(std::string(key));
  if (it == options.end()) return fallback;
  auto ok = check(key, it->second);
  if (!ok) return std::unexpected(ok.error());
  long long v = 0;
  if (!parse_integer(*ok, v) || v < 0)
    return std::unexpected(std::string(key) + " must be a non-negative integer");
  return static_cast<std::uint64_t>(v);
}

std::expected<double, std::string> OptionSchema::number(const Options& options, std::string_view key,
                                                        double fallback) const {
  auto it = options.find(std::string(key));
  if (it == options.end()) return fallback;
  auto ok = check(key, it->second);
  if (!ok) return std::unexpected(ok.error());
  double v = 0;
  if (!parse_double(*ok, v)) return std::unexpected(std::string(key) + " must be a number");
  return v;
}

std::string OptionSchema::text(const Options& options, std::string_view key) const {
  if (auto it = options.find(std::string(key)); it != options.end()) return it->second;
  const OptionSpec* spec = find(key);
  return spec ? spec->default_value : std::string();
}

}  // namespace hyphae::transport
