// Clock: where protocol cores read the time. monotonic_ms() drives timers (ack deadlines, backoff,
// degradation); wall_ms() stamps what is stored or sent (envelope timestamps, outbox rows, TTLs).
// SystemClock reads the machine's clocks; ManualClock is advanced by hand, so a test or a
// simulation runs hours of timers without sleeping.
// Thread-safety: SystemClock is safe from any thread; a ManualClock belongs to one thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace hyphae {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::uint64_t monotonic_ms() const = 0;
  virtual std::uint64_t wall_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::uint64_t monotonic_ms() const override {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
  }
  std::uint64_t wall_ms() const override {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  }
};

class ManualClock final : public Clock {
 public:
  // The wall clock starts at a plausible date, so TTL and timestamp arithmetic behaves as in life.
  explicit ManualClock(std::uint64_t monotonic_start = 1'000'000,
                       std::uint64_t wall_start = 1'790'000'000'000)
      : monotonic_(monotonic_start), wall_(wall_start) {}
  std::uint64_t monotonic_ms() const override { return monotonic_; }
  std::uint64_t wall_ms() const override { return wall_; }
  void advance(std::uint64_t ms) {
    monotonic_ += ms;
    wall_ += ms;
  }

 private:
  std::uint64_t monotonic_, wall_;
};

}  // namespace hyphae
