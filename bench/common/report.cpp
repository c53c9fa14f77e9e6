// Implementation of the benchmark Report (table and JSON output).
#include "common/report.hpp"

#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <system_error>

namespace hyphae::bench {
namespace {

// Terminal columns taken by a UTF-8 string (counts code points; good enough for "µs" and "≈").
std::size_t display_width(std::string_view s) {
  std::size_t w = 0;
  for (const unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++w;
  return w;
}

std::string pad(std::string_view s, std::size_t width, bool right_align) {
  const std::size_t w = display_width(s);
  const std::string fill(width > w ? width - w : 0, ' ');
  return right_align ? fill + std::string(s) : std::string(s) + fill;
}

std::string iso_utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf.data();
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto v = line.substr(colon + 1);
        const auto first = v.find_first_not_of(" \t");
        return first == std::string::npos ? std::string() : v.substr(first);
      }
    }
  }
  return {};
}

nlohmann::ordered_json number_or_null(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

}  // namespace

std::string format_number(double v) {
  if (std::isnan(v)) return "n/a";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  const double a = std::fabs(v);
  if (a >= 1e9) return fmt::format("{:.2f} G", v / 1e9);
  if (a >= 1e6) return fmt::format("{:.2f} M", v / 1e6);
  if (a >= 1e4) return fmt::format("{:.1f} k", v / 1e3);
  if (a >= 100) return fmt::format("{:.0f}", v);
  if (a >= 10) return fmt::format("{:.1f}", v);
  return fmt::format("{:.2f}", v);
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

ReportEntry median_entry(std::string name, std::vector<double> runs, std::string unit,
                         std::string comparison_name, std::vector<double> comparison_runs,
                         std::string target) {
  ReportEntry e;
  e.name = std::move(name);
  e.value = median(runs);
  e.unit = std::move(unit);
  e.comparison_name = std::move(comparison_name);
  e.comparison_value = median(std::move(comparison_runs));
  e.target = std::move(target);
  e.runs = std::move(runs);
  return e;
}

std::optional<double> compute_ratio(double value, std::optional<double> comparison, Better better) {
  if (!comparison || !std::isfinite(value) || !std::isfinite(*comparison)) return std::nullopt;
  const double num = better == Better::kHigher ? value : *comparison;
  const double den = better == Better::kHigher ? *comparison : value;
  if (den == 0) return std::nullopt;
  return num / den;
}

void Report::add(ReportEntry e) {
  e.ratio = e.error.empty() ? compute_ratio(e.value, e.comparison_value, e.better) : std::nullopt;
  entries_.push_back(std::move(e));
}

void Report::add(std::string name, double value, std::string unit, Better better, std::string comparison_name,
                 std::optional<double> comparison_value, std::string target) {
  ReportEntry e;
  e.name = std::move(name);
  e.value = value;
  e.unit = std::move(unit);
  e.better = better;
  e.comparison_name = std::move(comparison_name);
  e.comparison_value = comparison_value;
  e.target = std::move(target);
  add(std::move(e));
}

void Report::add_failure(std::string name, std::string unit, std::string error) {
  ReportEntry e;
  e.name = std::move(name);
  e.value = std::nan("");
  e.unit = std::move(unit);
  e.error = error.empty() ? std::string("failed") : std::move(error);
  add(std::move(e));
}

const ReportEntry* Report::find(std::string_view name) const {
  for (const auto& e : entries_)
    if (e.name == name && e.error.empty()) return &e;
  return nullptr;
}

bool Report::has_failures() const {
  for (const auto& e : entries_)
    if (!e.error.empty()) return true;
  return false;
}

void Report::print_table(std::ostream& out) const {
  static constexpr std::size_t kCols = 7;
  const std::array<std::string, kCols> header{"benchmark",  "value", "unit",  "compared with",
                                              "comparison", "ratio", "target"};
  const std::array<bool, kCols> right{false, true, false, false, true, true, false};
  std::vector<std::array<std::string, kCols>> rows;
  for (const auto& e : entries_) {
    std::array<std::string, kCols> r;
    r[0] = e.name;
    r[1] = e.error.empty() ? format_number(e.value) : "FAILED";
    r[2] = e.unit + (e.better == Better::kLower ? " ↓" : "");
    r[3] = e.comparison_name.empty() ? "-" : e.comparison_name;
    r[4] = e.comparison_value ? format_number(*e.comparison_value) : "-";
    r[5] = e.ratio ? fmt::format("{:.2f}x", *e.ratio) : "-";
    r[6] = e.target.empty() ? "-" : e.target;
    rows.push_back(std::move(r));
  }
  std::array<std::size_t, kCols> width{};
  for (std::size_t c = 0; c < kCols; ++c) {
    width[c] = display_width(header[c]);
    for (const auto& r : rows) width[c] = std::max(width[c], display_width(r[c]));
  }
  const auto line = [&](const std::array<std::string, kCols>& r) {
    std::string s;
    for (std::size_t c = 0; c < kCols; ++c) {
      if (c) s += "  ";
      s += pad(r[c], width[c], right[c]);
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << '\n';
  };
  line(header);
  std::size_t total = 2 * (kCols - 1);
  for (auto w : width) total += w;
  out << std::string(total, '-') << '\n';
  for (const auto& r : rows) line(r);
  out << "(ratio > 1 means better than the comparison; ↓ marks lower-is-better)\n";
  for (const auto& e : entries_)
    if (!e.error.empty()) out << "  FAILED " << e.name << ": " << e.error << '\n';
  out.flush();
}

void Report::print_table() const {
  print_table(std::cout);
}

nlohmann::ordered_json Report::to_json() const {
  nlohmann::ordered_json machine;
  machine["nproc"] = static_cast<long>(::sysconf(_SC_NPROCESSORS_ONLN));
  utsname u{};
  machine["kernel"] = ::uname(&u) == 0 ? std::string(u.release) : std::string();
  machine["cpu_model"] = cpu_model();

  nlohmann::ordered_json entries = nlohmann::ordered_json::array();
  for (const auto& e : entries_) {
    nlohmann::ordered_json j;
    j["name"] = e.name;
    j["value"] = e.error.empty() ? number_or_null(e.value) : nlohmann::ordered_json(nullptr);
    j["unit"] = e.unit;
    j["lower_is_better"] = e.better == Better::kLower;
    j["comparison_name"] = e.comparison_name.empty() ? nlohmann::ordered_json(nullptr)
                                                     : nlohmann::ordered_json(e.comparison_name);
    j["comparison_value"] =
        e.comparison_value ? number_or_null(*e.comparison_value) : nlohmann::ordered_json(nullptr);
    j["ratio"] = e.ratio ? number_or_null(*e.ratio) : nlohmann::ordered_json(nullptr);
    j["target"] = e.target;
    if (!e.runs.empty()) j["runs"] = e.runs;
    if (!e.error.empty()) j["error"] = e.error;
    entries.push_back(std::move(j));
  }
  return {{"generated_at", iso_utc_now()}, {"machine", std::move(machine)}, {"entries", std::move(entries)}};
}

void Report::write_json(const std::filesystem::path& path) const {
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) throw std::runtime_error("cannot create " + path.parent_path().string() + ": " + ec.message());
  }
  const std::string text = to_json().dump(2) + "\n";
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error("cannot rename " + tmp.string() + " to " + path.string() + ": " + why);
  }
}

}  // namespace hyphae::bench
