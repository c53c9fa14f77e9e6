#include "api/client.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace hyphae {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;

namespace {
// The Host header for `host`: an IPv6 address in brackets.
std::string host_header(const std::string& host) {
  return host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host;
}
}  // namespace

std::optional<ApiEndpoint> ApiEndpoint::from_data_dir(const std::filesystem::path& dir, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<ApiEndpoint> {
    if (error) *error = why;
    return std::nullopt;
  };
  std::ifstream info_file(dir / "node.json");
  if (!info_file) return fail("no running node found: " + (dir / "node.json").string() + " is missing");
  auto info = nlohmann::json::parse(info_file, nullptr, false);
  if (info.is_discarded() || !info.contains("api_port"))
    return fail((dir / "node.json").string() + " is malformed");
  ApiEndpoint endpoint;
  endpoint.host = info.value("api_host", "127.0.0.1");
  // A node listening on every address is reached (and named in Host) over loopback.
  if (endpoint.host == "0.0.0.0") endpoint.host = "127.0.0.1";
  if (endpoint.host == "::" || endpoint.host == "[::]") endpoint.host = "::1";
  endpoint.port = info["api_port"].get<std::uint16_t>();
  std::ifstream token_file(dir / "api.token");
  if (!token_file || !std::getline(token_file, endpoint.token))
    return fail("cannot read " + (dir / "api.token").string());
  return endpoint;
}

namespace {

// Opens `socket` (IPv4) inside the named network namespace. setns() changes only the calling
// thread's namespace, so it runs on a thread of its own; a socket keeps the namespace it was made
// in for life. Throws std::runtime_error when the namespace cannot be entered,
// boost::system::system_error when the socket cannot be opened.
void open_in_netns(tcp::socket& socket, const std::string& netns) {
  std::string setns_error;
  boost::system::error_code open_error;
  std::thread([&] {
    const std::string path = "/var/run/netns/" + netns;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      setns_error = "cannot open " + path + ": " + std::strerror(errno);
      return;
    }
    if (::setns(fd, CLONE_NEWNET) != 0) {
      setns_error = "setns(" + path + "): " + std::strerror(errno);
      ::close(fd);
      return;
    }
    ::close(fd);
    socket.open(tcp::v4(), open_error);
  }).join();
  if (!setns_error.empty()) throw std::runtime_error("network namespace " + netns + ": " + setns_error);
  if (open_error) throw boost::system::system_error(open_error, "socket");
}

// Connects `socket` to the first IPv4 address of host:port that answers, each attempt on a fresh
// socket made inside `netns`. Not asio::connect: it would reopen the socket in this thread's namespace.
void connect_in_netns(tcp::socket& socket, const std::string& netns, const std::string& host,
                      std::uint16_t port) {
  tcp::resolver resolver(socket.get_executor());
  auto results = resolver.resolve(tcp::v4(), host, std::to_string(port));
  boost::system::error_code ec = asio::error::host_not_found;
  for (const auto& entry : results) {
    boost::system::error_code ignored;
    socket.close(ignored);
    open_in_netns(socket, netns);
    socket.connect(entry.endpoint(), ec);
    if (!ec) return;
  }
  boost::system::error_code ignored;
  socket.close(ignored);
  throw boost::system::system_error(ec);
}

}  // namespace

struct ApiClient::Connection {
  asio::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  bool connected = false;
};

ApiClient::ApiClient(ApiEndpoint endpoint)
    : endpoint_(std::move(endpoint)), connection_(std::make_unique<Connection>()) {}
ApiClient::~ApiClient() = default;

ApiResponse ApiClient::request(const std::string& method, const std::string& target,
                               const std::optional<nlohmann::json>& body) {
  return request_raw(method, target, body ? body->dump() : std::string(), true);
}

ApiResponse ApiClient::request_raw(const std::string& method, const std::string& target,
                                   const std::string& body, bool with_token) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto& c = *connection_;
    try {
      if (!c.connected) {
        if (endpoint_.netns.empty()) {
          tcp::resolver resolver(c.io);
          c.stream.connect(resolver.resolve(endpoint_.host, std::to_string(endpoint_.port)));
        } else {
          connect_in_netns(c.stream.socket(), endpoint_.netns, endpoint_.host, endpoint_.port);
        }
        c.connected = true;
      }
      http::request<http::string_body> req{http::string_to_verb(method), target, 11};
      req.set(http::field::host, host_header(endpoint_.host) + ":" + std::to_string(endpoint_.port));
      if (with_token) req.set(http::field::authorization, "Bearer " + endpoint_.token);
      req.keep_alive(true);
      if (!body.empty() || method == "POST") {
        req.set(http::field::content_type, "application/json");
        req.body() = body;
      }
      req.prepare_payload();
      boost::system::error_code write_error;
      http::write(c.stream, req, write_error);  // on failure, the server may still have answered (e.g. 413)
      http::response_parser<http::string_body> parser;
      parser.body_limit(256u << 20);
      http::read(c.stream, c.buffer, parser);
      auto res = parser.release();
      if (!res.keep_alive()) {
        boost::system::error_code ec;
        c.stream.socket().close(ec);
        c.connected = false;
      }
      ApiResponse out;
      out.status = static_cast<int>(res.result_int());
      out.body = nlohmann::json::parse(res.body(), nullptr, false);
      out.raw = std::move(res.body());
      return out;
    } catch (const boost::system::system_error& e) {
      boost::system::error_code ec;
      c.stream.socket().close(ec);
      c.connected = false;
      c.buffer.clear();
      if (attempt == 1)
        throw std::runtime_error("cannot reach the node's API at " + endpoint_.host + ":" +
                                 std::to_string(endpoint_.port) + ": " + e.code().message());
    }
  }
  throw std::logic_error("unreachable");
}

void ApiClient::stream(const std::function<bool(const nlohmann::json&)>& on_message, int idle_timeout_ms) {
  asio::io_context io;
  tcp::resolver resolver(io);
  websocket::stream<beast::tcp_stream> ws(io);
  try {
    if (endpoint_.netns.empty())
      beast::get_lowest_layer(ws).connect(resolver.resolve(endpoint_.host, std::to_string(endpoint_.port)));
    else
      connect_in_netns(beast::get_lowest_layer(ws).socket(), endpoint_.netns, endpoint_.host, endpoint_.port);
    ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
      req.set(http::field::authorization, "Bearer " + endpoint_.token);
    }));
    ws.handshake(host_header(endpoint_.host) + ":" + std::to_string(endpoint_.port),
                 "/v1/p2p/messages/stream");
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot open the message stream: " + e.code().message());
  }
  beast::flat_buffer buffer;
  bool done = false;
  while (!done) {
    buffer.clear();
    boost::system::error_code read_ec = asio::error::would_block;
    ws.async_read(buffer, [&](boost::system::error_code ec, std::size_t) { read_ec = ec; });
    io.restart();
    if (idle_timeout_ms > 0) {
      io.run_for(std::chrono::milliseconds(idle_timeout_ms));
      if (read_ec == asio::error::would_block) break;  // idle: nothing more to read
    } else {
      io.run();
    }
    if (read_ec) break;
    auto message = nlohmann::json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
    if (message.is_discarded() || message.value("type", "") != "message") continue;
    bool keep_going = on_message(message);
    if (!message.value("ephemeral", false)) {
      ws.write(asio::buffer(nlohmann::json{{"type", "ack"}, {"id", message["id"]}}.dump()));
    }
    if (!keep_going) done = true;
  }
  // A WebSocket close, not a bare socket close: the node reads every ack written above before it
  // sees the close frame (a reset would drop the acks still in its receive buffer).
  boost::system::error_code close_ec = asio::error::would_block;
  ws.async_close(websocket::close_code::normal, [&](boost::system::error_code ec) { close_ec = ec; });
  io.restart();
  io.run_for(std::chrono::seconds(2));
  boost::system::error_code ec;
  beast::get_lowest_layer(ws).socket().close(ec);
}

}  // namespace hyphae
