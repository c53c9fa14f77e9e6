#include "transport/ws/ws_stream.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace hyphae::ws {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::use_awaitable;

namespace {

using PlainLayer = beast::tcp_stream;
using TlsLayer = beast::ssl_stream<beast::tcp_stream>;

[[noreturn]] void fail(const std::string& why) {
  throw boost::system::system_error(make_error_code(boost::system::errc::protocol_error), why);
}

template <typename Layer>
class WsStream final : public stream::ByteStream {
 public:
  // Plain: `tls` is null.
  WsStream(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> tls, bool server,
           std::string host, std::string path)
      : remote_(stream::remote_endpoint_text(socket)),
        tls_(std::move(tls)),
        ws_(make_layer(std::move(socket), tls_.get())),
        server_(server),
        host_(std::move(host)),
        path_(std::move(path)) {
    boost::system::error_code ec;
    beast::get_lowest_layer(ws_).socket().set_option(asio::ip::tcp::no_delay(true), ec);
    ws_.binary(true);
    ws_.auto_fragment(false);
    ws_.read_message_max(kMaxWsReadMessage);
    // The link runs its own handshake deadline and keepalive; the WebSocket layer adds no timers.
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = websocket::stream_base::none();
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator([server](auto& message) {
      message.set(server ? http::field::server : http::field::user_agent, "hyphae");
    }));
  }

  asio::awaitable<void> open() override {
    if constexpr (std::is_same_v<Layer, TlsLayer>)
      co_await ws_.next_layer().async_handshake(
          server_ ? asio::ssl::stream_base::server : asio::ssl::stream_base::client, use_awaitable);
    if (!server_) {
      co_await ws_.async_handshake(host_, path_, use_awaitable);
      co_return;
    }
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8 * 1024);
    parser.body_limit(0);
    co_await http::async_read(ws_.next_layer(), buffer, parser, use_awaitable);
    const auto& request = parser.get();
    const bool upgrade = websocket::is_upgrade(request);
    if (!upgrade || request.target() != path_) {
      http::response<http::string_body> response{
          upgrade ? http::status::not_found : http::status::upgrade_required, request.version()};
      response.set(http::field::server, "hyphae");
      response.set(http::field::content_type, "text/plain");
      response.body() =
          upgrade ? "no WebSocket endpoint at this path\n" : "this port speaks WebSocket only\n";
      response.keep_alive(false);
      response.prepare_payload();
      boost::system::error_code ignored;
      co_await http::async_write(ws_.next_layer(), response, asio::redirect_error(use_awaitable, ignored));
      fail(upgrade ? "WebSocket upgrade for an unknown path"
                   : "an HTTP request that is not a WebSocket upgrade");
    }
    if (buffer.size() != 0) fail("bytes after the upgrade request, before the answer");
    co_await ws_.async_accept(request, use_awaitable);
  }

  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buffer) override {
    for (;;) {
      boost::system::error_code ec;
      const std::size_t n = co_await ws_.async_read_some(buffer, asio::redirect_error(use_awaitable, ec));
      if (ec == websocket::error::closed) throw boost::system::system_error(asio::error::eof);
      if (ec) throw boost::system::system_error(ec);
      if (ws_.got_text()) fail("a text message on a binary link");
      if (n > 0) co_return n;  // an empty message carries nothing: read on
    }
  }

  asio::awaitable<void> write(asio::const_buffer data) override {
    const auto* p = static_cast<const std::uint8_t*>(data.data());
    std::size_t left = data.size();
    while (left > 0) {
      const std::size_t n = std::min(left, kMaxWsMessage);
      co_await ws_.async_write(asio::buffer(p, n), use_awaitable);
      p += n;
      left -= n;
    }
  }

  void close() override {
    boost::system::error_code ec;
    auto& socket = beast::get_lowest_layer(ws_).socket();
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  const std::string& remote_address() const override { return remote_; }
  std::string_view kind() const override { return std::is_same_v<Layer, TlsLayer> ? "wss" : "ws"; }

 private:
  static websocket::stream<Layer> make_layer(asio::ip::tcp::socket socket, asio::ssl::context* tls) {
    if constexpr (std::is_same_v<Layer, TlsLayer>)
      return websocket::stream<Layer>(PlainLayer(std::move(socket)), *tls);
    else
      return websocket::stream<Layer>(std::move(socket));
  }

  std::string remote_;
  std::shared_ptr<asio::ssl::context> tls_;  // kept alive for the stream's lifetime
  websocket::stream<Layer> ws_;
  bool server_;
  std::string host_;
  std::string path_;
};

std::unique_ptr<stream::ByteStream> make(asio::ip::tcp::socket socket,
                                         std::shared_ptr<asio::ssl::context> tls, bool server,
                                         std::string host, std::string path) {
  if (tls)
    return std::make_unique<WsStream<TlsLayer>>(std::move(socket), std::move(tls), server, std::move(host),
                                                std::move(path));
  return std::make_unique<WsStream<PlainLayer>>(std::move(socket), nullptr, server, std::move(host),
                                                std::move(path));
}

}  // namespace

std::unique_ptr<stream::ByteStream> make_ws_server_stream(asio::ip::tcp::socket socket,
                                                          std::shared_ptr<asio::ssl::context> tls,
                                                          std::string path) {
  return make(std::move(socket), std::move(tls), true, {}, std::move(path));
}

std::unique_ptr<stream::ByteStream> make_ws_client_stream(asio::ip::tcp::socket socket,
                                                          std::shared_ptr<asio::ssl::context> tls,
                                                          std::string host, std::string path) {
  return make(std::move(socket), std::move(tls), false, std::move(host), std::move(path));
}

}  // namespace hyphae::ws
