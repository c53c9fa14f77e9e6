// SignalClient: sign-in, rooms, reconnection and the send queue (see the header).
#include "signaling/signal_client.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>

#include "core/error.hpp"
#include "core/identity.hpp"
#include "signaling/signal_core.hpp"
#include "util/json_util.hpp"

namespace hyphae::signaling {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::use_awaitable;

namespace {
constexpr std::size_t kMaxQueued = 256;
constexpr std::size_t kMaxIncoming = 64 * 1024;

// Built outside the coroutines: GCC 12 rejects braced JSON with string literals inside one.
nlohmann::json auth_message(std::string signature) {
  return {{"type", "AUTH"}, {"signature", std::move(signature)}};
}
nlohmann::json join_message(const std::string& room, const nlohmann::json& capabilities) {
  return {{"type", "JOIN"}, {"room", room}, {"capabilities", capabilities}};
}
}  // namespace

struct SignalClient::State : std::enable_shared_from_this<SignalClient::State> {
  State(Strand s, const Identity& id, SignalClientOptions o, SignalClientCallbacks c,
        std::shared_ptr<spdlog::logger> l)
      : strand(std::move(s)),
        identity(id),
        options(std::move(o)),
        callbacks(std::move(c)),
        log(std::move(l)),
        wake(strand),
        pace_timer(strand),
        backoff_timer(strand) {}

  Strand strand;
  const Identity& identity;
  SignalClientOptions options;
  SignalClientCallbacks callbacks;
  std::shared_ptr<spdlog::logger> log;
  asio::steady_timer wake;           // the writer sleeps on it while nothing is queued
  asio::steady_timer pace_timer;     // the writer waits on it when it is over its pace
  asio::steady_timer backoff_timer;  // between connection attempts
  double tokens = 0;                 // the writer's pace (a token bucket), refilled from paced_at
  std::chrono::steady_clock::time_point paced_at{};
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws;
  std::deque<std::string> outbox;
  bool running = false, ready = false;
  std::uint64_t generation = 0;  // one per connection: a writer of an older one stops
  std::uint64_t connects = 0, sign_ins = 0, failures = 0, sent = 0, received = 0, paced = 0;
  std::string last_error;

  void close_socket() {
    if (!ws) return;
    beast::error_code ignored;
    beast::get_lowest_layer(*ws).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(*ws).socket().close(ignored);
  }

  // The AUTH signature (base64) over the CHALLENGE's nonce and this device's id. (Kept out of the
  // coroutine: GCC 12 cannot keep a std::array from a call in a coroutine frame.)
  std::string signed_challenge(const nlohmann::json& challenge) const {
    const auto nonce = challenge.value("nonce", std::string());
    const auto text = SignalCore::challenge_message(nonce, identity.peer_id().to_string());
    const auto signature =
        identity.sign(ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    return base64_encode(ByteView(signature.data(), signature.size()));
  }

  asio::awaitable<void> write_now(const nlohmann::json& message) {
    co_await ws->async_write(asio::buffer(message.dump()), use_awaitable);
    ++sent;
  }

  // Refills the bucket; how long until the next message may go (zero: now).
  std::chrono::microseconds pace() {
    const auto now = std::chrono::steady_clock::now();
    const double rate = std::max(options.messages_per_second, 0.1);
    const double elapsed = std::chrono::duration<double>(now - paced_at).count();
    tokens = std::min(std::max(options.burst, 1.0), tokens + elapsed * rate);
    paced_at = now;
    if (tokens >= 1) return std::chrono::microseconds(0);
    return std::chrono::microseconds(static_cast<std::int64_t>((1 - tokens) / rate * 1e6) + 1);
  }

  static asio::awaitable<void> writer(std::shared_ptr<State> self, std::uint64_t generation) {
    while (self->running && self->generation == generation) {
      if (self->outbox.empty()) {
        self->wake.expires_at(asio::steady_timer::time_point::max());
        boost::system::error_code ec;
        co_await self->wake.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      if (const auto wait = self->pace(); wait.count() > 0) {
        ++self->paced;
        self->pace_timer.expires_after(wait);
        boost::system::error_code ec;
        co_await self->pace_timer.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      self->tokens -= 1;
      const std::string text = std::move(self->outbox.front());
      self->outbox.pop_front();
      boost::system::error_code ec;
      co_await self->ws->async_write(asio::buffer(text), asio::redirect_error(use_awaitable, ec));
      if (self->generation != generation) co_return;
      if (ec) {
        self->close_socket();  // the reader sees it and reconnects
        co_return;
      }
      ++self->sent;
    }
  }

  // One connection, from connect to its end. Throws on any failure.
  asio::awaitable<void> session() {
    ws = std::make_unique<websocket::stream<beast::tcp_stream>>(strand);
    auto& tcp = beast::get_lowest_layer(*ws);
    asio::ip::tcp::resolver resolver(strand);
    auto endpoints =
        co_await resolver.async_resolve(options.host, std::to_string(options.port), use_awaitable);
    tcp.expires_after(std::chrono::milliseconds(options.connect_timeout_ms));
    co_await tcp.async_connect(endpoints, use_awaitable);
    ++connects;
    tcp.socket().set_option(asio::ip::tcp::no_delay(true));
    ws->read_message_max(kMaxIncoming);
    ws->set_option(websocket::stream_base::decorator(
        [](websocket::request_type& r) { r.set(beast::http::field::user_agent, "hyphae"); }));
    const bool v6 = options.host.find(':') != std::string::npos;
    const std::string host =
        (v6 ? "[" + options.host + "]" : options.host) + ":" + std::to_string(options.port);
    co_await ws->async_handshake(host, "/" + identity.peer_id().to_string(), use_awaitable);
    tcp.expires_never();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(10);
    timeouts.idle_timeout = std::chrono::seconds(60);  // a ping at half of it; no answer: closed
    timeouts.keep_alive_pings = true;
    ws->set_option(timeouts);

    beast::flat_buffer buffer;
    for (;;) {
      buffer.clear();
      co_await ws->async_read(buffer, use_awaitable);
      if (!ws->got_text()) throw std::runtime_error("a binary message from the signaling server");
      auto message = nlohmann::json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
      if (!message.is_object() || !message.contains("type") || !message["type"].is_string())
        throw std::runtime_error("a message that is not a typed JSON object");
      ++received;
      const auto type = message["type"].get<std::string>();
      if (ready) {
        if (running && callbacks.on_message) callbacks.on_message(message);
        continue;
      }
      if (type == "CHALLENGE") {
        co_await write_now(auth_message(signed_challenge(message)));
      } else if (type == "AUTHENTICATED") {
        for (const auto& room : options.rooms) co_await write_now(join_message(room, options.capabilities));
        ready = true;
        ++sign_ins;
        // The server counts the sign-in and the joins against this connection's rate too.
        tokens = std::max(0.0, options.burst - 1 - static_cast<double>(options.rooms.size()));
        paced_at = std::chrono::steady_clock::now();
        last_error.clear();
        log->info("signaling: signed in at {}:{}", options.host, options.port);
        asio::co_spawn(strand, writer(shared_from_this(), generation), asio::detached);
        if (running && callbacks.on_ready) callbacks.on_ready();
      } else if (type == "ERROR") {
        throw std::runtime_error("refused: " + message.value("error", std::string("?")));
      }
    }
  }

  static asio::awaitable<void> run(std::shared_ptr<State> self) {
    std::uint64_t backoff = self->options.reconnect_min_ms;
    while (self->running) {
      std::string why;
      try {
        co_await self->session();
      } catch (const boost::system::system_error& e) {
        why = e.code() == websocket::error::closed ? "closed by the server" : e.code().message();
      } catch (const std::exception& e) {
        why = e.what();
      }
      const bool was_ready = self->ready;
      self->ready = false;
      ++self->generation;
      self->outbox.clear();
      self->close_socket();
      self->wake.cancel();
      self->pace_timer.cancel();
      if (!self->running) co_return;
      ++self->failures;
      self->last_error = why;
      if (was_ready) {
        backoff = self->options.reconnect_min_ms;  // it worked: come back quickly
        self->log->warn("signaling: connection to {}:{} lost: {}", self->options.host, self->options.port,
                        why);
        if (self->callbacks.on_down) self->callbacks.on_down(why);
      } else {
        self->log->debug("signaling: cannot sign in at {}:{}: {}", self->options.host, self->options.port,
                         why);
      }
      self->backoff_timer.expires_after(std::chrono::milliseconds(backoff));
      boost::system::error_code ec;
      co_await self->backoff_timer.async_wait(asio::redirect_error(use_awaitable, ec));
      backoff = std::min(backoff * 2, self->options.reconnect_max_ms);
    }
  }
};

SignalClient::SignalClient(Strand strand, const Identity& identity, SignalClientOptions options,
                           SignalClientCallbacks callbacks, std::shared_ptr<spdlog::logger> log)
    : state_(std::make_shared<State>(std::move(strand), identity, std::move(options), std::move(callbacks),
                                     std::move(log))) {}

SignalClient::~SignalClient() {
  stop();
}

void SignalClient::start() {
  if (state_->running) return;
  state_->running = true;
  asio::co_spawn(state_->strand, State::run(state_), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("signaling client coroutine failed: {}", ex.what());
    }
  });
}

void SignalClient::stop() {
  if (!state_->running) return;
  state_->running = false;
  state_->ready = false;
  state_->close_socket();
  state_->wake.cancel();
  state_->pace_timer.cancel();
  state_->backoff_timer.cancel();
}

bool SignalClient::ready() const {
  return state_->ready;
}

std::error_code SignalClient::send(std::string_view type, const PeerId& to, nlohmann::json payload) {
  if (!state_->ready) return Errc::no_link;
  if (state_->outbox.size() >= kMaxQueued) return Errc::backpressure;
  nlohmann::json message{{"type", type}, {"to", to.to_string()}, {"payload", std::move(payload)}};
  state_->outbox.push_back(message.dump());
  state_->wake.cancel();
  return {};
}

nlohmann::json SignalClient::status_json() const {
  const auto& s = *state_;
  return {{"server", s.options.host + ":" + std::to_string(s.options.port)},
          {"signed_in", s.ready},
          {"rooms", s.options.rooms},
          {"connects", s.connects},
          {"sign_ins", s.sign_ins},
          {"failures", s.failures},
          {"sent", s.sent},
          {"received", s.received},
          {"queued", s.outbox.size()},
          {"paced", s.paced},
          {"last_error", s.last_error}};
}

}  // namespace hyphae::signaling
