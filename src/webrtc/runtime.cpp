#include "webrtc/runtime.hpp"

#include <glib.h>
#include <usrsctp.h>

#include <deque>
#include <map>
#include <mutex>
#include <vector>

namespace hyphae::webrtc {

namespace {

constexpr unsigned kSctpTimerIntervalMs = 10;

std::mutex g_runtime_mutex;
std::weak_ptr<Runtime> g_runtime;

// usrsctp's packets name the association by the address registered for it. Addresses are
// counters, never reused, so a late packet for a closed association finds nobody.
std::mutex g_sctp_mutex;
std::map<void*, SctpEndpoint*> g_sctp_endpoints;
std::uintptr_t g_next_sctp_address = 1;

}  // namespace

struct Runtime::Shared {
  GMainContext* context = g_main_context_new();
  GMainLoop* loop = g_main_loop_new(context, FALSE);
  std::mutex mutex;
  std::deque<std::function<void()>> tasks;
  bool wakeup_pending = false;
  bool stopping = false;

  ~Shared() {
    g_main_loop_unref(loop);
    g_main_context_unref(context);
  }

  static gboolean drain(gpointer data) {
    auto* self = static_cast<Shared*>(data);
    std::deque<std::function<void()>> batch;
    {
      std::lock_guard lock(self->mutex);
      batch.swap(self->tasks);
      self->wakeup_pending = false;
    }
    for (auto& task : batch) task();
    return G_SOURCE_REMOVE;
  }
};

std::shared_ptr<Runtime> Runtime::acquire() {
  std::lock_guard lock(g_runtime_mutex);
  if (auto existing = g_runtime.lock()) return existing;
  static std::once_flag sctp_once;
  std::call_once(sctp_once, [] {
    usrsctp_init_nothreads(0, &Runtime::conn_output, nullptr);
    usrsctp_sysctl_set_sctp_ecn_enable(0);
    usrsctp_sysctl_set_sctp_blackhole(2);  // no ABORT for packets to nobody
  });
  std::shared_ptr<Runtime> runtime(new Runtime(), [](Runtime* r) {
    std::lock_guard lock(g_runtime_mutex);  // the next acquire() waits until this thread ended
    delete r;
  });
  g_runtime = runtime;
  return runtime;
}

Runtime::Runtime() : shared_(std::make_shared<Shared>()), context_(shared_->context) {
  std::promise<void> started;
  auto ready = started.get_future();
  thread_ = std::thread([shared = shared_, &started] {
    g_main_context_push_thread_default(shared->context);
    started.set_value();
    g_main_loop_run(shared->loop);
    // Sources still attached (idle wakeups) go with the context.
    g_main_context_pop_thread_default(shared->context);
  });
  thread_id_ = thread_.get_id();
  ready.wait();
}

Runtime::~Runtime() {
  auto stop = [this] {
    if (sctp_timer_source_ != 0) {
      if (GSource* source = g_main_context_find_source_by_id(context_, sctp_timer_source_))
        g_source_destroy(source);
      sctp_timer_source_ = 0;
    }
    g_main_loop_quit(shared_->loop);
  };
  if (in_thread()) {
    // The last PeerConnection went away inside a task: the loop ends after it returns.
    stop();
    thread_.detach();
    return;
  }
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
  }
  std::promise<void> stopped;
  auto done = stopped.get_future();
  GSource* source = g_idle_source_new();
  struct Stop {
    std::function<void()> stop;
    std::promise<void>* stopped;
  };
  auto* data = new Stop{stop, &stopped};
  g_source_set_callback(
      source,
      [](gpointer p) -> gboolean {
        auto* s = static_cast<Stop*>(p);
        s->stop();
        s->stopped->set_value();
        return G_SOURCE_REMOVE;
      },
      data, [](gpointer p) { delete static_cast<Stop*>(p); });
  g_source_attach(source, context_);
  g_source_unref(source);
  done.wait();
  thread_.join();
}

void Runtime::post(std::function<void()> task) {
  std::lock_guard lock(shared_->mutex);
  if (shared_->stopping) return;
  shared_->tasks.push_back(std::move(task));
  if (shared_->wakeup_pending) return;
  shared_->wakeup_pending = true;
  GSource* source = g_idle_source_new();
  g_source_set_priority(source, G_PRIORITY_DEFAULT);
  g_source_set_callback(source, &Shared::drain, shared_.get(), nullptr);
  g_source_attach(source, shared_->context);
  g_source_unref(source);
}

void* Runtime::register_sctp(SctpEndpoint* endpoint) {
  void* address = nullptr;
  {
    std::lock_guard lock(g_sctp_mutex);
    address = reinterpret_cast<void*>(g_next_sctp_address++);
    g_sctp_endpoints[address] = endpoint;
  }
  usrsctp_register_address(address);
  start_sctp_timer();
  return address;
}

void Runtime::unregister_sctp(void* address) {
  usrsctp_deregister_address(address);
  std::lock_guard lock(g_sctp_mutex);
  g_sctp_endpoints.erase(address);
}

void Runtime::start_sctp_timer() {
  if (sctp_timer_source_ != 0) return;
  sctp_timer_last_us_ = g_get_monotonic_time();
  GSource* source = g_timeout_source_new(kSctpTimerIntervalMs);
  g_source_set_callback(source, &Runtime::on_sctp_timer, this, nullptr);
  sctp_timer_source_ = g_source_attach(source, context_);
  g_source_unref(source);
}

int Runtime::on_sctp_timer(void* data) {
  auto* self = static_cast<Runtime*>(data);
  const std::int64_t now = g_get_monotonic_time();
  const std::int64_t elapsed_ms = (now - self->sctp_timer_last_us_) / 1000;
  if (elapsed_ms > 0) {
    self->sctp_timer_last_us_ += elapsed_ms * 1000;
    usrsctp_handle_timers(static_cast<std::uint32_t>(elapsed_ms));
  }
  std::vector<void*> addresses;
  {
    std::lock_guard lock(g_sctp_mutex);
    for (const auto& entry : g_sctp_endpoints) addresses.push_back(entry.first);
  }
  for (void* address : addresses) {
    SctpEndpoint* endpoint = nullptr;
    {
      std::lock_guard lock(g_sctp_mutex);
      auto it = g_sctp_endpoints.find(address);
      if (it != g_sctp_endpoints.end()) endpoint = it->second;
    }
    if (endpoint) endpoint->sctp_timers_ran();
  }
  std::lock_guard lock(g_sctp_mutex);
  if (!g_sctp_endpoints.empty()) return G_SOURCE_CONTINUE;
  self->sctp_timer_source_ = 0;
  return G_SOURCE_REMOVE;
}

int Runtime::conn_output(void* address, void* data, std::size_t size, std::uint8_t, std::uint8_t) {
  SctpEndpoint* endpoint = nullptr;
  {
    std::lock_guard lock(g_sctp_mutex);
    auto it = g_sctp_endpoints.find(address);
    if (it != g_sctp_endpoints.end()) endpoint = it->second;
  }
  if (endpoint) endpoint->sctp_output(static_cast<const std::uint8_t*>(data), size);
  return 0;
}

}  // namespace hyphae::webrtc
