// Typed signals across the transport boundary: Transport::send says why it queued nothing, and a
// session's end carries a CloseCode, over two real TCP mesh transports on loopback.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <vector>

#include "core/error.hpp"
#include "core/identity.hpp"
#include "transport/transport.hpp"

namespace hyphae {
namespace {

using transport::CloseCode;

struct Sink : transport::TransportSink {
  std::vector<std::uint64_t> up;
  std::vector<transport::CloseReason> down;
  std::vector<Bytes> records;
  void on_session_up(transport::Transport&, const PeerId&, std::uint64_t s) override { up.push_back(s); }
  void on_session_down(transport::Transport&, const PeerId&, std::uint64_t,
                       const transport::CloseReason& r) override {
    down.push_back(r);
  }
  void on_record(transport::Transport&, const PeerId&, std::uint64_t, transport::RecordKind,
                 ByteView b) override {
    records.emplace_back(b.begin(), b.end());
  }
  void on_drained(transport::Transport&, const PeerId&) override {}
  void on_availability(transport::Transport&, bool, const std::string&) override {}
  bool wants_session(transport::Transport&, const PeerId&) override { return true; }
};

struct Pair {
  boost::asio::io_context io;
  Identity ida = Identity::generate(), idb = Identity::generate();
  Sink sa, sb;
  std::unique_ptr<transport::Transport> a, b;

  Pair() {
    auto make = [&](const Identity& id, Sink& sink) {
      auto t = transport::default_registry().make(
          "tcp", transport::TransportContext{.name = "tcp",
                                             .options = {{"listen", "127.0.0.1:0"}},
                                             .strand = boost::asio::make_strand(io.get_executor()),
                                             .identity = &id,
                                             .sink = &sink,
                                             .max_record_bytes = 1 << 20});
      EXPECT_TRUE(t) << t.error();
      EXPECT_FALSE((*t)->start());
      return std::move(*t);
    };
    a = make(ida, sa);
    b = make(idb, sb);
  }
  template <typename F>
  bool run_until(F done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io.run_for(std::chrono::milliseconds(5));
      a->tick(0);
      b->tick(0);
    }
    return done();
  }
  void connect() {
    ASSERT_FALSE(a->add_addresses(idb.peer_id(), {"127.0.0.1:" + std::to_string(b->listen_port())}));
    a->connect_soon(idb.peer_id());
    ASSERT_TRUE(run_until([&] { return !sa.up.empty() && !sb.up.empty(); }));
  }
};

TEST(TransportSignals, SendSaysWhyNothingWasQueued) {
  Pair p;
  const Bytes small(16, 0x42);
  EXPECT_EQ(p.a->send(p.idb.peer_id(), transport::RecordKind::data, small), make_error_code(Errc::no_link));
  p.connect();
  EXPECT_FALSE(p.a->send(p.idb.peer_id(), transport::RecordKind::data, small));
  const Bytes huge(p.a->capabilities().mtu + 1, 0x42);
  EXPECT_EQ(p.a->send(p.idb.peer_id(), transport::RecordKind::data, huge), make_error_code(Errc::too_large));
  ASSERT_TRUE(p.run_until([&] { return !p.sb.records.empty(); }));
  EXPECT_EQ(p.sb.records.size(), 1u);  // the refused one never went out
  p.a->stop();
  EXPECT_EQ(p.a->send(p.idb.peer_id(), transport::RecordKind::data, small), make_error_code(Errc::closed));
  p.b->stop();
}

TEST(TransportSignals, AClosedSessionCarriesItsCodeToBothEnds) {
  Pair p;
  p.connect();
  p.a->close(p.idb.peer_id(), {CloseCode::idle, "test"});
  ASSERT_TRUE(p.run_until([&] { return !p.sa.down.empty() && !p.sb.down.empty(); }));
  EXPECT_EQ(p.sa.down[0].code, CloseCode::idle);
  EXPECT_EQ(p.sa.down[0].text(), "idle: test");
  EXPECT_FALSE(p.sa.down[0].orderly());
  EXPECT_EQ(p.sb.down[0].code, CloseCode::remote);  // the far end saw the connection end
  p.a->stop();
  p.b->stop();
}

TEST(TransportSignals, StoppingIsAnOrderlyEnd) {
  Pair p;
  p.connect();
  p.a->stop();
  ASSERT_EQ(p.sa.down.size(), 1u);
  EXPECT_EQ(p.sa.down[0].code, CloseCode::stopping);
  EXPECT_TRUE(p.sa.down[0].orderly());
  p.b->stop();
}

}  // namespace
}  // namespace hyphae
