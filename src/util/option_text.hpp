// Reading one text option (from a transport's or link's `key: value` settings) as a number in a
// range, a boolean or a list, with an error that names the key. Stateless; safe from any thread.
#pragma once

#include <charconv>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace hyphae {

template <typename T>
std::expected<T, std::string> parse_number(const std::string& key, const std::string& text, T min, T max) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value < min || value > max)
    return std::unexpected(key + ": '" + text + "' is not a number in [" + std::to_string(min) + ", " +
                           std::to_string(max) + "]");
  return value;
}

// true/yes/on/1 and false/no/off/0.
inline std::expected<bool, std::string> parse_bool(const std::string& key, const std::string& text) {
  if (text == "true" || text == "yes" || text == "on" || text == "1") return true;
  if (text == "false" || text == "no" || text == "off" || text == "0") return false;
  return std::unexpected(key + ": '" + text + "' is not a boolean");
}

// A list option as the configuration keeps it ("a, b,c"): the items, trimmed of spaces and tabs,
// empty ones left out.
inline std::vector<std::string> split_option_list(std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    const auto comma = text.find(',');
    auto item = text.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace hyphae
