// A Node hosted in-process on a test's io_context, with a real SQLite store in a temp directory.
#include "node/node.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <functional>

#include "core/error.hpp"
#include "core/identity.hpp"
#include "store/store.hpp"
#include "testnet/local_node.hpp"

namespace hyphae {
namespace {

struct Hosted {
  boost::asio::io_context io;
  TempDir dir{"hyphae-node-test-"};
  std::unique_ptr<Node> node;
  std::shared_ptr<store::WriteFaults> store_faults = std::make_shared<store::WriteFaults>();
  explicit Hosted(std::function<void(NodeConfig&)> tune = {}) {
    NodeConfig config;
    config.data_dir = dir.path();
    config.log_level = "off";
    if (tune) tune(config);
    Node::Services services;
    services.store_faults = store_faults;
    auto created = Node::create(io.get_executor(), config, services);
    if (!created) throw std::runtime_error(created.error());
    node = std::move(*created);
    boost::asio::post(node->executor(), [this] { EXPECT_FALSE(node->start()); });
    io.run_for(std::chrono::milliseconds(50));
  }
  ~Hosted() {
    boost::asio::post(node->executor(), [this] { node->stop(); });
    io.run_for(std::chrono::milliseconds(50));
  }
  // Runs the io_context until `done` is true (bounded).
  template <typename F>
  void run_until(F done) {
    for (int i = 0; i < 200 && !done(); ++i) io.run_for(std::chrono::milliseconds(10));
  }
};

TEST(Node, FailingStoreWriteFailsTheSendWithAnError) {
  Hosted h;
  auto peer = Identity::generate().peer_id();
  std::optional<std::expected<MessageId, std::error_code>> result;
  boost::asio::post(h.node->executor(), [&] {
    h.store_faults->fail_next(1);
    h.node->send(peer, Bytes{1, 2, 3}, SendOptions{}, [&](auto r) { result = r; });
  });
  h.run_until([&] { return result.has_value(); });
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(*result);
  EXPECT_EQ(result->error(), make_error_code(Errc::store_failed));
  // The next send commits normally and is queued.
  result.reset();
  boost::asio::post(h.node->executor(), [&] {
    h.node->send(peer, Bytes{4, 5, 6}, SendOptions{}, [&](auto r) { result = r; });
  });
  h.run_until([&] { return result.has_value(); });
  ASSERT_TRUE(result && *result);
  auto status = h.node->status(**result);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, "queued");
}

TEST(Node, PendingLimitsAnswerBackpressureInsteadOfGrowingWithoutBound) {
  Hosted h([](NodeConfig& c) {
    c.max_pending_messages = 3;
    c.max_pending_bytes = 65536;
  });
  auto peer = Identity::generate().peer_id();
  std::vector<std::error_code> results;
  auto send = [&](std::size_t n, std::size_t size) {
    boost::asio::post(h.node->executor(), [&, n, size] {
      h.node->send_many(peer, std::vector<Bytes>(n, Bytes(size, 1)), SendOptions{},
                        [&](auto r) { results.push_back(r ? std::error_code{} : r.error()); });
    });
    const auto want = results.size() + 1;
    h.run_until([&] { return results.size() == want; });
  };
  send(2, 10);
  send(2, 10);  // 4 > 3 messages
  send(1, 10);  // exactly at the limit
  ASSERT_EQ(results.size(), 3u);
  EXPECT_FALSE(results[0]);
  EXPECT_EQ(results[1], make_error_code(Errc::backpressure));
  EXPECT_FALSE(results[2]);
  send(1, 10);
  EXPECT_EQ(results.back(), make_error_code(Errc::backpressure));
  EXPECT_NE(h.node->metrics_text().find("p2p_errors_total{kind=\"backpressure\"} 2"), std::string::npos);
}

TEST(Node, ATransportPreferenceForAnUnknownTransportIsRefused) {
  Hosted h;
  auto peer = Identity::generate().peer_id();
  std::vector<std::error_code> results;
  for (const char* transport : {"bitchat", "tcp", ""}) {
    boost::asio::post(h.node->executor(), [&, transport] {
      SendOptions options;
      options.transport = transport;
      h.node->send(peer, Bytes{1}, options,
                   [&](auto r) { results.push_back(r ? std::error_code{} : r.error()); });
    });
    const auto want = results.size() + 1;
    h.run_until([&] { return results.size() == want; });
  }
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0], make_error_code(Errc::invalid_argument));
  EXPECT_FALSE(results[1]);
  EXPECT_FALSE(results[2]);
  // TCP, and the relay transport that rides on it.
  EXPECT_EQ(h.node->transport_names(), (std::vector<std::string>{"tcp", "relay"}));
}

TEST(Node, PendingBytesLimit) {
  Hosted h([](NodeConfig& c) { c.max_pending_bytes = 65536; });
  auto peer = Identity::generate().peer_id();
  std::vector<std::error_code> results;
  for (int i = 0; i < 3; ++i) {
    boost::asio::post(h.node->executor(), [&] {
      h.node->send(peer, Bytes(30000, 2), SendOptions{},
                   [&](auto r) { results.push_back(r ? std::error_code{} : r.error()); });
    });
    const auto want = results.size() + 1;
    h.run_until([&] { return results.size() == want; });
  }
  ASSERT_EQ(results.size(), 3u);
  EXPECT_FALSE(results[0]);
  EXPECT_FALSE(results[1]);
  EXPECT_EQ(results[2], make_error_code(Errc::backpressure));  // ~90 KB of sealed envelopes > 64 KiB
}

TEST(Node, RejectsBadSendsWithClearErrors) {
  Hosted h;
  std::vector<std::error_code> errors;
  boost::asio::post(h.node->executor(), [&] {
    auto collect = [&](auto r) { errors.push_back(r ? std::error_code{} : r.error()); };
    h.node->send(h.node->peer_id(), Bytes{1}, SendOptions{}, collect);                           // to itself
    h.node->send(Identity::generate().peer_id(), Bytes((1 << 20) + 1), SendOptions{}, collect);  // too large
    SendOptions ephemeral;
    ephemeral.ephemeral = true;
    h.node->send(Identity::generate().peer_id(), Bytes{1}, ephemeral, collect);  // no link
  });
  h.run_until([&] { return errors.size() == 3; });
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0], make_error_code(Errc::invalid_argument));
  EXPECT_EQ(errors[1], make_error_code(Errc::too_large));
  EXPECT_EQ(errors[2], make_error_code(Errc::no_link));
}

}  // namespace
}  // namespace hyphae
