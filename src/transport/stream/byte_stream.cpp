#include "transport/stream/byte_stream.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace hyphae::stream {

namespace asio = boost::asio;

namespace {

class TcpStream final : public ByteStream {
 public:
  explicit TcpStream(asio::ip::tcp::socket socket)
      : socket_(std::move(socket)), remote_(remote_endpoint_text(socket_)) {
    boost::system::error_code ec;
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  }
  asio::awaitable<void> open() override { co_return; }
  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buffer) override {
    co_return co_await socket_.async_read_some(buffer, asio::use_awaitable);
  }
  asio::awaitable<void> write(asio::const_buffer data) override {
    co_await asio::async_write(socket_, data, asio::use_awaitable);
  }
  void close() override {
    boost::system::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  const std::string& remote_address() const override { return remote_; }
  std::string_view kind() const override { return "tcp"; }

 private:
  asio::ip::tcp::socket socket_;
  std::string remote_;
};

}  // namespace

std::unique_ptr<ByteStream> make_tcp_stream(asio::ip::tcp::socket socket) {
  return std::make_unique<TcpStream>(std::move(socket));
}

std::string remote_endpoint_text(const asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return {};
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace hyphae::stream
