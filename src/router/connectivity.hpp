// router::Connectivity: decides whether this node "has internet" (the selection decision tree's
// first question) from three kinds of evidence, in this precedence: a manual override (config or
// API), a reachability probe the operator configured (a TCP connect to an address of their choice;
// never an outside address in tests), and the health of the transports that require the internet
// (a live link over one of them is evidence of reachability). Every switch between online and
// offline is an event with a timestamp and the evidence that caused it; the last kHistory events
// are kept.
// Sans-IO and clock-free: callers pass now_ms. Not thread-safe: one owner (the Node's strand).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace hyphae::router {

enum class ConnectivityBasis : std::uint8_t {
  none = 0,   // no evidence yet: reported offline
  override_,  // set by config or API
  probe,      // the configured probe's last result
  transport,  // live links over internet-requiring transports
};
std::string_view to_string(ConnectivityBasis) noexcept;

struct ConnectivityChange {
  bool online = false;
  std::uint64_t at_ms = 0;
  ConnectivityBasis basis = ConnectivityBasis::none;
  std::string detail;  // e.g. "probe 10.0.0.1:443 failed: connection refused"
};

class Connectivity {
 public:
  static constexpr std::size_t kHistory = 64;

  // probe_interval_ms: how often the owner runs the probe (0: no probe configured). A probe result
  // older than three intervals no longer counts, and the transports decide again.
  explicit Connectivity(std::uint64_t probe_interval_ms = 0) : probe_interval_ms_(probe_interval_ms) {}

  // nullopt clears the override.
  void set_override(std::optional<bool> online, std::uint64_t now_ms);
  void report_probe(bool reachable, std::string detail, std::uint64_t now_ms);
  // live_links: links currently up over that transport; only internet-requiring transports count.
  void report_transport(std::string_view transport, bool requires_internet, std::size_t live_links,
                        std::uint64_t now_ms);
  // Re-evaluates time-dependent evidence (a probe result going stale). Call from a timer.
  void tick(std::uint64_t now_ms);

  bool online() const { return online_; }
  ConnectivityBasis basis() const { return basis_; }
  std::optional<bool> override_value() const { return override_; }
  std::uint64_t since_ms() const { return since_ms_; }  // time of the last switch (0: never)
  const std::deque<ConnectivityChange>& history() const { return history_; }
  std::uint64_t changes() const { return changes_; }  // switches so far (history() keeps the last ones)
  // True when a probe is configured and none has reported for an interval (the owner keeps at most
  // one probe running).
  bool probe_due(std::uint64_t now_ms) const;

 private:
  void evaluate(std::uint64_t now_ms, std::string detail);

  std::uint64_t probe_interval_ms_;
  std::optional<bool> override_;
  std::optional<bool> probe_ok_;
  std::uint64_t probe_at_ms_ = 0;
  std::map<std::string, std::size_t, std::less<>> internet_links_;  // transport -> live links
  bool online_ = false;
  ConnectivityBasis basis_ = ConnectivityBasis::none;
  std::uint64_t since_ms_ = 0;
  std::uint64_t changes_ = 0;
  std::deque<ConnectivityChange> history_;
};

}  // namespace hyphae::router
