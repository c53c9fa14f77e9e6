// Runtime: the one thread on which every PeerConnection of the process runs its ICE agent
// (libnice, on a GMainContext this thread iterates), its DTLS session and its SCTP association.
// usrsctp keeps process-wide state and, started with usrsctp_init_nothreads (once per process,
// never finished), runs no thread of its own: the Runtime drives its timers from a GLib
// timeout while any association exists and routes the packets it emits (conn_output) to the
// association that registered the address. One thread for all of it means none of these
// libraries is ever entered concurrently.
// Thread-safety: post() and run() may be called from any thread; everything else, and every
// task, runs on the runtime thread. Ownership: shared by the PeerConnections (acquire()); the
// thread stops when the last reference goes.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <type_traits>

using GMainContext = struct _GMainContext;

namespace hyphae::webrtc {

// Something that takes SCTP packets usrsctp emits and is told when timers have run.
class SctpEndpoint {
 public:
  virtual ~SctpEndpoint() = default;
  virtual void sctp_output(const std::uint8_t* data, std::size_t size) = 0;
  virtual void sctp_timers_ran() = 0;
};

class Runtime {
 public:
  // The process's runtime, started on first use.
  static std::shared_ptr<Runtime> acquire();
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  GMainContext* context() const { return context_; }
  bool in_thread() const { return std::this_thread::get_id() == thread_id_; }

  // Runs `task` on the runtime thread, later (never inline).
  void post(std::function<void()> task);

  // Runs `f` on the runtime thread and returns its result: inline when already there, else
  // posted and waited for.
  template <typename F>
  auto run(F&& f) -> std::invoke_result_t<F> {
    if (in_thread()) return f();
    std::packaged_task<std::invoke_result_t<F>()> task(std::forward<F>(f));
    auto result = task.get_future();
    post([&task] { task(); });
    return result.get();
  }

  // usrsctp addresses (runtime thread only). register_sctp returns the value to pass as the
  // AF_CONN address (sconn_addr) and to usrsctp_register_address; packets usrsctp emits for it
  // reach endpoint->sctp_output until unregister_sctp. The SCTP timer runs while any is
  // registered.
  void* register_sctp(SctpEndpoint* endpoint);
  void unregister_sctp(void* address);

 private:
  struct Shared;
  Runtime();
  void start_sctp_timer();
  static int on_sctp_timer(void* self);
  static int conn_output(void* address, void* data, std::size_t size, std::uint8_t tos, std::uint8_t set_df);

  std::shared_ptr<Shared> shared_;  // the GLib loop, kept by the thread too
  GMainContext* context_ = nullptr;
  std::thread thread_;
  std::thread::id thread_id_;
  unsigned sctp_timer_source_ = 0;
  std::int64_t sctp_timer_last_us_ = 0;
};

}  // namespace hyphae::webrtc
