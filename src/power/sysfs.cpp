#include "power/sysfs.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <optional>
#include <string_view>
#include <system_error>

namespace hyphae::power {
namespace {

namespace fs = std::filesystem;

// sysfs attributes are one short line; anything longer is not what we expect.
constexpr std::size_t kMaxAttribute = 256;

// The file's content with surrounding whitespace removed; nullopt if it cannot be read.
std::optional<std::string> read_attribute(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string s(kMaxAttribute + 1, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  if (in.bad()) return std::nullopt;
  s.resize(static_cast<std::size_t>(in.gcount()));
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\0'; };
  while (!s.empty() && space(s.back())) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && space(s[start])) ++start;
  return s.substr(start);
}

std::optional<long long> parse_integer(std::string_view s) {
  long long v = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc{} || ptr != end || s.empty()) return std::nullopt;
  return v;
}

void note(std::vector<std::string>* notes, std::string text) {
  if (notes) notes->push_back(std::move(text));
}

// Directory entries in name order, so the result and the notes are deterministic.
std::vector<fs::path> entries(const fs::path& dir, std::string_view prefix) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(prefix)) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

PowerState read_sysfs(const fs::path& root, std::vector<std::string>* notes) {
  PowerState state;

  double capacity_sum = 0;
  int batteries = 0;
  for (const fs::path& supply : entries(root / "class" / "power_supply", "")) {
    const std::optional<std::string> type = read_attribute(supply / "type");
    if (!type) {
      note(notes, supply.string() + "/type: unreadable, supply skipped");
      continue;
    }
    if (*type == "Mains" || *type == "USB") {
      const auto online = read_attribute(supply / "online");
      if (online && *online == "1") state.charging = true;
      continue;
    }
    if (*type != "Battery") continue;  // UPS, Wireless, …
    if (auto scope = read_attribute(supply / "scope"); scope && *scope == "Device") continue;  // mouse, pen
    if (auto present = read_attribute(supply / "present"); present && *present == "0") continue;

    if (auto status = read_attribute(supply / "status");
        status && (*status == "Charging" || *status == "Full"))
      state.charging = true;

    const std::optional<std::string> text = read_attribute(supply / "capacity");
    if (!text) {
      note(notes, supply.string() + "/capacity: unreadable, battery skipped");
      continue;
    }
    const std::optional<long long> capacity = parse_integer(*text);
    if (!capacity || *capacity < 0) {
      note(notes, supply.string() + "/capacity: malformed value '" + *text + "', battery skipped");
      continue;
    }
    capacity_sum += static_cast<double>(std::min<long long>(*capacity, 100));
    ++batteries;
  }
  if (batteries > 0) state.battery_fraction = capacity_sum / batteries / 100.0;

  std::optional<double> hottest;
  for (const fs::path& zone : entries(root / "class" / "thermal", "thermal_zone")) {
    const std::optional<std::string> text = read_attribute(zone / "temp");
    if (!text) {
      note(notes, zone.string() + "/temp: unreadable, zone skipped");
      continue;
    }
    const std::optional<long long> milli = parse_integer(*text);
    if (!milli || *milli < -50'000 || *milli > 200'000) {
      note(notes, zone.string() + "/temp: malformed or implausible value '" + *text + "', zone skipped");
      continue;
    }
    const double c = static_cast<double>(*milli) / 1000.0;
    if (!hottest || c > *hottest) hottest = c;
  }
  state.temperature_c = hottest;
  return state;
}

}  // namespace hyphae::power
