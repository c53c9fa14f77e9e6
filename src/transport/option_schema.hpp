// OptionSchema: the options one transport type takes (key, kind, range or choices, default, what it
// does), declared once in the transport's own folder. The configuration loader checks a section's
// values against it and the transport's factory reads its values through it, so a key, a range and
// its documentation exist in one place. Options are text (as the YAML had them); "caps.*" keys are
// capability overrides, checked by apply_capability_options, not here.
// A value type; immutable after construction, safe to share between threads.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace hyphae::transport {

struct OptionSpec {
  enum class Kind : std::uint8_t { boolean, integer, number, text, choice, list };
  std::string key;
  Kind kind = Kind::text;
  double min = 0, max = 0;           // integer and number: inclusive bounds
  std::vector<std::string> choices;  // choice
  std::string default_value;         // as text; empty: none (the transport decides, see doc)
  std::string doc;                   // one line for people (docs, errors)
};

using Options = std::map<std::string, std::string>;

class OptionSchema {
 public:
  OptionSchema() = default;
  OptionSchema(std::initializer_list<OptionSpec> specs) : specs_(specs) {}

  const std::vector<OptionSpec>& specs() const { return specs_; }
  const OptionSpec* find(std::string_view key) const;
  // The value as it is kept (booleans as "true"/"false"), or why `text` does not fit `key`'s rule:
  // "<key> must be between 1 and 7", "<key> is not a known setting", ...
  std::expected<std::string, std::string> check(std::string_view key, std::string_view text) const;
  // Every option (but "caps.*" ones) checked; the first error.
  std::expected<void, std::string> check_all(const Options& options) const;

  // Readers for a factory, over options check_all accepted: the value, or `fallback` when absent.
  // A value outside its rule is an error naming the key (options may come from code, not a file).
  std::expected<std::uint64_t, std::string> integer(const Options& options, std::string_view key,
                                                    std::uint64_t fallback) const;
  std::expected<double, std::string> number(const Options& options, std::string_view key,
                                            double fallback) const;
  // A text or choice option: its value, or the spec's default_value when absent.
  std::string text(const Options& options, std::string_view key) const;

 private:
  std::vector<OptionSpec> specs_;
};

}  // namespace hyphae::transport
