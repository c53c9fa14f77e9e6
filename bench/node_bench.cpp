// node_bench: two Hyphae node processes on loopback, measured beside same-run baselines.
//   ephemeral messages/s (64 B, 1 KiB)  vs ZeroMQ PUSH/PULL over TCP
//   durable acked messages/s (64 B, 1 KiB) vs mosquitto QoS 1 (1 publisher, 1 subscriber)
//   acked round trip p50/p99 (64 B)      vs raw TCP ping-pong
// Prints a table and writes bench/results/latest.json. `--quick` runs small counts.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstring>
#include <future>
#include <iostream>
#include <thread>

#include "common/baselines.hpp"
#include "common/report.hpp"
#include "node/node.hpp"
#include "testnet/local_node.hpp"

namespace asio = boost::asio;
using namespace hyphae;
using BenchClock = std::chrono::steady_clock;

namespace {

enum class Mode { ephemeral, durable, round_trip };

struct PairResult {
  double msgs_per_s = 0;
  bench::LatencyStats latency;
};

void write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    auto n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

std::string read_line(int fd) {
  std::string line;
  char c = 0;
  while (::read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  return line;
}

NodeConfig bench_config(const std::filesystem::path& dir) {
  NodeConfig config;
  config.data_dir = dir;
  config.log_level = "warn";
  config.keepalive_interval_ms = 60000;
  return config;
}

// The receiving process: a node that counts messages and reports the first-to-last time.
[[noreturn]] void run_receiver(int out_fd, int in_fd, Mode mode, std::size_t expected) {
  TempDir dir("hyphae-bench-rx-");
  asio::io_context io;
  auto node = Node::create(io.get_executor(), bench_config(dir.path()));
  if (!node) _exit(3);
  std::size_t count = 0;
  BenchClock::time_point first, last;
  asio::post((*node)->executor(), [&] {
    if ((*node)->start()) _exit(4);
    write_all(out_fd, (*node)->peer_id().to_string() + " " + std::to_string((*node)->listen_port()) + "\n");
    (*node)->subscribe([&](const InboundMessage& m) {
      if (count == 0) first = BenchClock::now();
      ++count;
      if (!m.ephemeral) (*node)->ack(m.id);
      if (count == expected && mode == Mode::ephemeral) {
        last = BenchClock::now();
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(last - first).count();
        write_all(out_fd, std::to_string(ns) + "\n");
      }
    });
  });
  std::thread waiter([&] {
    char c;
    while (::read(in_fd, &c, 1) > 0) {
    }
    asio::post((*node)->executor(), [&] {
      (*node)->stop();
      io.stop();
    });
  });
  io.run();
  waiter.join();
  node->reset();
  std::error_code ec;
  std::filesystem::remove_all(dir.path(), ec);  // _exit skips destructors
  _exit(0);
}

PairResult run_pair(Mode mode, std::size_t payload_size, std::size_t count) {
  int to_parent[2], to_child[2];
  if (::pipe(to_parent) != 0 || ::pipe(to_child) != 0) throw std::runtime_error("pipe");
  pid_t child = ::fork();
  if (child == 0) {
    ::close(to_parent[0]);
    ::close(to_child[1]);
    run_receiver(to_parent[1], to_child[0], mode, count);
  }
  ::close(to_parent[1]);
  ::close(to_child[0]);
  auto hello = read_line(to_parent[0]);
  auto space = hello.find(' ');
  if (space == std::string::npos) throw std::runtime_error("receiver did not start");
  auto receiver = PeerId::from_string(hello.substr(0, space));
  if (!receiver) throw std::runtime_error("receiver sent a bad peer id");
  std::string address = "127.0.0.1:" + hello.substr(space + 1);

  TempDir dir("hyphae-bench-tx-");
  asio::io_context io;
  auto node_or = Node::create(io.get_executor(), bench_config(dir.path()));
  if (!node_or) throw std::runtime_error(node_or.error());
  auto& node = **node_or;
  // The guard exists before io.run() starts: a run() that finds no work returns at once.
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  auto on_strand = [&](auto fn) {
    std::promise<void> done;
    asio::post(node.executor(), [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  };
  on_strand([&] {
    node.start();
    node.add_peer(*receiver, {address}, [](std::error_code) {});
  });
  // Wait for the link: an ephemeral probe succeeds once it is up (the receiver ignores extras).
  bool up = wait_until(
      [&] {
        bool ok = false;
        on_strand([&] { ok = node.status_view().connections == 1; });
        return ok;
      },
      std::chrono::seconds(10));
  if (!up) throw std::runtime_error("link did not come up");

  Bytes payload(payload_size, 0x61);
  PairResult result;
  if (mode == Mode::ephemeral) {
    SendOptions options;
    options.ephemeral = true;
    // Post in chunks so socket writes interleave with sending.
    // Like ZeroMQ's PUSH at its high-water mark, the sender waits while the link has 4 MiB unsent.
    std::function<void(std::size_t)> send_chunk = [&](std::size_t sent) {
      if (node.link_backlog(*receiver) > (4u << 20)) {
        asio::post(node.executor(), [&, sent] { send_chunk(sent); });
        return;
      }
      std::size_t end = std::min(count, sent + 256);
      for (std::size_t i = sent; i < end; ++i) node.send(*receiver, payload, options, [](auto) {});
      if (end < count) asio::post(node.executor(), [&, end] { send_chunk(end); });
    };
    asio::post(node.executor(), [&] { send_chunk(0); });
    auto ns_text = read_line(to_parent[0]);
    double ns = std::stod(ns_text.empty() ? "0" : ns_text);
    result.msgs_per_s = ns > 0 ? static_cast<double>(count - 1) / (ns / 1e9) : 0;
  } else if (mode == Mode::durable) {
    std::promise<void> all_delivered;
    std::size_t delivered = 0;
    BenchClock::time_point start;
    on_strand([&] {
      node.on_delivered([&](const MessageId&) {
        if (++delivered == count) all_delivered.set_value();
      });
    });
    start = BenchClock::now();
    asio::post(node.executor(), [&] {
      SendOptions options;
      for (std::size_t sent = 0; sent < count; sent += 1000) {
        std::vector<Bytes> batch(std::min<std::size_t>(1000, count - sent), payload);
        node.send_many(*receiver, std::move(batch), options, [](auto) {});
      }
    });
    all_delivered.get_future().wait();
    auto secs = std::chrono::duration<double>(BenchClock::now() - start).count();
    result.msgs_per_s = static_cast<double>(count) / secs;
  } else {
    // The loop runs on the node's strand: each ack triggers the next send, so the figure is the
    // node's acked round trip without a hop to the benchmark's thread.
    std::vector<double> samples;
    std::size_t warmup = std::min<std::size_t>(200, count / 5);
    std::size_t done_count = 0;
    BenchClock::time_point t0;
    std::promise<void> finished;
    auto send_one = [&] {
      t0 = BenchClock::now();
      node.send(*receiver, payload, SendOptions{}, [](auto) {});
    };
    on_strand([&] {
      node.on_delivered([&](const MessageId&) {
        if (done_count++ >= warmup)
          samples.push_back(std::chrono::duration<double, std::micro>(BenchClock::now() - t0).count());
        if (done_count == count + warmup) {
          finished.set_value();
          return;
        }
        send_one();
      });
      send_one();
    });
    finished.get_future().wait();
    on_strand([&] { node.on_delivered(nullptr); });
    result.latency = bench::summarize(samples);
  }
  on_strand([&] { node.stop(); });
  work.reset();
  io.stop();
  runner.join();
  ::close(to_child[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(to_parent[0]);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  std::size_t eph_n = quick ? 50000 : 1000000, dur_n = quick ? 20000 : 200000, rtt_n = quick ? 300 : 3000;
  // HYPHAE_BENCH_ONLY=ephemeral|durable|rtt runs one figure (for profiling), without baselines.
  const char* only_env = std::getenv("HYPHAE_BENCH_ONLY");
  std::string only = only_env ? only_env : "";
  if (!only.empty()) {
    Mode mode = only == "ephemeral" ? Mode::ephemeral : only == "durable" ? Mode::durable : Mode::round_trip;
    const char* size_env = std::getenv("HYPHAE_BENCH_SIZE");
    std::size_t size = size_env ? std::stoul(size_env) : 64;
    auto r = run_pair(mode, size, mode == Mode::ephemeral ? eph_n : mode == Mode::durable ? dur_n : rtt_n);
    std::cout << only << " " << size << " B: " << r.msgs_per_s << " msg/s, p50 " << r.latency.p50_us
              << " us, p99 " << r.latency.p99_us << " us\n";
    return 0;
  }
  // Each figure and its baseline run `reps` times, interleaved (Hyphae, baseline, Hyphae, ...), and
  // the table shows the medians: the 2-vCPU machines are shared, and one run of either side can be
  // off by 20 %. The individual runs are in the JSON ("runs").
  const int reps = quick ? 1 : 3;
  bench::Report report;
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  auto add = [&](std::string name, const std::vector<double>& ours, std::string unit, bench::Better better,
                 std::string cmp_name, const std::vector<double>& theirs, std::string target) {
    bench::ReportEntry e;
    e.name = std::move(name);
    e.value = median(ours);
    e.unit = std::move(unit);
    e.better = better;
    e.comparison_name = std::move(cmp_name);
    e.comparison_value = median(theirs);
    e.target = std::move(target);
    e.runs = ours;
    report.add(std::move(e));
  };
  for (std::size_t size : {std::size_t{64}, std::size_t{1024}}) {
    std::string tag = size == 64 ? "64 B" : "1 KiB";
    std::vector<double> eph, zmq, dur, mqtt;
    for (int r = 0; r < reps; ++r) {
      eph.push_back(run_pair(Mode::ephemeral, size, eph_n).msgs_per_s);
      zmq.push_back(bench::zmq_push_pull_msgs_per_s(size, quick ? 500000 : 2000000));
    }
    add("ephemeral " + tag, eph, "msg/s", bench::Better::kHigher, "ZeroMQ PUSH/PULL", zmq,
        size == 64 ? ">= 0.5x (goal 1x)" : ">= 0.5x");
    for (int r = 0; r < reps; ++r) {
      dur.push_back(run_pair(Mode::durable, size, dur_n).msgs_per_s);
      mqtt.push_back(bench::mosquitto_qos1_msgs_per_s(size, quick ? 20000 : 100000));
    }
    add("durable acked " + tag, dur, "msg/s", bench::Better::kHigher, "mosquitto QoS 1", mqtt,
        size == 64 ? ">= 3x (goal 4x)" : ">= 1.5x (goal 4x)");
  }
  std::vector<double> rtt50, rtt99, tcp50, tcp99;
  for (int r = 0; r < reps; ++r) {
    auto rtt = run_pair(Mode::round_trip, 64, rtt_n);
    auto tcp = bench::tcp_ping_pong(64, quick ? 2000 : 20000);
    rtt50.push_back(rtt.latency.p50_us);
    rtt99.push_back(rtt.latency.p99_us);
    tcp50.push_back(tcp.p50_us);
    tcp99.push_back(tcp.p99_us);
  }
  add("acked round trip p50 64 B", rtt50, "us", bench::Better::kLower, "raw TCP ping-pong p50 (unpinned)",
      tcp50, "<= 3x");
  add("acked round trip p99 64 B", rtt99, "us", bench::Better::kLower, "raw TCP ping-pong p99 (unpinned)",
      tcp99, "<= 4x");
  report.print_table();
  std::filesystem::path out = std::filesystem::path(HYPHAE_SOURCE_DIR) / "bench/results/latest.json";
  report.write_json(out);
  std::cout << "wrote " << out.string() << "\n";
  return 0;
}
