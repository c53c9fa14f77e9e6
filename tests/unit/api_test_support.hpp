// Helpers for the API server tests: a Node and its ApiServer hosted in-process on a thread of their
// own (real sockets on loopback), plain blocking sockets for raw HTTP, and a second node that sends
// messages to the first.
// Thread-safety: the test thread calls on_strand() to reach the nodes; everything else is local.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>

#include "api/client.hpp"
#include "api/http_api.hpp"
#include "node/node.hpp"
#include "testnet/local_node.hpp"

namespace hyphae::api_test {

// Two nodes on one io_context run by a background thread: `a` serves the API, `b` is a peer that
// can send to it.
class ApiHost {
 public:
  explicit ApiHost(const std::function<void(NodeConfig&)>& tune = {},
                   const std::function<void(NodeConfig&)>& tune_b = {}) {
    a_ = make_node("a", tune);
    b_ = make_node("b", tune_b);
    thread_ = std::thread([this] { io_.run(); });
    port_ = on_strand([&] {
      EXPECT_FALSE(a_->start());
      api_ = std::make_unique<ApiServer>(*a_, token_);
      EXPECT_FALSE(api_->start("127.0.0.1:0"));
      return api_->port();
    });
    EXPECT_FALSE(on_b([&] { return b_->start(); }));
  }
  ~ApiHost() {
    on_strand([&] {
      api_->stop();
      a_->stop();
      api_.reset();
      return 0;
    });
    on_b([&] {
      b_->stop();
      return 0;
    });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  // Runs `f` on node a's strand (where its API server runs too) and returns its result.
  template <typename F>
  std::invoke_result_t<F> on_strand(F f) {
    return run_on(a_->executor(), std::move(f));
  }
  // Runs `f` on node b's strand.
  template <typename F>
  std::invoke_result_t<F> on_b(F f) {
    return run_on(b_->executor(), std::move(f));
  }
  template <typename Executor, typename F>
  std::invoke_result_t<F> run_on(const Executor& executor, F f) {
    std::packaged_task<std::invoke_result_t<F>()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(executor, [&task] { task(); });
    return result.get();
  }

  std::uint16_t port() const { return port_; }
  const std::string& token() const { return token_; }
  Node& a() { return *a_; }
  Node& b() { return *b_; }
  ApiServer& api() { return *api_; }
  ApiEndpoint endpoint() const { return ApiEndpoint{"127.0.0.1", port_, token_, ""}; }
  std::size_t connections() {
    return on_strand([&] { return api_->connections(); });
  }

  // b dials a and waits until the session is up.
  void link() {
    const auto address = "127.0.0.1:" + std::to_string(on_strand([&] { return a_->listen_port(); }));
    const auto a_id = a_->peer_id();
    on_b([&] {
      b_->add_peer(a_id, {address}, [](std::error_code) {});
      return 0;
    });
    ASSERT_TRUE(wait_for([&] { return on_b([&] { return b_->connections().size(); }) == 1; }));
  }
  // b sends each payload to a (durable); returns once all are committed at b.
  void send_from_b(std::vector<Bytes> payloads) {
    std::promise<bool> done;
    const auto a_id = a_->peer_id();
    on_b([&] {
      b_->send_many(a_id, std::move(payloads), SendOptions{},
                    [&](auto result) { done.set_value(result.has_value()); });
      return 0;
    });
    ASSERT_TRUE(done.get_future().get());
  }

  static bool wait_for(const std::function<bool()>& ok,
                       std::chrono::milliseconds limit = std::chrono::seconds(15)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return ok();
  }

 private:
  std::unique_ptr<Node> make_node(const std::string& name, const std::function<void(NodeConfig&)>& tune) {
    NodeConfig config;
    config.data_dir = dir_.path() / name;
    config.log_level = "off";
    if (tune) tune(config);
    auto created = Node::create(io_.get_executor(), config);
    if (!created) throw std::runtime_error(created.error());
    return std::move(*created);
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  TempDir dir_{"hyphae-api-test-"};
  std::string token_ = "0123456789abcdef0123456789abcdef";
  std::unique_ptr<Node> a_, b_;
  std::unique_ptr<ApiServer> api_;
  std::thread thread_;
  std::uint16_t port_ = 0;
};

// A blocking TCP connection to 127.0.0.1:port.
class RawSocket {
 public:
  explicit RawSocket(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  explicit RawSocket(int fd) : fd_(fd) {}
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  bool connected() const { return fd_ >= 0; }
  void send(const std::string& text) {
    ASSERT_EQ(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL), (ssize_t)text.size());
  }
  // Reads until the peer closes (true) or `limit` passes without the close (false); `out` gets
  // what arrived.
  bool read_until_closed(std::chrono::milliseconds limit, std::string* out = nullptr) {
    const auto end = std::chrono::steady_clock::now() + limit;
    char buffer[65536];
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now())
              .count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
      const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return true;  // EOF or reset
      if (out) out->append(buffer, static_cast<std::size_t>(n));
    }
  }
  // One HTTP response: reads until the headers and Content-Length bytes of body have arrived.
  std::string read_response(std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    std::string data;
    const auto end = std::chrono::steady_clock::now() + limit;
    char buffer[65536];
    while (std::chrono::steady_clock::now() < end) {
      auto head_end = data.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        auto cl = data.find("Content-Length: ");
        std::size_t length = cl == std::string::npos ? 0 : std::stoul(data.substr(cl + 16));
        if (data.size() >= head_end + 4 + length) return data;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      data.append(buffer, static_cast<std::size_t>(n));
    }
    return data;
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// The status code of a raw HTTP response ("HTTP/1.1 403 Forbidden" -> 403), or 0.
inline int status_of(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) return 0;
  return std::atoi(response.c_str() + 9);
}
inline std::string body_of(const std::string& response) {
  auto head_end = response.find("\r\n\r\n");
  return head_end == std::string::npos ? "" : response.substr(head_end + 4);
}

}  // namespace hyphae::api_test
