#include "router/connectivity.hpp"

#include <utility>

namespace hyphae::router {

std::string_view to_string(ConnectivityBasis b) noexcept {
  switch (b) {
    case ConnectivityBasis::none:
      return "none";
    case ConnectivityBasis::override_:
      return "override";
    case ConnectivityBasis::probe:
      return "probe";
    case ConnectivityBasis::transport:
      return "transport";
  }
  return "none";
}

void Connectivity::set_override(std::optional<bool> online, std::uint64_t now_ms) {
  override_ = online;
  evaluate(now_ms, online ? (*online ? "override: online" : "override: offline") : "override cleared");
}

void Connectivity::report_probe(bool reachable, std::string detail, std::uint64_t now_ms) {
  probe_ok_ = reachable;
  probe_at_ms_ = now_ms;
  evaluate(now_ms, std::move(detail));
}

void Connectivity::report_transport(std::string_view transport, bool requires_internet,
                                    std::size_t live_links, std::uint64_t now_ms) {
  if (!requires_internet) return;
  auto it = internet_links_.find(transport);
  if (it == internet_links_.end()) it = internet_links_.emplace(std::string(transport), 0).first;
  if (it->second == live_links) return;
  it->second = live_links;
  evaluate(now_ms, std::string(transport) + ": " + std::to_string(live_links) + " live link(s)");
}

void Connectivity::tick(std::uint64_t now_ms) {
  evaluate(now_ms, "probe result expired");
}

bool Connectivity::probe_due(std::uint64_t now_ms) const {
  if (probe_interval_ms_ == 0) return false;
  return !probe_ok_ || now_ms >= probe_at_ms_ + probe_interval_ms_;
}

void Connectivity::evaluate(std::uint64_t now_ms, std::string detail) {
  bool online = false;
  ConnectivityBasis basis = ConnectivityBasis::none;
  const bool probe_fresh =
      probe_ok_ && probe_interval_ms_ > 0 && now_ms < probe_at_ms_ + 3 * probe_interval_ms_;
  std::size_t links = 0;
  for (const auto& [name, n] : internet_links_) links += n;
  if (override_) {
    online = *override_;
    basis = ConnectivityBasis::override_;
  } else if (probe_fresh) {
    online = *probe_ok_;
    basis = ConnectivityBasis::probe;
  } else if (!internet_links_.empty()) {
    online = links > 0;
    basis = ConnectivityBasis::transport;
  }
  const bool changed = online != online_ || (history_.empty() && basis != ConnectivityBasis::none);
  basis_ = basis;
  if (!changed) return;
  online_ = online;
  since_ms_ = now_ms;
  ++changes_;
  history_.push_back(ConnectivityChange{online, now_ms, basis, std::move(detail)});
  while (history_.size() > kHistory) history_.pop_front();
}

}  // namespace hyphae::router
