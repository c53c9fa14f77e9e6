// Failover time: two nodes in this process, each with two real TCP transports on
// loopback — "tcp" (the internet path, preferred for latency) and "lan" (an offline-capable local
// mesh) — and fault injection. Two scenarios, each repeated:
//   link death:   a durable message is in flight on tcp when tcp dies (its sessions close); measured
//                 from the death to the ack of the copy the node re-sent over lan.
//   silent loss:  tcp drops every record but its sessions stay up; measured from the send to the
//                 ack over lan (no ack within ack_timeout_ms marks tcp degraded, then failover).
// Printed beside the online-to-offline switching timeline of the design (internet lost at T=11, delivery
// confirmed at T=15: 4 s) and the 200 ms target. Usage: failover_bench [--quick | TRIALS]
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "common/report.hpp"
#include "core/identity.hpp"
#include "node/node.hpp"
#include "testnet/local_node.hpp"

using namespace hyphae;
using BenchClock = std::chrono::steady_clock;

namespace {

constexpr std::uint64_t kAckTimeoutMs = 100;

NodeConfig config_for(const std::filesystem::path& dir) {
  NodeConfig c;
  c.data_dir = dir;
  c.log_level = "off";
  c.fault_injection = true;
  c.optimize_for = router::Optimize::latency;
  c.ack_timeout_ms = kAckTimeoutMs;
  c.reconnect_min_ms = 10;
  c.reconnect_max_ms = 50;
  auto& lan = c.transports["lan"];
  lan.options = {{"type", "tcp"},
                 {"listen", "127.0.0.1:0"},
                 {"caps.requires_internet", "false"},
                 {"caps.offline_capable", "true"},
                 {"caps.store_and_forward", "true"},
                 {"caps.typical_latency_ms", "400"},
                 {"caps.bandwidth_bps", "1000000"}};
  return c;
}

struct Pair {
  boost::asio::io_context io;
  TempDir dir{"hyphae-failover-bench-"};
  std::unique_ptr<Node> a, b;
  std::optional<MessageId> watched;
  std::optional<BenchClock::time_point> delivered_at;

  Pair() {
    auto made_a = Node::create(io.get_executor(), config_for(dir.path() / "a"));
    auto made_b = Node::create(io.get_executor(), config_for(dir.path() / "b"));
    if (!made_a || !made_b) throw std::runtime_error(made_a ? made_b.error() : made_a.error());
    a = std::move(*made_a);
    b = std::move(*made_b);
    bool b_started = false;
    on_strand(*b, [&] { b_started = !b->start(); });
    if (!b_started) throw std::runtime_error("node b did not start");
    on_strand([&] {
      if (a->start()) throw std::runtime_error("node a did not start");
      a->on_delivered([this](const MessageId& id) {
        if (watched && id == *watched) delivered_at = BenchClock::now();
      });
    });
    std::uint16_t tcp_port = 0, lan_port = 0;
    on_strand(*b, [&] {
      tcp_port = b->listen_port();
      lan_port = b->listen_port("lan");
    });
    const auto b_id = b->peer_id();
    on_strand([&] {
      a->add_peer(b_id,
                  {"127.0.0.1:" + std::to_string(tcp_port), "lan=127.0.0.1:" + std::to_string(lan_port)},
                  [](std::error_code) {});
    });
    if (!run_until([&] { return sessions() == 2; }, std::chrono::seconds(10)))
      throw std::runtime_error("the nodes did not connect over both transports");
  }
  ~Pair() {
    on_strand([&] { a->stop(); });
    on_strand(*b, [&] { b->stop(); });
    io.run_for(std::chrono::milliseconds(50));
  }
  // Runs f on node a's strand (or the given node's), driving the io_context until it ran.
  template <typename F>
  void on_strand(F f) {
    on_strand(*a, std::move(f));
  }
  template <typename F>
  void on_strand(Node& node, F f) {
    bool done = false;
    boost::asio::post(node.executor(), [&] {
      f();
      done = true;
    });
    while (!done) io.run_one_for(std::chrono::milliseconds(10));
  }
  template <typename P>
  bool run_until(P predicate, BenchClock::duration timeout) {
    const auto deadline = BenchClock::now() + timeout;
    while (BenchClock::now() < deadline) {
      if (predicate()) return true;
      io.run_for(std::chrono::milliseconds(1));
    }
    return predicate();
  }
  std::size_t sessions() {
    std::size_t n = 0;
    on_strand([&] { n = a->connections().size(); });
    return n;
  }
  void fault(const char* mode, double loss = 0) {
    on_strand([&] { a->inject_fault("tcp", mode, 0, loss); });
  }
  MessageId send() {
    std::optional<MessageId> id;
    on_strand([&] {
      a->send(b->peer_id(), Bytes(64, 7), SendOptions{}, [&](std::expected<MessageId, std::error_code> r) {
        if (r) id = *r;
      });
    });
    run_until([&] { return id.has_value(); }, std::chrono::seconds(5));
    if (!id) throw std::runtime_error("send failed");
    return *id;
  }
  // Heals tcp and waits until both transports are up again and tcp carries messages.
  void heal() {
    fault("none");
    if (!run_until([&] { return sessions() == 2; }, std::chrono::seconds(10)))
      throw std::runtime_error("tcp did not come back");
  }
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0
                   : v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string_view(argv[1]) == "--quick";
  const int trials = quick ? 8 : argc > 1 ? std::atoi(argv[1]) : 40;
  Pair p;
  std::vector<double> death_ms, silent_ms;
  for (int i = 0; i < trials; ++i) {
    // Link death with a message in flight: it went out on tcp (whose records now vanish), then tcp dies.
    p.fault("lossy", 1.0);
    p.watched = p.send();
    p.delivered_at.reset();
    p.io.run_for(std::chrono::milliseconds(5));
    const auto died = BenchClock::now();
    p.fault("dead");
    if (!p.run_until([&] { return p.delivered_at.has_value(); }, std::chrono::seconds(10)))
      throw std::runtime_error("not delivered after link death");
    death_ms.push_back(std::chrono::duration<double, std::milli>(*p.delivered_at - died).count());
    p.heal();

    // Silent loss: the session stays up, nothing arrives; the ack timeout triggers the failover.
    p.fault("lossy", 1.0);
    p.delivered_at.reset();
    const auto sent = BenchClock::now();
    p.watched = p.send();
    if (!p.run_until([&] { return p.delivered_at.has_value(); }, std::chrono::seconds(10)))
      throw std::runtime_error("not delivered after silent loss");
    silent_ms.push_back(std::chrono::duration<double, std::milli>(*p.delivered_at - sent).count());
    // A degraded tcp stays behind lan until a new tcp session replaces the silent one.
    p.fault("dead");
    p.run_until([&] { return p.sessions() == 1; }, std::chrono::seconds(5));
    p.heal();
  }
  constexpr double kDesignTimelineMs = 4000;  // the design timeline: internet lost at T=11, confirmed at T=15
  bench::Report report;
  auto entry = [&](std::string name, double value, std::string target, std::vector<double> runs) {
    bench::ReportEntry e;
    e.name = std::move(name);
    e.value = value;
    e.unit = "ms";
    e.comparison_name = "design timeline (T=11 lost -> T=15 confirmed)";
    e.comparison_value = kDesignTimelineMs;
    e.better = bench::Better::kLower;
    e.target = std::move(target);
    e.runs = std::move(runs);
    report.add(std::move(e));
  };
  entry("failover after link death p50", percentile(death_ms, 0.5), "< 200 ms", death_ms);
  entry("failover after link death p99", percentile(death_ms, 0.99), "< 200 ms", {});
  entry("failover after silent loss p50 (ack_timeout " + std::to_string(kAckTimeoutMs) + " ms)",
        percentile(silent_ms, 0.5), "ack_timeout_ms + a round trip", silent_ms);
  entry("failover after silent loss p99", percentile(silent_ms, 0.99), "", {});
  std::printf("failover_bench: %d trials per scenario, loopback, two transports per node\n", trials);
  report.print_table();
  report.write_json(std::filesystem::path(HYPHAE_SOURCE_DIR) / "bench/results/failover.json");
  return 0;
}
