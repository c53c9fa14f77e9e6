// Fuzz target: the WebSocket transport's server side as a stranger reaches it. The input is what a
// client sends to a wss-less ("ws://") listener over a real loopback TCP connection: with a first
// byte of 0 the bytes go raw (the HTTP upgrade request is the fuzzer's too); otherwise a valid
// upgrade request to the listener's path goes first and the rest are WebSocket frames. The server
// stream opens (HTTP parse, upgrade), then its reads feed a Noise responder (LinkSession) until an
// error ends the link. Invariants: no crash, no exception but boost::system::system_error, no
// record before the handshake completes, and each read returns bytes within the buffer.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/identity.hpp"
#include "transport/stream/link_session.hpp"
#include "transport/ws/ws_stream.hpp"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr char kUpgrade[] =
    "GET /link HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

struct Fixture {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  hyphae::Identity identity = hyphae::Identity::generate();
  hyphae::noise::KeyPair noise_static = hyphae::noise::KeyPair::generate();
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

asio::awaitable<void> serve(tcp::socket socket) {
  auto& f = fixture();
  auto stream = hyphae::ws::make_ws_server_stream(std::move(socket), nullptr, "/link");
  hyphae::stream::LinkSession session(f.identity, f.noise_static, false, std::nullopt);
  try {
    co_await stream->open();
    std::array<std::uint8_t, 4096> buffer;
    for (;;) {
      const std::size_t n = co_await stream->read_some(asio::buffer(buffer));
      if (n == 0 || n > buffer.size()) std::abort();
      hyphae::Bytes to_send;
      const bool was_up = session.established();
      auto ec =
          session.on_bytes(hyphae::ByteView(buffer.data(), n), to_send, [&](const hyphae::stream::Record&) {
            if (!was_up && !session.established()) std::abort();
          });
      if (!to_send.empty()) co_await stream->write(asio::buffer(to_send));
      if (ec) break;
    }
  } catch (const boost::system::system_error&) {
    // the link ends: what every malformed input should do
  }
  stream->close();
}

// Writes the input, closes its sending side, then drains what the server answers until it closes.
asio::awaitable<void> send_input(tcp::socket& client, const std::string& input) {
  boost::system::error_code ec;
  co_await asio::async_write(client, asio::buffer(input), asio::redirect_error(asio::use_awaitable, ec));
  client.shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 4096> sink;
  for (;;) {
    co_await client.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
}

void on_serve_exit(std::exception_ptr e) {
  if (e) std::abort();  // only system_error may leave the stream, and serve() catches it
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 256 * 1024) return 0;
  auto& f = fixture();
  std::string input;
  if (size == 0 || data[0] != 0) input = kUpgrade;
  if (size > 0) input.append(reinterpret_cast<const char*>(data) + 1, size - 1);
  tcp::socket client(f.io);
  client.connect(f.acceptor.local_endpoint());
  tcp::socket server = f.acceptor.accept();
  asio::co_spawn(f.io, serve(std::move(server)), on_serve_exit);
  asio::co_spawn(f.io, send_input(client, input), asio::detached);
  f.io.restart();
  f.io.run();
  return 0;
}
