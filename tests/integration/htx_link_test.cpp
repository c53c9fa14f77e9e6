// HTX links on real sockets: TLS 1.3 with ALPN h2 outside, Noise XK inside bound to the TLS
// connection's exporter. A client and a server in one process move 4 MiB each way through their
// flow-control windows; a client that expects another server key, a plain-TCP client and a TLS
// client offering only HTTP/1.1 are refused, each with its reason, and the server keeps serving.
#include "betanet/htx/htx_link.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "harness.hpp"

namespace hyphae::htx {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Server {
  asio::io_context& io;
  asio::ip::tcp::acceptor acceptor;
  noise::KeyPair key = noise::KeyPair::generate();
  std::shared_ptr<asio::ssl::context> tls = htx_server_tls();
  std::vector<std::shared_ptr<HtxLink>> links;
  std::string received;
  std::vector<std::string> closed;
  int established = 0;
  explicit Server(asio::io_context& context)
      : io(context), acceptor(context, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
      if (ec) return;
      HtxLinkCallbacks cb;
      auto index = links.size();
      cb.on_established = [this] { ++established; };
      cb.on_data = [this, index](std::uint64_t stream, Bytes data) {
        received += to_string(data);
        links[index]->send(stream, data);  // echo
      };
      cb.on_closed = [this](const std::string& why) { closed.push_back(why); };
      links.push_back(HtxLink::accept(asio::make_strand(io.get_executor()), tls, std::move(socket), key, cb));
      accept();
    });
  }
};

bool run_until(asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < end) {
    io.run_for(10ms);
    if (io.stopped()) io.restart();
  }
  return done();
}

TEST(HtxLink, TlsOutsideNoiseInsideMovesDataBothWays) {
  asio::io_context io;
  Server server(io);
  const auto client_key = noise::KeyPair::generate();
  std::string echoed;
  bool up = false;
  std::string closed;
  HtxLinkCallbacks cb;
  cb.on_established = [&] { up = true; };
  cb.on_data = [&](std::uint64_t, Bytes d) { echoed += to_string(d); };
  cb.on_closed = [&](const std::string& why) { closed = why; };
  auto link = HtxLink::connect(asio::make_strand(io.get_executor()), htx_client_tls(), "127.0.0.1",
                               server.port(), client_key, server.key.pub, cb);
  ASSERT_TRUE(run_until(
      io, [&] { return up; }, 10s))
      << closed;
  ASSERT_TRUE(run_until(
      io, [&] { return server.established == 1; }, 5s));
  EXPECT_EQ(*server.links[0]->remote_static(), client_key.pub);  // the server knows who dialed

  std::string payload(4 << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  const auto stream = link->open_stream();
  ASSERT_FALSE(link->send(stream, as_bytes(payload)));
  EXPECT_EQ(link->send(stream, Bytes(8 << 20)), make_error_code(Errc::backpressure));  // the queue's bound
  ASSERT_TRUE(run_until(
      io, [&] { return echoed.size() == payload.size(); }, 30s))
      << echoed.size();
  EXPECT_EQ(server.received, payload);
  EXPECT_EQ(echoed, payload);
  EXPECT_GT(link->counters().frames_out, 256u);
  link->close();
  ASSERT_TRUE(run_until(
      io, [&] { return !server.closed.empty(); }, 5s));
}

TEST(HtxLink, StrangersAreRefusedWithTheirReasonAndTheServerServesOn) {
  asio::io_context io;
  Server server(io);
  // Expecting another server key: the Noise handshake fails inside TLS.
  std::string why;
  HtxLinkCallbacks cb;
  cb.on_closed = [&](const std::string& w) { why = w; };
  auto wrong =
      HtxLink::connect(asio::make_strand(io.get_executor()), htx_client_tls(), "127.0.0.1", server.port(),
                       noise::KeyPair::generate(), noise::KeyPair::generate().pub, cb);
  ASSERT_TRUE(run_until(
      io, [&] { return !why.empty() && !server.closed.empty(); }, 10s));
  EXPECT_NE(server.closed.back().find("handshake failed"), std::string::npos) << server.closed.back();
  // Plain TCP speaking HTTP/1.1: TLS fails.
  {
    asio::ip::tcp::socket raw(io);
    raw.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
    asio::write(raw, asio::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
    ASSERT_TRUE(run_until(
        io, [&] { return server.closed.size() >= 2; }, 10s));
    EXPECT_NE(server.closed.back().find("TLS"), std::string::npos) << server.closed.back();
  }
  // TLS without ALPN h2 (an HTTP/1.1 client): refused by the server's ALPN rule.
  {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_verify_mode(asio::ssl::verify_none);
    asio::ssl::stream<asio::ip::tcp::socket> s(io, ctx);
    const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_set_alpn_protos(s.native_handle(), http11, sizeof http11);
    s.lowest_layer().connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
    boost::system::error_code ec;
    std::thread client([&] { s.handshake(asio::ssl::stream_base::client, ec); });
    ASSERT_TRUE(run_until(
        io, [&] { return server.closed.size() >= 3; }, 10s));
    client.join();
    EXPECT_TRUE(ec);
  }
  // A genuine client still gets in.
  bool up = false;
  HtxLinkCallbacks ok;
  ok.on_established = [&] { up = true; };
  auto good = HtxLink::connect(asio::make_strand(io.get_executor()), htx_client_tls(), "127.0.0.1",
                               server.port(), noise::KeyPair::generate(), server.key.pub, ok);
  EXPECT_TRUE(run_until(
      io, [&] { return up; }, 10s));
}

}  // namespace
}  // namespace hyphae::htx
