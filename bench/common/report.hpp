// Benchmark report: collects measured figures, each optionally paired with a same-run comparison
// figure, prints them as an aligned table and writes them as JSON (bench/results/*.json).
// Thread-safety: none; fill and print a Report from one thread (or guard it externally).
// Ownership: a Report owns copies of all its entries; it holds no files or other resources.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hyphae::bench {

enum class Better { kHigher, kLower };

struct ReportEntry {
  std::string name;                        // e.g. "zmq_push_pull_64B"
  double value = 0;                        // the measured figure (ignored when error is set)
  std::string unit;                        // e.g. "msg/s", "µs"
  std::string comparison_name;             // empty: no comparison
  std::optional<double> comparison_value;  // measured in the same run, never hard-coded
  Better better = Better::kHigher;         // kLower for latencies and costs
  std::string target;                      // free text, e.g. ">= 0.5x" (may be empty)
  std::vector<double> runs;                // individual measurements when value is their median
  std::string error;                       // non-empty: the measurement failed
  // Filled in by Report::add: value / comparison (kHigher) or comparison / value (kLower), so > 1
  // always means "better than the comparison". Empty without a usable comparison.
  std::optional<double> ratio;
};

// The median of same-run measurements (0 for none).
double median(std::vector<double> values);
// An entry whose value and comparison are the medians of `runs` and `comparison_runs` (kHigher).
ReportEntry median_entry(std::string name, std::vector<double> runs, std::string unit,
                         std::string comparison_name, std::vector<double> comparison_runs,
                         std::string target);

// value / comparison or comparison / value per `better`; nullopt unless both are finite and the
// divisor is non-zero.
std::optional<double> compute_ratio(double value, std::optional<double> comparison, Better better);

class Report {
 public:
  // Stores `e` after computing e.ratio.
  void add(ReportEntry e);
  // Shorthand for a plain entry, optionally compared with a same-run figure.
  void add(std::string name, double value, std::string unit, Better better = Better::kHigher,
           std::string comparison_name = {}, std::optional<double> comparison_value = {},
           std::string target = {});
  // Records that a measurement failed (shown as FAILED in the table, "error" in the JSON).
  void add_failure(std::string name, std::string unit, std::string error);

  const std::vector<ReportEntry>& entries() const { return entries_; }
  // First entry with this name that did not fail, or nullptr.
  const ReportEntry* find(std::string_view name) const;
  bool has_failures() const;

  // Aligned table with a ratio column; failed entries are listed with their error below it.
  void print_table(std::ostream& out) const;
  void print_table() const;  // to stdout

  // {"generated_at": ISO-8601 UTC, "machine": {"nproc", "kernel", "cpu_model"}, "entries": [...]}
  nlohmann::ordered_json to_json() const;
  // Writes to_json() to `path` (via a temp file and rename), creating parent directories.
  // Throws std::runtime_error on I/O failure.
  void write_json(const std::filesystem::path& path) const;

 private:
  std::vector<ReportEntry> entries_;
};

// "5.12 M", "56.4 k", "55.7", "0.84": the compact number format used by the table.
std::string format_number(double v);

}  // namespace hyphae::bench
