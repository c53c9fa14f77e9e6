// Linux network namespaces for integration tests: NetnsLine builds N namespaces in a line joined by
// veth pairs (one /24 each), can cut and heal a pair, and deletes everything it made; in_netns()
// runs a function on a thread inside a namespace (sockets it opens stay there for life).
// Needs root (CAP_SYS_ADMIN) and iproute2; tests call NetnsLine::unavailable_reason() and skip.
// Thread-safety: none for NetnsLine; in_netns() may be called from any thread.
// Ownership: NetnsLine owns its namespaces (and so their veths) and deletes them in its destructor.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "testnet/local_node.hpp"

namespace hyphae::testing {

// Runs f() on a fresh thread whose network namespace is /var/run/netns/<ns>; returns its result or
// rethrows its exception. Throws std::runtime_error if the namespace cannot be entered.
template <class F>
auto in_netns(const std::string& ns, F&& f) -> std::invoke_result_t<F&> {
  using R = std::invoke_result_t<F&>;
  std::exception_ptr error;
  std::optional<std::conditional_t<std::is_void_v<R>, int, R>> result;
  std::thread([&] {
    try {
      const std::string path = "/var/run/netns/" + ns;
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
      int rc = ::setns(fd, CLONE_NEWNET);
      int setns_errno = errno;
      ::close(fd);
      if (rc != 0) throw std::runtime_error("setns(" + path + "): " + std::strerror(setns_errno));
      if constexpr (std::is_void_v<R>) {
        f();
        result.emplace(0);
      } else {
        result.emplace(f());
      }
    } catch (...) {
      error = std::current_exception();
    }
  }).join();
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<R>) return std::move(*result);
}

class NetnsLine {
 public:
  struct CommandResult {
    int status = -1;  // the exit status, or -1 if the command did not exit normally
    std::string output;
  };

  // Runs a shell command, capturing stdout and stderr.
  static CommandResult run(const std::string& command) {
    CommandResult out;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (!pipe) {
      out.output = "popen failed: " + std::string(std::strerror(errno));
      return out;
    }
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.output.append(buffer, n);
    int rc = ::pclose(pipe);
    out.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
  }

  static std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }

  // Why namespaces cannot be used here (creates and deletes a throwaway one), or nullopt if they can.
  static std::optional<std::string> unavailable_reason() {
    auto ip = find_ip_command();
    if (!ip) return "the `ip` command (iproute2) is not installed";
    const std::string probe = "hy" + std::to_string(::getpid()) + "-probe";
    run(quote(ip->string()) + " netns del " + quote(probe));
    auto added = run(quote(ip->string()) + " netns add " + quote(probe));
    if (added.status != 0) {
      std::string who = ::geteuid() == 0 ? "" : "not root (uid " + std::to_string(::geteuid()) + "): ";
      return who + "`ip netns add` failed: " + trim(added.output);
    }
    std::optional<std::string> reason;
    try {
      in_netns(probe, [] {});
    } catch (const std::exception& e) {
      reason = std::string("cannot enter a network namespace: ") + e.what();
    }
    auto deleted = run(quote(ip->string()) + " netns del " + quote(probe));
    if (!reason && deleted.status != 0) reason = "`ip netns del` failed: " + trim(deleted.output);
    return reason;
  }

  // Namespaces ns(0) .. ns(n-1); pair i joins ns(i) (interface "to<i+1>", 10.77.<i>.1/24) and
  // ns(i+1) (interface "to<i>", 10.77.<i>.2/24). Throws std::runtime_error with the failing
  // command and its output (after deleting what it made).
  explicit NetnsLine(std::size_t n) {
    if (n == 0 || n > 250) throw std::invalid_argument("NetnsLine: 1 to 250 namespaces");
    auto ip = find_ip_command();
    if (!ip) throw std::runtime_error("NetnsLine: the `ip` command (iproute2) is not installed");
    ip_ = quote(ip->string());
    const std::string prefix = "hy" + std::to_string(::getpid()) + "-";
    try {
      for (std::size_t i = 0; i < n; ++i) {
        names_.push_back(prefix + std::to_string(i));
        run(ip_ + " netns del " + quote(names_[i]));  // left by a crashed run with the same pid
        must(ip_ + " netns add " + quote(names_[i]));
        made_.push_back(names_[i]);
        must(ip_ + " -n " + quote(names_[i]) + " link set lo up");
      }
      for (std::size_t i = 0; i + 1 < n; ++i) {
        const std::string left = quote(names_[i]), right = quote(names_[i + 1]);
        const std::string left_if = quote(iface_toward(i + 1)), right_if = quote(iface_toward(i));
        must(ip_ + " -n " + left + " link add " + left_if + " type veth peer name " + right_if + " netns " +
             right);
        must(ip_ + " -n " + left + " addr add " + address(i, iface_toward(i + 1)) + "/24 dev " + left_if);
        must(ip_ + " -n " + right + " addr add " + address(i + 1, iface_toward(i)) + "/24 dev " + right_if);
        // veths are multicast-capable by default; say so in case a distribution changes that.
        must(ip_ + " -n " + left + " link set " + left_if + " multicast on up");
        must(ip_ + " -n " + right + " link set " + right_if + " multicast on up");
      }
    } catch (...) {
      remove_all();
      throw;
    }
  }
  ~NetnsLine() { remove_all(); }
  NetnsLine(const NetnsLine&) = delete;
  NetnsLine& operator=(const NetnsLine&) = delete;

  std::size_t size() const { return names_.size(); }
  const std::string& ns(std::size_t i) const { return names_.at(i); }
  // The veth names inside ns(i): toward ns(i-1) first, then toward ns(i+1).
  std::vector<std::string> interfaces(std::size_t i) const {
    check(i);
    std::vector<std::string> out;
    if (i > 0) out.push_back(iface_toward(i - 1));
    if (i + 1 < names_.size()) out.push_back(iface_toward(i + 1));
    return out;
  }
  // The IPv4 address (no prefix length) of `iface` inside ns(i). Throws for an unknown interface.
  std::string address(std::size_t i, const std::string& iface) const {
    check(i);
    if (i + 1 < names_.size() && iface == iface_toward(i + 1)) return "10.77." + std::to_string(i) + ".1";
    if (i > 0 && iface == iface_toward(i - 1)) return "10.77." + std::to_string(i - 1) + ".2";
    throw std::invalid_argument("NetnsLine: no interface " + iface + " in " + names_.at(i));
  }
  // Sets the veth pair between ns(i) and ns(i+1) down (cut) or up (heal) on both ends.
  void cut(std::size_t i) { set_pair(i, "down"); }
  void heal(std::size_t i) { set_pair(i, "up"); }

 private:
  static std::string iface_toward(std::size_t j) { return "to" + std::to_string(j); }

  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  void check(std::size_t i) const {
    if (i >= names_.size()) throw std::out_of_range("NetnsLine: no namespace " + std::to_string(i));
  }

  void must(const std::string& command) const {
    auto r = run(command);
    if (r.status != 0)
      throw std::runtime_error("NetnsLine: `" + command + "` failed (status " + std::to_string(r.status) +
                               "): " + trim(r.output));
  }

  void set_pair(std::size_t i, const std::string& state) {
    if (i + 1 >= names_.size()) throw std::out_of_range("NetnsLine: no pair " + std::to_string(i));
    must(ip_ + " -n " + quote(names_[i]) + " link set " + quote(iface_toward(i + 1)) + " " + state);
    must(ip_ + " -n " + quote(names_[i + 1]) + " link set " + quote(iface_toward(i)) + " " + state);
  }

  void remove_all() noexcept {
    for (const auto& name : made_) run(ip_ + " netns del " + quote(name));
    made_.clear();
  }

  std::string ip_;                  // the quoted path of `ip`
  std::vector<std::string> names_;  // ns(i)
  std::vector<std::string> made_;   // namespaces to delete
};

// One LAN segment: a switch namespace with a bridge, and n member namespaces each with an `eth0`
// veth on it (10.78.0.<i+1>/24, multicast on). Needs what NetnsLine needs.
class NetnsLan {
 public:
  explicit NetnsLan(std::size_t n) {
    if (n == 0 || n > 200) throw std::invalid_argument("NetnsLan: 1 to 200 members");
    auto ip = find_ip_command();
    if (!ip) throw std::runtime_error("NetnsLan: the `ip` command (iproute2) is not installed");
    ip_ = NetnsLine::quote(ip->string());
    const std::string prefix = "hl" + std::to_string(::getpid()) + "-";
    try {
      switch_ = prefix + "sw";
      make(switch_);
      must(ip_ + " -n " + switch_ + " link add br0 type bridge");
      must(ip_ + " -n " + switch_ + " link set br0 up");
      for (std::size_t i = 0; i < n; ++i) {
        const auto name = prefix + std::to_string(i);
        make(name);
        members_.push_back(name);
        const auto port = "p" + std::to_string(i);
        must(ip_ + " -n " + name + " link add eth0 type veth peer name " + port + " netns " + switch_);
        must(ip_ + " -n " + switch_ + " link set " + port + " master br0 up");
        must(ip_ + " -n " + name + " addr add " + address(i) + "/24 dev eth0");
        must(ip_ + " -n " + name + " link set eth0 multicast on up");
      }
    } catch (...) {
      remove_all();
      throw;
    }
  }
  ~NetnsLan() { remove_all(); }
  NetnsLan(const NetnsLan&) = delete;
  NetnsLan& operator=(const NetnsLan&) = delete;
  const std::string& ns(std::size_t i) const { return members_.at(i); }
  static std::string address(std::size_t i) { return "10.78.0." + std::to_string(i + 1); }

 private:
  void make(const std::string& name) {
    NetnsLine::run(ip_ + " netns del " + name);
    must(ip_ + " netns add " + name);
    made_.push_back(name);
    must(ip_ + " -n " + name + " link set lo up");
  }
  static void must(const std::string& command) {
    auto r = NetnsLine::run(command);
    if (r.status != 0) throw std::runtime_error("NetnsLan: `" + command + "` failed: " + r.output);
  }
  void remove_all() noexcept {
    for (const auto& name : made_) NetnsLine::run(ip_ + " netns del " + name);
    made_.clear();
  }
  std::string ip_, switch_;
  std::vector<std::string> members_, made_;
};

}  // namespace hyphae::testing
