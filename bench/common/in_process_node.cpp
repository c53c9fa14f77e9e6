#include "common/in_process_node.hpp"

#include <chrono>
#include <cstdio>

namespace hyphae::bench {

namespace asio = boost::asio;

InProcessNode::InProcessNode(const NodeConfig& config) : work_(asio::make_work_guard(io_)) {
  auto made = Node::create(io_.get_executor(), config);
  if (!made) throw std::runtime_error(made.error());
  node_ = std::move(*made);
  runner_ = std::thread([this] { io_.run(); });
  on([&] { node_->start(); });
}

InProcessNode::~InProcessNode() {
  on([&] { node_->stop(); });
  work_.reset();
  io_.stop();
  runner_.join();
}

bool InProcessNode::session(const PeerId& peer, std::string_view transport) {
  bool up = false;
  on([&] {
    for (const auto& c : node_->connections())
      if (c.peer == peer && c.transport == transport) up = true;
  });
  return up;
}

double InProcessNode::stream(const PeerId& to, const std::string& transport, std::size_t size,
                             std::size_t count, std::chrono::seconds timeout) {
  std::promise<void> all;
  std::size_t delivered = 0;
  on([&] {
    node_->on_delivered([&](const MessageId&) {
      if (++delivered == count) all.set_value();
    });
  });
  const auto start = std::chrono::steady_clock::now();
  asio::post(node_->executor(), [&] {
    SendOptions options;
    options.transport = transport;
    const Bytes payload(size, 0x61);
    for (std::size_t sent = 0; sent < count; sent += 500) {
      std::vector<Bytes> batch(std::min<std::size_t>(500, count - sent), payload);
      node_->send_many(to, std::move(batch), options, [](auto) {});
    }
  });
  if (all.get_future().wait_for(timeout) != std::future_status::ready) {
    if (on_failure) on_failure();
    std::size_t pending = 0;
    on([&] { pending = node_->status_view().outbox_queued + node_->status_view().outbox_in_flight; });
    std::fprintf(stderr, "sender: %zu of %zu acked, pending %zu\n", delivered, count, pending);
    throw std::runtime_error("messages over " + transport + " were not all acked in time");
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  on([&] { node_->on_delivered(nullptr); });
  return secs;
}

}  // namespace hyphae::bench
