// InProcessNode: a Node in the benchmark's own process on its own io_context thread, with helpers
// to run code on its strand and to time a stream of durable messages until all are acked.
// Thread-safety: on() and stream() are called from the benchmark's main thread; they post to the
// node's strand and wait. Ownership: owns the node, its io_context and the thread.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <future>
#include <memory>
#include <string_view>
#include <thread>

#include "node/node.hpp"

namespace hyphae::bench {

class InProcessNode {
 public:
  explicit InProcessNode(const NodeConfig& config);
  ~InProcessNode();

  Node& node() { return *node_; }

  // Runs `f` on the node's strand and waits for it.
  template <typename F>
  void on(F f) {
    std::promise<void> done;
    boost::asio::post(node_->executor(), [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }
  // Whether the node has a session with `peer` over `transport`.
  bool session(const PeerId& peer, std::string_view transport);
  // Sends `count` durable messages of `size` bytes over `transport`; seconds until all are acked.
  // Throws after `timeout`, after calling on_failure (for diagnostics).
  double stream(const PeerId& to, const std::string& transport, std::size_t size, std::size_t count,
                std::chrono::seconds timeout = std::chrono::seconds(60));

  std::function<void()> on_failure;

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<Node> node_;
  std::thread runner_;
};

}  // namespace hyphae::bench
