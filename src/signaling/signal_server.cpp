// SignalServer: Beast HTTP and WebSocket sessions on one thread, the plain and Socket.IO front ends.
#include "signaling/signal_server.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <thread>

#include "core/address.hpp"
#include "signaling/socket_io.hpp"
#include "util/json_util.hpp"

namespace hyphae::signaling {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

std::uint64_t steady_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

std::string random_sid() {
  std::array<std::uint8_t, 15> raw{};
  randombytes_buf(raw.data(), raw.size());
  auto text = base64_encode(ByteView(raw.data(), raw.size()));
  for (auto& c : text) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return text;
}

// Socket.IO event names for the core's message types, and back.
struct EventName {
  const char* event;
  const char* type;
};
constexpr EventName kEvents[] = {
    {"auth", "AUTH"},
    {"join", "JOIN"},
    {"leave", "LEAVE"},
    {"offer", "OFFER"},
    {"answer", "ANSWER"},
    {"ice-candidate", "ICE_CANDIDATE"},
    {"relay-request", "RELAY_REQUEST"},
    {"ping", "PING"},
    {"challenge", "CHALLENGE"},
    {"authenticated", "AUTHENTICATED"},
    {"room", "ROOM"},
    {"peer-joined", "PEER_JOINED"},
    {"peer-left", "PEER_LEFT"},
    {"signal-error", "ERROR"},
    {"pong", "PONG"},
};
const char* type_of_event(std::string_view event) {
  for (const auto& e : kEvents)
    if (event == e.event) return e.type;
  return nullptr;
}
const char* event_of_type(std::string_view type) {
  for (const auto& e : kEvents)
    if (type == e.type) return e.event;
  return "signal-error";
}

}  // namespace

struct SignalServer::Impl : std::enable_shared_from_this<SignalServer::Impl> {
  explicit Impl(SignalServerOptions o) : options(std::move(o)), core(options.core), acceptor(io) {}

  struct Session {
    explicit Session(tcp::socket s) : ws(std::move(s)) {}
    websocket::stream<beast::tcp_stream> ws;
    std::deque<std::string> queue;
    std::size_t queued_bytes = 0;
    bool writing = false, closing = false, socket_io = false, io_connected = false;
    std::uint64_t last_pong_ms = 0;
    std::optional<asio::steady_timer> ping_timer;
  };

  SignalServerOptions options;
  SignalCore core;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::thread worker;
  std::atomic<bool> stopped{false};
  SignalCore::ConnId next_conn = 1;
  std::unordered_map<SignalCore::ConnId, std::shared_ptr<Session>> sessions;
  static constexpr std::size_t kMaxQueuedBytes = 1 << 20;

  // ---- output
  void push(SignalCore::ConnId conn, std::string frame) {
    auto it = sessions.find(conn);
    if (it == sessions.end()) return;
    auto s = it->second;
    if (s->closing) return;
    if (s->queued_bytes + frame.size() > kMaxQueuedBytes) return close(conn, "not reading its messages");
    s->queued_bytes += frame.size();
    s->queue.push_back(std::move(frame));
    write_next(conn, s);
  }
  void write_next(SignalCore::ConnId conn, const std::shared_ptr<Session>& s) {
    if (s->writing || s->queue.empty()) return;
    s->writing = true;
    s->ws.text(true);
    s->ws.async_write(asio::buffer(s->queue.front()),
                      [this, conn, s, self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        s->writing = false;
                        s->queued_bytes -= s->queue.front().size();
                        s->queue.pop_front();
                        if (ec) return;
                        if (s->closing && s->queue.empty()) {
                          s->ws.async_close(websocket::close_code::normal, [s](boost::system::error_code) {});
                          return;
                        }
                        write_next(conn, s);
                      });
  }
  void deliver(const SignalCore::Actions& actions) {
    for (const auto& out : actions.send) {
      auto it = sessions.find(out.to);
      if (it == sessions.end()) continue;
      if (!it->second->socket_io) {
        push(out.to, out.message.dump());
        continue;
      }
      auto body = out.message;
      const auto type = body.value("type", "");
      body.erase("type");
      push(out.to, encode_socket_io_frame(
                       {2, 0, "/", std::nullopt, nlohmann::json::array({event_of_type(type), body})}));
    }
    for (const auto& c : actions.close) close(c.conn, c.reason);
  }
  void close(SignalCore::ConnId conn, const std::string& reason) {
    auto it = sessions.find(conn);
    if (it == sessions.end() || it->second->closing) return;
    auto s = it->second;
    s->closing = true;
    if (s->ping_timer) s->ping_timer->cancel();
    spdlog::debug("signal: closing connection {}: {}", conn, reason);
    if (!s->writing && s->queue.empty())
      s->ws.async_close(websocket::close_code::policy_error, [s](boost::system::error_code) {});
  }

  // ---- Socket.IO (Engine.IO v4 packets in text frames)
  void engine_ping(SignalCore::ConnId conn, std::shared_ptr<Session> s) {
    s->ping_timer->expires_after(std::chrono::milliseconds(options.engine_ping_interval_ms));
    s->ping_timer->async_wait([this, conn, s, self = shared_from_this()](boost::system::error_code ec) {
      if (ec || s->closing) return;
      if (steady_ms() > s->last_pong_ms + options.engine_ping_interval_ms + options.engine_ping_timeout_ms)
        return close(conn, "ping timeout");
      push(conn, "2");
      engine_ping(conn, s);
    });
  }
  void socket_io_packet(SignalCore::ConnId conn, const std::shared_ptr<Session>& s, std::string_view frame) {
    auto engine = parse_engine_packet(frame);
    if (!engine) return close(conn, "malformed Engine.IO packet");
    switch (engine->type) {
      case '3':
        s->last_pong_ms = steady_ms();
        return;
      case '1':
        return close(conn, "client closed");
      case '6':
        return;
      case '4':
        break;
      default:
        return close(conn, "unexpected Engine.IO packet (a client does not ping in v4)");
    }
    auto packet = parse_socket_io_packet(engine->data);
    if (!packet) return close(conn, "malformed Socket.IO packet");
    if (packet->nsp != "/") {
      SocketIoPacket refusal{4, 0, packet->nsp, std::nullopt, {{"message", "Invalid namespace"}}};
      return push(conn, encode_socket_io_frame(refusal));
    }
    if (packet->type == 0) {  // CONNECT {auth}
      if (s->io_connected) return;
      const auto& auth = packet->data;
      if (!auth.is_object() || !auth.contains("deviceId") || !auth["deviceId"].is_string()) {
        push(conn, encode_socket_io_frame(
                       {4, 0, "/", std::nullopt, {{"message", "auth.deviceId (a PeerId) is required"}}}));
        return close(conn, "no device id");
      }
      s->io_connected = true;
      push(conn, encode_socket_io_frame({0, 0, "/", std::nullopt, {{"sid", random_sid()}}}));
      return deliver(core.connected(conn, auth["deviceId"].get<std::string>(), steady_ms()));
    }
    if (!s->io_connected) return close(conn, "the first Socket.IO packet must be CONNECT");
    if (packet->type == 1) return close(conn, "client disconnected");
    if (packet->type != 2)
      return close(conn, "unsupported Socket.IO packet type (binary events are not used)");
    const char* core_type = type_of_event(packet->data[0].get<std::string>());
    nlohmann::json message =
        packet->data.size() > 1 && packet->data[1].is_object() ? packet->data[1] : nlohmann::json::object();
    message["type"] = core_type ? core_type : "UNKNOWN";
    deliver(core.received(conn, message.dump(), steady_ms()));
    if (packet->ack_id)
      push(conn,
           encode_socket_io_frame({3, 0, "/", packet->ack_id, nlohmann::json::array({{{"ok", true}}})}));
  }

  // ---- sessions
  awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8192);
    stream.expires_after(std::chrono::seconds(10));
    boost::system::error_code ec;
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    auto req = parser.release();
    const std::string target(req.target());
    if (!websocket::is_upgrade(req)) {
      http::response<http::string_body> res{target == "/health" ? http::status::ok : http::status::not_found,
                                            req.version()};
      res.set(http::field::content_type, "application/json");
      res.body() =
          target == "/health"
              ? nlohmann::json{{"ok", true}, {"connections", core.connections()}}.dump()
              : nlohmann::json{{"error", "connect a WebSocket to /{deviceId} or /socket.io/"}}.dump();
      res.prepare_payload();
      co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
      co_return;
    }
    const bool socket_io = target.starts_with("/socket.io/");
    if (socket_io && (target.find("EIO=4") == std::string::npos ||
                      target.find("transport=websocket") == std::string::npos))
      co_return;  // polling or an old protocol: only EIO=4 over WebSocket is served
    stream.expires_never();
    auto s = std::make_shared<Session>(stream.release_socket());
    s->ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    s->ws.read_message_max(options.core.max_message_bytes + 1024);
    s->socket_io = socket_io;
    co_await s->ws.async_accept(req, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    const auto conn = next_conn++;
    sessions[conn] = s;
    if (socket_io) {
      s->last_pong_ms = steady_ms();
      s->ping_timer.emplace(io);
      push(conn, "0" + nlohmann::json{{"sid", random_sid()},
                                      {"upgrades", nlohmann::json::array()},
                                      {"pingInterval", options.engine_ping_interval_ms},
                                      {"pingTimeout", options.engine_ping_timeout_ms},
                                      {"maxPayload", options.core.max_message_bytes}}
                           .dump());
      engine_ping(conn, s);
    } else {
      std::string device = target.substr(1);
      if (auto q = device.find('?'); q != std::string::npos) device.resize(q);
      deliver(core.connected(conn, device, steady_ms()));
    }
    beast::flat_buffer in;
    for (;;) {
      in.clear();
      co_await s->ws.async_read(in, asio::redirect_error(use_awaitable, ec));
      if (ec || s->closing) break;
      if (!s->ws.got_text()) {
        close(conn, "binary frames are not used");
        break;
      }
      const auto text = beast::buffers_to_string(in.data());
      if (socket_io)
        socket_io_packet(conn, s, text);
      else
        deliver(core.received(conn, text, steady_ms()));
    }
    if (s->ping_timer) s->ping_timer->cancel();
    sessions.erase(conn);
    deliver(core.disconnected(conn));
  }

  awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(io);
      co_await acceptor.async_accept(socket, asio::redirect_error(use_awaitable, ec));
      if (ec == asio::error::operation_aborted || stopped) co_return;
      if (ec) continue;
      asio::co_spawn(io, session(std::move(socket)), [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("signal connection failed: {}", ex.what());
        }
      });
    }
  }
};

SignalServer::SignalServer(SignalServerOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}

SignalServer::~SignalServer() {
  stop();
}

std::expected<void, std::string> SignalServer::start() {
  auto& i = *impl_;
  std::string host;
  std::uint16_t port = 0;
  if (!parse_address(i.options.listen, host, port))
    return std::unexpected("--listen must be host:port, not " + i.options.listen);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return std::unexpected("--listen: not an IP address: " + host);
  const tcp::endpoint endpoint(address, port);
  i.acceptor.open(endpoint.protocol(), ec);
  if (!ec) i.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(endpoint, ec);
  if (!ec) i.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected("cannot listen on " + i.options.listen + ": " + ec.message());
  asio::co_spawn(i.io, i.accept_loop(), asio::detached);
  i.worker = std::thread([self = impl_] { self->io.run(); });
  spdlog::info("signaling server on ws://{}:{}/ (plain: /{{deviceId}}, Socket.IO: /socket.io/)", host,
               this->port());
  return {};
}

std::uint16_t SignalServer::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void SignalServer::run() {
  if (impl_->worker.joinable()) impl_->worker.join();
}

void SignalServer::stop() {
  auto& i = *impl_;
  if (i.stopped.exchange(true)) return;
  asio::post(i.io, [self = impl_] {
    boost::system::error_code ec;
    self->acceptor.close(ec);
  });
  i.io.stop();
  if (i.worker.joinable() && i.worker.get_id() != std::this_thread::get_id()) i.worker.join();
}

}  // namespace hyphae::signaling
