// Node::Impl's connectivity detection: feeds router::Connectivity from the transports' sessions, the
// operator's probe (an async TCP connect with a timeout, on the node's strand) and the override,
// and logs and counts every online/offline switch.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "node/node_impl.hpp"

namespace hyphae {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr std::uint64_t kProbeTimeoutMs = 2000;
}

void Node::Impl::init_connectivity() {
  metrics.gauge("p2p_online", "1 when the node has internet (see /v1/p2p/connectivity)").set(0);
  if (config.connectivity == "online") connectivity.set_override(true, now_ms());
  if (config.connectivity == "offline") connectivity.set_override(false, now_ms());
  metrics.gauge("p2p_online", "").set(connectivity.online() ? 1 : 0);
}

void Node::Impl::after_connectivity_input(std::uint64_t changes_before) {
  if (connectivity.changes() == changes_before || connectivity.history().empty()) return;
  const auto& change = connectivity.history().back();
  log->info("connectivity: {} ({}: {})", change.online ? "online" : "offline",
            router::to_string(change.basis), change.detail);
  metrics
      .counter("p2p_connectivity_changes_total", "Switches between online and offline",
               {{"to", change.online ? "online" : "offline"}})
      .inc();
  metrics.gauge("p2p_online", "").set(change.online ? 1 : 0);
  reroute_all();  // offline-only transports become candidates, or internet ones again
}

void Node::Impl::report_link_connectivity() {
  const auto before = connectivity.changes();
  const auto now = now_ms();
  for (const auto& slot : transports) {
    const auto& t = *slot.transport;
    connectivity.report_transport(slot.name, t.capabilities().requires_internet,
                                  t.available() ? t.peers_with_sessions().size() : 0, now);
  }
  after_connectivity_input(before);
}

void Node::Impl::tick_connectivity(std::uint64_t now) {
  const auto before = connectivity.changes();
  connectivity.tick(now);
  after_connectivity_input(before);
  if (!probe_in_flight && connectivity.probe_due(now)) start_probe();
}

void Node::Impl::start_probe() {
  std::string host;
  std::uint16_t port = 0;
  if (!parse_address(config.connectivity_probe, host, port)) return;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    log->warn("connectivity probe {}: not an IP address", config.connectivity_probe);
    return;
  }
  probe_in_flight = true;
  auto socket = std::make_shared<tcp::socket>(strand);
  auto timer = std::make_shared<asio::steady_timer>(strand);
  auto finished = std::make_shared<bool>(false);
  auto self = shared_from_this();
  auto report = [self, finished, socket, timer](bool ok, std::string detail) {
    if (*finished) return;
    *finished = true;
    boost::system::error_code ignored;
    socket->close(ignored);
    timer->cancel();
    self->probe_in_flight = false;
    if (!self->running) return;
    const auto before = self->connectivity.changes();
    self->connectivity.report_probe(ok, std::move(detail), now_ms());
    self->after_connectivity_input(before);
  };
  const std::string target = config.connectivity_probe;
  timer->expires_after(std::chrono::milliseconds(kProbeTimeoutMs));
  timer->async_wait([report, target](boost::system::error_code e) {
    if (!e) report(false, "probe " + target + " timed out");
  });
  socket->async_connect(tcp::endpoint(address, port), [report, target](boost::system::error_code e) {
    if (e == asio::error::operation_aborted) return;
    report(!e, e ? "probe " + target + " failed: " + e.message() : "probe " + target + " connected");
  });
}

void Node::set_connectivity_override(std::optional<bool> online) {
  auto& i = *impl_;
  const auto before = i.connectivity.changes();
  i.connectivity.set_override(online, now_ms());
  i.after_connectivity_input(before);
}

ConnectivityView Node::connectivity_view() const {
  return ConnectivityView{&impl_->connectivity, impl_->config.connectivity_probe};
}

}  // namespace hyphae
