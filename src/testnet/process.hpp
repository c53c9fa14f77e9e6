// ChildProcess: starts a program as a child process (stdout/stderr to a log file) and stops it
// with a signal. Used by the demo, the integration tests and the benchmarks to run real nodes.
// Thread-safety: none. Ownership: the destructor kills (SIGKILL) and reaps a still-running child.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace hyphae {

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const std::filesystem::path& program, const std::vector<std::string>& args,
               const std::filesystem::path& log_file);
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `signal` and waits up to `timeout` for the exit; returns the exit status (or -1).
  int stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  pid_t pid_ = -1;
};

// Waits until `predicate` returns true, polling every 20 ms; false after `timeout`.
template <typename Predicate>
bool wait_until(Predicate predicate, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    struct timespec ts {
      0, 20 * 1000 * 1000
    };
    nanosleep(&ts, nullptr);
  }
  return predicate();
}

// A TCP port on 127.0.0.1 that was free a moment ago (binds port 0, reads it, closes).
// Another process may take it before the caller binds. Throws std::runtime_error on failure.
unsigned short free_tcp_port();

}  // namespace hyphae
