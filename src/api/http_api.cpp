#include "api/http_api.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "api/api_router.hpp"
#include "api/node_views.hpp"
#include "core/error.hpp"
#include "node/config.hpp"
#include "node/node.hpp"

namespace hyphae {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using namespace boost::asio::experimental::awaitable_operators;
using api::Request;
using api::Response;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

using WebSocket = websocket::stream<beast::tcp_stream>;

// One accepted connection: its stream until an upgrade, then the WebSocket that took it over, and
// the node subscription of a message stream (0: none).
struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  std::optional<WebSocket> ws;
  std::uint64_t subscription = 0;
  void close() {
    boost::system::error_code ec;
    auto& socket = ws ? beast::get_lowest_layer(*ws).socket() : stream.socket();
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }
};

// The message stream's send side: frames waiting for the writer, bounded by api_ws_queue_bytes.
struct StreamQueue {
  explicit StreamQueue(const asio::any_io_executor& ex) : signal(ex, asio::steady_timer::time_point::max()) {}
  std::deque<std::string> frames;
  std::size_t bytes = 0;
  bool closed = false;
  bool replaying = false;         // inside Node::subscribe's replay of unacknowledged messages
  bool truncated = false;         // the replay overflowed: close once what was sent has been acknowledged
  std::set<std::string> unacked;  // ids (hex) of the replayed messages queued or sent, not yet acked
  asio::steady_timer signal;
  void wake() { signal.cancel(); }
};

// Logs the exception that ended a coroutine (if any); nothing escapes to io_context::run().
void log_failure(const char* what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("{} failed: {}", what, ex.what());
  } catch (...) {
    spdlog::error("{} failed with an unknown exception", what);
  }
}

bool is_loopback(const std::string& host) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return host == "localhost";
  return address.is_loopback();
}

// Accept errors that mean "out of descriptors or memory": wait before accepting again.
bool resource_exhausted(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory;
}

}  // namespace

class ApiServer::Impl : public std::enable_shared_from_this<ApiServer::Impl> {
 public:
  Impl(Node& node, std::string token)
      : node_(node), router_(node, std::move(token)), acceptor_(node.executor()), backoff_(node.executor()) {}

  Node& node_;
  api::Router router_;
  tcp::acceptor acceptor_;
  asio::steady_timer backoff_;
  bool running_ = false;
  std::set<std::shared_ptr<Connection>> connections_;
  // File transfer events go to every message stream (by connection).
  std::map<const Connection*, std::function<void(std::string)>> file_listeners_;

  const NodeConfig& config() const { return node_.config(); }
  std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(config().api_timeout_ms); }
  void start_session(std::shared_ptr<Connection> conn);
  awaitable<void> accept_loop();
  awaitable<void> session(std::shared_ptr<Connection> conn);
  awaitable<void> stream(std::shared_ptr<Connection> conn, Request req);
  void end_subscription(Connection& conn);
};

void ApiServer::Impl::end_subscription(Connection& conn) {
  file_listeners_.erase(&conn);
  if (conn.subscription == 0) return;
  if (running_) node_.unsubscribe(conn.subscription);  // stop() ended it otherwise
  conn.subscription = 0;
}

void ApiServer::Impl::start_session(std::shared_ptr<Connection> conn) {
  connections_.insert(conn);
  // The completion handler holds the server: a session never outlives what it uses.
  asio::co_spawn(node_.executor(), session(conn), [self = shared_from_this(), conn](std::exception_ptr e) {
    log_failure("api session", e);
    self->end_subscription(*conn);
    conn->close();
    self->connections_.erase(conn);
  });
}

awaitable<void> ApiServer::Impl::session(std::shared_ptr<Connection> conn) {
  beast::flat_buffer buffer;
  const std::size_t body_limit = config().max_message_bytes * 2 + 64 * 1024;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(body_limit);
    boost::system::error_code ec;
    // The whole request, or the next one on a keep-alive connection, must arrive within the timeout.
    conn->stream.expires_after(timeout());
    co_await http::async_read(conn->stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (!running_) co_return;
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset)
      co_return;
    if (ec == http::error::body_limit) {
      Request req;
      req.version(11);
      auto res = api::error_response(req, http::status::payload_too_large, "request body is too large");
      res.keep_alive(false);
      conn->stream.expires_after(timeout());
      co_await http::async_write(conn->stream, res, asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      // Read and drop what the client is still sending (bounded in bytes and time), so it sees the
      // 413 instead of a reset.
      conn->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      std::array<char, 65536> sink;
      conn->stream.expires_after(timeout());
      for (std::size_t drained = 0; drained < 64u * 1024 * 1024;) {
        auto n = co_await conn->stream.async_read_some(asio::buffer(sink),
                                                       asio::redirect_error(use_awaitable, ec));
        if (ec) break;
        drained += n;
      }
      co_return;
    }
    if (ec) {
      Request req;
      req.version(11);
      auto res =
          api::error_response(req, http::status::bad_request, "malformed HTTP request: " + ec.message());
      res.keep_alive(false);
      conn->stream.expires_after(timeout());
      co_await http::async_write(conn->stream, res, asio::redirect_error(use_awaitable, ec));
      co_return;
    }
    Request req = parser.release();
    bool upgrade = false;
    Response res;
    try {
      res = co_await router_.handle(req, upgrade);
    } catch (const std::exception& e) {
      spdlog::error("api: {} {} failed: {}", std::string(req.method_string()), std::string(req.target()),
                    e.what());
      res = api::error_response(req, http::status::internal_server_error, "internal error");
      res.keep_alive(false);
      upgrade = false;
    }
    if (!running_) co_return;
    if (upgrade) {
      co_await stream(conn, std::move(req));
      co_return;
    }
    const bool keep_alive = res.keep_alive();
    conn->stream.expires_after(timeout());
    co_await http::async_write(conn->stream, res, asio::redirect_error(use_awaitable, ec));
    if (ec || !keep_alive) co_return;
  }
}

awaitable<void> ApiServer::Impl::stream(std::shared_ptr<Connection> conn, Request req) {
  conn->stream.expires_never();  // the WebSocket's own timeouts take over
  auto& ws = conn->ws.emplace(std::move(conn->stream));
  websocket::stream_base::timeout limits;
  limits.handshake_timeout = timeout();
  limits.idle_timeout = timeout();  // a ping after half of it; no answer at all by then: closed
  limits.keep_alive_pings = true;
  ws.set_option(limits);
  ws.read_message_max(64 * 1024);  // clients send acks only
  boost::system::error_code ec;
  co_await ws.async_accept(req, asio::redirect_error(use_awaitable, ec));
  if (ec || !running_) co_return;

  auto queue = std::make_shared<StreamQueue>(node_.executor());
  const std::size_t limit = config().api_ws_queue_bytes;
  std::weak_ptr<Connection> weak_conn = conn;
  auto push = [queue, weak_conn, limit](std::string frame, std::string id) {
    if (queue->closed || queue->truncated) return;
    if (!queue->frames.empty() && queue->bytes + frame.size() > limit) {
      if (queue->replaying) {
        // The backlog is larger than the queue: send what fits, then ask the client to reconnect
        // for the rest (it stays in the inbox until acknowledged).
        queue->truncated = true;
        return;
      }
      spdlog::warn("api: dropping a message stream client that is not reading ({} bytes waiting)",
                   queue->bytes);
      queue->closed = true;
      if (auto c = weak_conn.lock()) c->close();
      queue->wake();
      return;
    }
    queue->bytes += frame.size();
    queue->frames.push_back(std::move(frame));
    if (queue->replaying && !id.empty()) queue->unacked.insert(std::move(id));  // bounded by the queue
    queue->wake();
  };
  queue->replaying = true;
  conn->subscription = node_.subscribe([push, queue, weak_conn](const InboundMessage& m) {
    // Runs inside the node's delivery: nothing may escape from here.
    try {
      push(api::stream_message_text(m), m.ephemeral ? std::string() : m.id.to_hex());
    } catch (const std::exception& e) {
      spdlog::error("api: message stream: {}", e.what());
      queue->closed = true;
      if (auto c = weak_conn.lock()) c->close();
      queue->wake();
    }
  });
  queue->replaying = false;
  file_listeners_[conn.get()] = [push](std::string text) { push(std::move(text), std::string()); };

  // Writer: drains the queue; the reader below takes acks. Both on the node's strand.
  auto writer = [](std::shared_ptr<StreamQueue> q, std::shared_ptr<Connection> c,
                   std::chrono::milliseconds patience) -> awaitable<void> {
    auto& w = *c->ws;
    // After a truncated replay: how long the client may take to ack what it got before the close.
    std::optional<asio::steady_timer::time_point> ack_deadline;
    while (!q->closed) {
      while (!q->frames.empty() && !q->closed) {
        auto text = std::move(q->frames.front());
        q->frames.pop_front();
        q->bytes -= text.size();
        boost::system::error_code wec;
        co_await w.async_write(asio::buffer(text), asio::redirect_error(use_awaitable, wec));
        if (wec) {
          q->closed = true;
          co_return;
        }
      }
      if (q->truncated && q->frames.empty() && !ack_deadline)
        ack_deadline = asio::steady_timer::clock_type::now() + patience;
      if (ack_deadline && (q->unacked.empty() || asio::steady_timer::clock_type::now() >= *ack_deadline)) {
        boost::system::error_code wec;
        // A named local: GCC 12 mishandles temporaries in co_await expressions.
        const websocket::close_reason reason(websocket::close_code::try_again_later,
                                             "more messages are waiting: reconnect");
        co_await w.async_close(reason, asio::redirect_error(use_awaitable, wec));
        q->closed = true;
        co_return;
      }
      boost::system::error_code wec;
      q->signal.expires_at(ack_deadline ? *ack_deadline : asio::steady_timer::time_point::max());
      co_await q->signal.async_wait(asio::redirect_error(use_awaitable, wec));
    }
  };
  // Reader: takes acks (and answers bad frames) until the client goes or the stream closes.
  auto reader = [&]() -> awaitable<void> {
    beast::flat_buffer buffer;
    while (!queue->closed) {
      buffer.clear();
      co_await ws.async_read(buffer, asio::redirect_error(use_awaitable, ec));
      if (ec || !running_) break;
      std::string error_frame;
      if (auto id = api::parse_stream_frame(beast::buffers_to_string(buffer.data()), error_frame)) {
        node_.ack(*id);
        if (queue->unacked.erase(id->to_hex()) && queue->unacked.empty()) queue->wake();
        continue;
      }
      push(std::move(error_frame), {});
    }
    end_subscription(*conn);
    queue->closed = true;
    queue->wake();  // the writer sees `closed` and ends
  };
  // The session owns both halves: it ends when both have (an exception in one cancels the other
  // and reaches the session's supervisor, which closes the connection). Nothing outlives it.
  co_await (reader() && writer(queue, conn, timeout()));
}

awaitable<void> ApiServer::Impl::accept_loop() {
  auto self = shared_from_this();
  bool exhausted = false;  // warned about EMFILE/ENFILE once; quiet until an accept succeeds
  while (running_) {
    tcp::socket socket(node_.executor());
    boost::system::error_code ec;
    co_await acceptor_.async_accept(socket, asio::redirect_error(use_awaitable, ec));
    if (!running_) break;
    if (resource_exhausted(ec)) {
      // Out of descriptors: accepting again at once would spin. Wait, then retry.
      if (!exhausted)
        spdlog::warn("api: cannot accept a connection ({}); retrying every 100 ms", ec.message());
      exhausted = true;
      backoff_.expires_after(std::chrono::milliseconds(100));
      co_await backoff_.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    if (ec) continue;
    if (exhausted) spdlog::info("api: accepting connections again");
    exhausted = false;
    if (connections_.size() >= config().api_max_connections) {
      spdlog::debug("api: {} connections open (api_max_connections); closing a new one", connections_.size());
      socket.close(ec);
      continue;
    }
    start_session(std::make_shared<Connection>(std::move(socket)));
  }
}

ApiServer::ApiServer(Node& node, std::string token) : impl_(std::make_shared<Impl>(node, std::move(token))) {}
ApiServer::~ApiServer() {
  stop();
}

std::error_code ApiServer::start(const std::string& listen) {
  std::string host;
  std::uint16_t port = 0;
  if (!parse_address(listen, host, port)) return Errc::invalid_argument;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Errc::invalid_argument;
  tcp::endpoint endpoint(address, port);
  impl_->acceptor_.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor_.bind(endpoint, ec);
  if (!ec) impl_->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::error_code(ec.value(), std::system_category());
  if (!is_loopback(host))
    spdlog::warn(
        "api_listen {} is not a loopback address: the API is reachable from the network, guarded "
        "only by its bearer token (plain HTTP)",
        listen);
  impl_->running_ = true;
  impl_->node_.on_file_event([weak = std::weak_ptr<Impl>(impl_)](const FileTransferView& f) {
    auto self = weak.lock();
    if (!self || self->file_listeners_.empty()) return;
    const auto text = api::file_event_text(f);
    for (auto& [conn, listener] : self->file_listeners_) listener(text);
  });
  asio::co_spawn(impl_->node_.executor(), impl_->accept_loop(),
                 [](std::exception_ptr e) { log_failure("api: accept loop", e); });
  return {};
}

void ApiServer::stop() {
  auto& impl = *impl_;
  if (!impl.running_) return;
  impl.running_ = false;
  boost::system::error_code ec;
  impl.acceptor_.close(ec);
  impl.backoff_.cancel();
  impl.node_.on_file_event(nullptr);
  impl.file_listeners_.clear();
  // Sessions end when they resume; the node must not call into them (or they into it) after this.
  for (const auto& conn : impl.connections_) {
    if (conn->subscription != 0) impl.node_.unsubscribe(conn->subscription);
    conn->subscription = 0;
    conn->close();
  }
}

std::uint16_t ApiServer::port() const {
  boost::system::error_code ec;
  auto endpoint = impl_->acceptor_.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

std::size_t ApiServer::connections() const {
  return impl_->connections_.size();
}

std::string load_or_create_api_token(const std::string& data_dir) {
  auto path = std::filesystem::path(data_dir) / "api.token";
  {
    std::ifstream in(path);
    std::string token;
    if (in && std::getline(in, token) && !token.empty()) return token;
  }
  std::array<std::uint8_t, 24> raw{};
  randombytes_buf(raw.data(), raw.size());
  std::string token = to_hex(raw);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd >= 0) {
    auto line = token + "\n";
    [[maybe_unused]] auto n = ::write(fd, line.data(), line.size());
    ::fsync(fd);
    ::close(fd);
  }
  return token;
}

}  // namespace hyphae
