// Implementation of the same-run baselines declared in baselines.hpp.
#include "common/baselines.hpp"

#include <fcntl.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "testnet/process.hpp"

namespace hyphae::bench {
namespace {

using BenchClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what);
}
[[noreturn]] void fail_errno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

double micros(BenchClock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}
double seconds(BenchClock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + ::strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// Owns one child process: kills (SIGKILL) and reaps it on destruction unless already reaped.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { kill_and_reap(); }

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Waits up to `limit` for the child to exit; returns its wait status, or nullopt if still running.
  std::optional<int> wait_for(BenchClock::duration limit) {
    if (pid_ <= 0) return status_;
    const auto deadline = BenchClock::now() + limit;
    for (;;) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        status_ = status;
        return status;
      }
      if (r < 0 && errno != EINTR) {  // not our child any more (e.g. SIGCHLD ignored): treat as gone
        pid_ = -1;
        status_ = 0;
        return status_;
      }
      if (BenchClock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(2ms);
    }
  }

  // SIGTERM, then SIGKILL after `grace`; always reaps.
  void terminate(BenchClock::duration grace) {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    if (!wait_for(grace)) kill_and_reap();
  }

  void kill_and_reap() noexcept {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    status_ = status;
    pid_ = -1;
  }

 private:
  pid_t pid_;
  std::optional<int> status_;
};

// fork() with the bookkeeping every child here needs: stdio flushed first so buffered output is not
// duplicated, and in the child: die with the parent, SIGALRM at its default action and unblocked,
// and an alarm of `alarm_s` seconds (0 = none) so the child can never outlive a hang.
pid_t fork_child(unsigned alarm_s) {
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) fail_errno("fork");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(120);
    ::signal(SIGALRM, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t all;
    ::sigfillset(&all);
    ::sigprocmask(SIG_UNBLOCK, &all, nullptr);
    if (alarm_s > 0) ::alarm(alarm_s);
  }
  return pid;
}

unsigned alarm_seconds(BenchClock::duration budget) {
  return static_cast<unsigned>(std::chrono::ceil<std::chrono::seconds>(budget).count()) + 5;
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Returns bytes read: n on success, less on EOF or error (errno set on error).
std::size_t read_all(int fd, char* p, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, p + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return got;
    }
    if (r == 0) {
      errno = 0;
      return got;
    }
    got += static_cast<std::size_t>(r);
  }
  return got;
}

void set_int_sockopt(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) fail_errno(what);
}

void set_timeouts(int fd, std::chrono::seconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count());
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
    fail_errno("setsockopt(SO_RCVTIMEO/SO_SNDTIMEO)");
}

// Pins the calling thread to one CPU and restores the previous mask on destruction.
class CpuPin {
 public:
  explicit CpuPin(int cpu) {
    if (cpu < 0) return;
    if (cpu >= CPU_SETSIZE) fail("tcp_ping_pong: pin_cpu out of range");
    if (::sched_getaffinity(0, sizeof saved_, &saved_) != 0) fail_errno("sched_getaffinity");
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (::sched_setaffinity(0, sizeof one, &one) != 0)
      fail_errno("sched_setaffinity(cpu " + std::to_string(cpu) + ")");
    active_ = true;
  }
  CpuPin(const CpuPin&) = delete;
  CpuPin& operator=(const CpuPin&) = delete;
  ~CpuPin() {
    if (active_) ::sched_setaffinity(0, sizeof saved_, &saved_);
  }

 private:
  cpu_set_t saved_{};
  bool active_ = false;
};

// ---------------------------------------------------------------------------------------------
// ZeroMQ

// Owns a zmq context and one socket; closing with linger 0 so teardown never blocks.
struct ZmqReceiver {
  void* ctx = nullptr;
  void* sock = nullptr;
  ~ZmqReceiver() {
    if (sock) {
      int zero = 0;
      zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
      zmq_close(sock);
    }
    if (ctx) zmq_ctx_term(ctx);
  }
};

[[noreturn]] void zmq_sender_child(int ready_fd, const std::string& endpoint, std::size_t payload,
                                   std::size_t count) {
  char go = 0;
  ssize_t r;
  while ((r = ::read(ready_fd, &go, 1)) < 0 && errno == EINTR) {
  }
  if (r != 1) ::_exit(0);  // the receiver gave up before binding
  void* ctx = zmq_ctx_new();
  if (!ctx) ::_exit(3);
  void* s = zmq_socket(ctx, ZMQ_PUSH);
  if (!s || zmq_connect(s, endpoint.c_str()) != 0) ::_exit(4);
  std::vector<char> buf(payload, 'h');
  for (std::size_t i = 0; i < count; ++i) {
    while (zmq_send(s, buf.data(), payload, 0) < 0) {
      if (zmq_errno() != EINTR) ::_exit(5);
    }
  }
  zmq_close(s);  // default linger: flushes the queue (bounded by the alarm)
  zmq_ctx_term(ctx);
  ::_exit(0);
}

// ---------------------------------------------------------------------------------------------
// mosquitto

constexpr const char* kMosquittoBin = "/usr/sbin/mosquitto";
constexpr std::size_t kMqttWindow = 1000;

// A mkdtemp() directory removed (recursively) on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    std::string templ = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
    if (!::mkdtemp(templ.data())) fail_errno("mkdtemp");
    path_ = templ;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string read_text(const std::filesystem::path& p, std::size_t max_bytes = 4000) {
  std::ifstream in(p, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (s.size() > max_bytes) s = "..." + s.substr(s.size() - max_bytes);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

bool tcp_accepts(std::uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return false;
  const sockaddr_in a = loopback(port);
  return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
}

// The broker process, listening on 127.0.0.1:port once start() returns.
struct Broker {
  std::unique_ptr<Child> proc;
  std::uint16_t port = 0;
  ~Broker() {
    if (proc) proc->terminate(2s);
  }
};

void start_broker(Broker& b, const std::filesystem::path& dir) {
  const auto conf = dir / "mosquitto.conf";
  const auto log = dir / "mosquitto.log";
  std::string last_log;
  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::uint16_t port = free_tcp_port();
    {
      std::ofstream out(conf, std::ios::trunc);
      out << "listener " << port << " 127.0.0.1\n"
          << "allow_anonymous true\n"
          << "persistence false\n"
          << "max_inflight_messages 1000\n"
          << "max_queued_messages 0\n";
      // As root, mosquitto would switch to user "mosquitto"; that credential change clears
      // PR_SET_PDEATHSIG, and the broker would outlive a killed benchmark. Stay root instead.
      if (::geteuid() == 0) out << "user root\n";
      if (!out.flush()) fail("mosquitto: cannot write " + conf.string());
    }
    Fd log_fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (log_fd.get() < 0) fail_errno("mosquitto: open " + log.string());
    Fd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    const std::string conf_s = conf.string();
    char arg0[] = "mosquitto";
    char arg1[] = "-c";
    char* argv[] = {arg0, arg1, const_cast<char*>(conf_s.c_str()), nullptr};

    const pid_t pid = fork_child(0);
    if (pid == 0) {
      ::dup2(null_fd.get(), 0);
      ::dup2(log_fd.get(), 1);
      ::dup2(log_fd.get(), 2);
      ::execv(kMosquittoBin, argv);
      ::_exit(127);
    }
    b.proc = std::make_unique<Child>(pid);
    b.port = port;
    const auto deadline = BenchClock::now() + 5s;
    for (;;) {
      if (auto st = b.proc->wait_for(0s)) {
        last_log = read_text(log);
        if (last_log.find("in use") != std::string::npos) break;  // port race: retry on another port
        fail("mosquitto broker exited at start-up (" + describe_status(*st) + "): " + last_log);
      }
      if (tcp_accepts(port)) return;
      if (BenchClock::now() >= deadline) {
        b.proc->kill_and_reap();
        fail("mosquitto broker did not accept connections within 5 s: " + read_text(log));
      }
      std::this_thread::sleep_for(10ms);
    }
    b.proc.reset();
  }
  fail("mosquitto broker could not bind a free port: " + last_log);
}

// Shared between the calling thread and the two libmosquitto network threads.
struct MqttRun {
  std::size_t payload = 0;
  std::size_t count = 0;
  std::string topic;
  std::vector<char> data;

  // Touched only by the publisher's network thread (callbacks run there).
  std::size_t published = 0;
  std::size_t acked = 0;
  bool pub_started = false;
  // Written only by the subscriber's network thread; atomic because the caller reads wrong_size.
  std::atomic<std::size_t> received{0};
  std::atomic<std::size_t> wrong_size{0};

  std::mutex m;
  std::condition_variable cv;
  bool subscribed = false;
  bool pub_done = false;
  bool sub_done = false;
  bool finished = false;  // set by the caller before disconnecting: disconnects are expected then
  std::string error;
  BenchClock::time_point t_start{}, t_pub_done{}, t_sub_done{};

  void set_error(std::string e) {
    std::lock_guard lk(m);
    if (error.empty() && !finished) error = std::move(e);
    cv.notify_all();
  }
};

// Owns one libmosquitto client and its network thread.
class MqttClient {
 public:
  MqttClient(const std::string& id, MqttRun* run) : mosq_(mosquitto_new(id.c_str(), true, run)) {
    if (!mosq_) fail_errno("mosquitto_new");
  }
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;
  ~MqttClient() {
    if (loop_started_) {
      mosquitto_disconnect(mosq_);
      mosquitto_loop_stop(mosq_, false);
    }
    mosquitto_destroy(mosq_);
  }
  mosquitto* get() const { return mosq_; }

  void connect_and_start(std::uint16_t port, const char* who) {
    int rc = mosquitto_connect(mosq_, "127.0.0.1", port, 60);
    if (rc != MOSQ_ERR_SUCCESS) fail(std::string("mosquitto ") + who + " connect: " + mosquitto_strerror(rc));
    rc = mosquitto_loop_start(mosq_);
    if (rc != MOSQ_ERR_SUCCESS)
      fail(std::string("mosquitto ") + who + " loop_start: " + mosquitto_strerror(rc));
    loop_started_ = true;
  }

 private:
  mosquitto* mosq_;
  bool loop_started_ = false;
};

void mqtt_publish_one(mosquitto* mosq, MqttRun& run) {
  const int rc = mosquitto_publish(mosq, nullptr, run.topic.c_str(), static_cast<int>(run.payload),
                                   run.data.data(), 1, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    run.set_error(std::string("mosquitto_publish: ") + mosquitto_strerror(rc));
    return;
  }
  ++run.published;
}

void pub_on_connect(mosquitto* mosq, void* obj, int rc) {
  auto& run = *static_cast<MqttRun*>(obj);
  if (rc != 0) return run.set_error(std::string("publisher CONNACK: ") + mosquitto_connack_string(rc));
  if (run.pub_started) return run.set_error("publisher reconnected mid-run (connection lost)");
  run.pub_started = true;
  {
    std::lock_guard lk(run.m);
    run.t_start = BenchClock::now();
  }
  const std::size_t first = std::min(run.count, kMqttWindow);
  while (run.published < first) {
    const std::size_t before = run.published;
    mqtt_publish_one(mosq, run);
    if (run.published == before) return;
  }
}

void pub_on_publish(mosquitto* mosq, void* obj, int /*mid*/) {
  auto& run = *static_cast<MqttRun*>(obj);
  ++run.acked;
  if (run.published < run.count) mqtt_publish_one(mosq, run);
  if (run.acked == run.count) {
    std::lock_guard lk(run.m);
    run.t_pub_done = BenchClock::now();
    run.pub_done = true;
    run.cv.notify_all();
  }
}

void sub_on_connect(mosquitto* mosq, void* obj, int rc) {
  auto& run = *static_cast<MqttRun*>(obj);
  if (rc != 0) return run.set_error(std::string("subscriber CONNACK: ") + mosquitto_connack_string(rc));
  const int s = mosquitto_subscribe(mosq, nullptr, run.topic.c_str(), 1);
  if (s != MOSQ_ERR_SUCCESS) run.set_error(std::string("mosquitto_subscribe: ") + mosquitto_strerror(s));
}

void sub_on_subscribe(mosquitto*, void* obj, int /*mid*/, int qos_count, const int* granted) {
  auto& run = *static_cast<MqttRun*>(obj);
  if (qos_count < 1 || granted[0] != 1)
    return run.set_error("subscription not granted at QoS 1 (granted " +
                         std::to_string(qos_count > 0 ? granted[0] : -1) + ")");
  std::lock_guard lk(run.m);
  run.subscribed = true;
  run.cv.notify_all();
}

void sub_on_message(mosquitto*, void* obj, const mosquitto_message* msg) {
  auto& run = *static_cast<MqttRun*>(obj);
  if (static_cast<std::size_t>(msg->payloadlen) != run.payload)
    run.wrong_size.fetch_add(1, std::memory_order_relaxed);
  if (run.received.fetch_add(1, std::memory_order_relaxed) + 1 == run.count) {
    std::lock_guard lk(run.m);
    run.t_sub_done = BenchClock::now();
    run.sub_done = true;
    run.cv.notify_all();
  }
}

void on_disconnect(mosquitto*, void* obj, int rc) {
  if (rc != 0)
    static_cast<MqttRun*>(obj)->set_error("client disconnected unexpectedly (rc " + std::to_string(rc) + ")");
}

void mosquitto_lib_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

}  // namespace

// ---------------------------------------------------------------------------------------------

LatencyStats summarize(std::vector<double> samples_us) {
  LatencyStats s;
  s.samples = samples_us.size();
  if (samples_us.empty()) {
    s.p50_us = s.p99_us = s.mean_us = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  std::sort(samples_us.begin(), samples_us.end());
  const auto rank = [&](double p) {
    const auto n = static_cast<double>(samples_us.size());
    auto idx = static_cast<std::size_t>(std::ceil(p * n));
    idx = std::clamp<std::size_t>(idx, 1, samples_us.size());
    return samples_us[idx - 1];
  };
  s.p50_us = rank(0.50);
  s.p99_us = rank(0.99);
  s.mean_us = std::accumulate(samples_us.begin(), samples_us.end(), 0.0) / static_cast<double>(s.samples);
  return s;
}

double zmq_push_pull_msgs_per_s(std::size_t payload, std::size_t count) {
  if (count < 2) throw std::invalid_argument("zmq_push_pull_msgs_per_s: count must be >= 2");
  const auto budget = 10s + std::chrono::microseconds(20) * count;
  const auto deadline = BenchClock::now() + budget;

  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) fail_errno("pipe2");
    Fd ready_r(p[0]), ready_w(p[1]);

    const pid_t pid = fork_child(alarm_seconds(budget));
    if (pid == 0) {
      ready_w.reset();
      zmq_sender_child(ready_r.get(), endpoint, payload, count);
    }
    Child child(pid);
    ready_r.reset();

    ZmqReceiver rx;
    rx.ctx = zmq_ctx_new();
    if (!rx.ctx) fail("zmq_ctx_new failed");
    rx.sock = zmq_socket(rx.ctx, ZMQ_PULL);
    if (!rx.sock) fail(std::string("zmq_socket(PULL): ") + zmq_strerror(zmq_errno()));
    const int stall_ms = 5000;
    zmq_setsockopt(rx.sock, ZMQ_RCVTIMEO, &stall_ms, sizeof stall_ms);
    if (zmq_bind(rx.sock, endpoint.c_str()) != 0) {
      if (zmq_errno() == EADDRINUSE) continue;  // port taken since free_tcp_port(): child sees EOF, exits
      fail("zmq_bind(" + endpoint + "): " + zmq_strerror(zmq_errno()));
    }
    const char go = 1;
    if (::write(ready_w.get(), &go, 1) != 1) fail_errno("zmq: signalling the sender");

    zmq_msg_t msg;
    zmq_msg_init(&msg);
    struct MsgGuard {
      zmq_msg_t* m;
      ~MsgGuard() { zmq_msg_close(m); }
    } guard{&msg};
    BenchClock::time_point t_first{};
    for (std::size_t i = 0; i < count;) {
      const int n = zmq_msg_recv(&msg, rx.sock, 0);
      if (n < 0) {
        if (zmq_errno() == EINTR) continue;
        std::string why = zmq_errno() == EAGAIN ? "no message for 5 s" : zmq_strerror(zmq_errno());
        if (auto st = child.wait_for(0s)) why += "; sender ended with " + describe_status(*st);
        fail("zmq PULL after " + std::to_string(i) + "/" + std::to_string(count) + " messages: " + why);
      }
      if (static_cast<std::size_t>(n) != payload)
        fail("zmq PULL: got a " + std::to_string(n) + "-byte message, expected " + std::to_string(payload));
      if (i == 0) t_first = BenchClock::now();
      ++i;
      if ((i & 0xFFF) == 0 && BenchClock::now() > deadline) fail("zmq PUSH/PULL exceeded its time budget");
    }
    const auto elapsed = BenchClock::now() - t_first;
    auto st = child.wait_for(10s);
    if (!st) fail("zmq sender did not exit after delivering all messages");
    if (!WIFEXITED(*st) || WEXITSTATUS(*st) != 0) fail("zmq sender ended with " + describe_status(*st));
    const double secs = seconds(elapsed);
    if (secs <= 0) fail("zmq PUSH/PULL: zero elapsed time");
    return static_cast<double>(count - 1) / secs;
  }
  fail("zmq PUSH/PULL: could not bind a free port");
}

double mosquitto_qos1_msgs_per_s(std::size_t payload, std::size_t count) {
  if (count < 1) throw std::invalid_argument("mosquitto_qos1_msgs_per_s: count must be >= 1");
  if (payload > 256 * 1024 * 1024)
    throw std::invalid_argument("mosquitto_qos1_msgs_per_s: payload too large");
  if (::access(kMosquittoBin, X_OK) != 0) fail_errno(std::string("mosquitto broker ") + kMosquittoBin);
  mosquitto_lib_init_once();
  const auto budget = 10s + std::chrono::microseconds(100) * count;

  // Destruction order matters: clients first, then the broker, then the temp dir.
  TempDir dir("hyphae-mosquitto-");
  Broker broker;
  start_broker(broker, dir.path());

  MqttRun run;
  run.payload = payload;
  run.count = count;
  run.topic = "hyphae/bench/" + std::to_string(::getpid());
  run.data.assign(payload, 'h');
  const std::string id = std::to_string(::getpid());

  MqttClient sub("hyphae-bench-sub-" + id, &run);
  mosquitto_connect_callback_set(sub.get(), sub_on_connect);
  mosquitto_subscribe_callback_set(sub.get(), sub_on_subscribe);
  mosquitto_message_callback_set(sub.get(), sub_on_message);
  mosquitto_disconnect_callback_set(sub.get(), on_disconnect);
  sub.connect_and_start(broker.port, "subscriber");
  {
    std::unique_lock lk(run.m);
    if (!run.cv.wait_for(lk, 5s, [&] { return run.subscribed || !run.error.empty(); }))
      fail("mosquitto subscriber: no SUBACK within 5 s");
    if (!run.error.empty()) fail("mosquitto: " + run.error);
  }

  MqttClient pub("hyphae-bench-pub-" + id, &run);
  mosquitto_int_option(pub.get(), MOSQ_OPT_SEND_MAXIMUM, static_cast<int>(kMqttWindow));
  mosquitto_connect_callback_set(pub.get(), pub_on_connect);
  mosquitto_publish_callback_set(pub.get(), pub_on_publish);
  mosquitto_disconnect_callback_set(pub.get(), on_disconnect);
  pub.connect_and_start(broker.port, "publisher");

  double rate = 0;
  {
    std::unique_lock lk(run.m);
    const bool done =
        run.cv.wait_for(lk, budget, [&] { return (run.pub_done && run.sub_done) || !run.error.empty(); });
    run.finished = true;  // from here on, disconnects are ours
    if (!run.error.empty()) fail("mosquitto: " + run.error);
    if (!done)
      fail("mosquitto QoS 1: time budget exceeded (" + std::string(run.pub_done ? "all" : "not all") +
           " PUBACKed, " + (run.sub_done ? "all" : "not all") + " received)");
    const auto end = std::max(run.t_pub_done, run.t_sub_done);
    const double secs = seconds(end - run.t_start);
    if (secs <= 0) fail("mosquitto QoS 1: zero elapsed time");
    rate = static_cast<double>(count) / secs;
  }
  if (run.wrong_size.load() != 0)
    fail("mosquitto QoS 1: " + std::to_string(run.wrong_size.load()) + " messages had the wrong size");
  return rate;
}

LatencyStats tcp_ping_pong(std::size_t payload, std::size_t round_trips, int pin_cpu) {
  if (payload == 0) throw std::invalid_argument("tcp_ping_pong: payload must be >= 1 byte");
  if (round_trips == 0) throw std::invalid_argument("tcp_ping_pong: round_trips must be >= 1");
  const std::size_t warmup = std::min<std::size_t>(1000, std::max<std::size_t>(10, round_trips / 10));
  const std::size_t total = warmup + round_trips;
  const auto budget = 10s + std::chrono::milliseconds(1) * total;
  const auto deadline = BenchClock::now() + budget;

  CpuPin pin(pin_cpu);  // inherited by the child through fork()

  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (listener.get() < 0) fail_errno("tcp_ping_pong: socket");
  sockaddr_in a = loopback(0);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    fail_errno("tcp_ping_pong: bind");
  if (::listen(listener.get(), 1) != 0) fail_errno("tcp_ping_pong: listen");
  socklen_t len = sizeof a;
  if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    fail_errno("tcp_ping_pong: getsockname");

  const pid_t pid = fork_child(alarm_seconds(budget));
  if (pid == 0) {  // echo server
    const int c = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) ::_exit(3);
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::vector<char> buf(payload);
    for (;;) {
      const std::size_t got = read_all(c, buf.data(), payload);
      if (got == 0 && errno == 0) ::_exit(0);  // clean EOF between messages
      if (got != payload) ::_exit(4);
      if (!write_all(c, buf.data(), payload)) ::_exit(5);
    }
  }
  Child child(pid);

  Fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) fail_errno("tcp_ping_pong: socket");
  set_int_sockopt(sock.get(), IPPROTO_TCP, TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)");
  set_timeouts(sock.get(), 5s);
  if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
    fail_errno("tcp_ping_pong: connect");
  listener.reset();

  std::vector<char> out(payload, 'h'), in(payload);
  std::vector<double> samples;
  samples.reserve(round_trips);
  for (std::size_t i = 0; i < total; ++i) {
    const auto t0 = BenchClock::now();
    if (!write_all(sock.get(), out.data(), payload)) fail_errno("tcp_ping_pong: send");
    if (read_all(sock.get(), in.data(), payload) != payload) {
      std::string why = errno == 0 ? std::string("echo closed the connection")
                        : (errno == EAGAIN || errno == EWOULDBLOCK) ? std::string("no reply for 5 s")
                                                                    : std::string(std::strerror(errno));
      if (auto st = child.wait_for(0s)) why += "; echo ended with " + describe_status(*st);
      fail("tcp_ping_pong: receive after " + std::to_string(i) + " round trips: " + why);
    }
    const auto t1 = BenchClock::now();
    if (i >= warmup) samples.push_back(micros(t1 - t0));
    if ((i & 0x3FF) == 0 && t1 > deadline) fail("tcp_ping_pong exceeded its time budget");
  }
  ::shutdown(sock.get(), SHUT_WR);
  auto st = child.wait_for(5s);
  if (!st) fail("tcp_ping_pong: echo process did not exit");
  if (!WIFEXITED(*st) || WEXITSTATUS(*st) != 0)
    fail("tcp_ping_pong: echo ended with " + describe_status(*st));
  return summarize(std::move(samples));
}

}  // namespace hyphae::bench
