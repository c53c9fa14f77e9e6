// Same-run comparison baselines (ZeroMQ PUSH/PULL, mosquitto QoS 1, raw TCP ping-pong) that the
// project's benchmarks are judged against; every figure is measured when called, nothing is cached.
// Thread-safety: the measuring functions fork child processes and may start a broker, so call them
//   from one thread at a time, ideally while no other thread of the process holds locks a forked child
//   could need (the children use only libc and libzmq after fork). summarize() is
//   safe from any thread.
// Ownership: each call owns every process, socket, thread and temp file it creates and releases all of
//   them before returning, also when it throws. Failures (including time-outs) throw std::runtime_error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hyphae::bench {

// Latency distribution in microseconds. samples == 0 means "no data" (the other fields are NaN).
struct LatencyStats {
  double p50_us = 0;
  double p99_us = 0;
  double mean_us = 0;
  std::size_t samples = 0;
};

// Nearest-rank percentiles (p50, p99) and the arithmetic mean of samples_us.
LatencyStats summarize(std::vector<double> samples_us);

// ZeroMQ PUSH -> PULL over tcp://127.0.0.1 between two processes: this process binds PULL, a forked
// child connects PUSH and sends `count` messages of `payload` bytes. Returns messages/s seen at the
// receiver from the first to the last message ((count - 1) / elapsed). Requires count >= 2.
// Bounded: the child has an alarm(), the receiver gives up after 5 s without a message or an overall
// deadline of 10 s + 20 us per message.
double zmq_push_pull_msgs_per_s(std::size_t payload, std::size_t count);

// mosquitto broker (/usr/sbin/mosquitto, started here on a free port with a temp config) with one
// libmosquitto publisher (QoS 1, at most 1000 un-PUBACKed messages) and one QoS 1 subscriber, each on
// its own network thread. Returns count / (time from the first publish until every message is both
// PUBACKed and received). Requires count >= 1. Deadline: 10 s + 100 us per message. The broker is
// killed and the temp dir removed before returning, also on failure.
double mosquitto_qos1_msgs_per_s(std::size_t payload, std::size_t count);

// Round trips of `payload` bytes between this process and a forked echo process over loopback TCP
// (blocking sockets, TCP_NODELAY both ways). A warm-up of min(1000, max(10, round_trips / 10)) round
// trips is run first and discarded; returns stats over exactly `round_trips` samples.
// pin_cpu >= 0 pins both processes to that CPU for the measurement (the caller's thread affinity is
// restored afterwards); on a 2-vCPU VM pinned RTTs are several times lower than unpinned ones.
LatencyStats tcp_ping_pong(std::size_t payload, std::size_t round_trips, int pin_cpu = -1);

}  // namespace hyphae::bench
