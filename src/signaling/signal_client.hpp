// SignalClient: a node's connection to a `hyphae signal` server (its plain WebSocket front end,
// docs/signaling.md). It connects to ws://host:port/{PeerId}, answers the CHALLENGE with the
// node's Ed25519 signature, joins its rooms and then passes messages both ways; when the
// connection drops it reconnects with exponential backoff (250 ms doubling to 5 s) and joins
// again. What it forwards is the caller's business (the WebRTC transport's offers, answers and
// candidates); the server only relays it.
// Bounds: at most 256 unsent messages (send() refuses more with Errc::backpressure); incoming
// messages over 64 KiB close the connection (the server never sends them). The writer paces
// itself (messages_per_second, burst) below the server's own limit, which closes a connection
// that goes far over it: a burst of queued candidates waits instead of costing the connection.
// Thread-safety: everything runs on the strand it was given; callbacks are called there.
// Ownership: owned by its user; stop() (or the destructor) ends the coroutines, which keep only a
// weak reference to the client's state.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "core/peer_id.hpp"

namespace spdlog {
class logger;
}

namespace hyphae {
class Identity;
}

namespace hyphae::signaling {

struct SignalClientOptions {
  std::string host;  // the server, as in ws://host:port
  std::uint16_t port = 0;
  std::vector<std::string> rooms;                          // joined after each sign-in
  nlohmann::json capabilities = nlohmann::json::object();  // sent with every JOIN
  std::uint64_t reconnect_min_ms = 250, reconnect_max_ms = 5000;
  std::uint64_t connect_timeout_ms = 5000;
  // The writer's pace: under `hyphae signal`'s defaults (50/s, burst 100).
  double messages_per_second = 40, burst = 80;
};

struct SignalClientCallbacks {
  std::function<void()> on_ready;                         // signed in (again); rooms joined
  std::function<void(const nlohmann::json&)> on_message;  // every message after sign-in
  std::function<void(const std::string&)> on_down;        // the connection ended, with why
};

class SignalClient {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  SignalClient(Strand strand, const Identity& identity, SignalClientOptions options,
               SignalClientCallbacks callbacks, std::shared_ptr<spdlog::logger> log);
  ~SignalClient();
  SignalClient(const SignalClient&) = delete;
  SignalClient& operator=(const SignalClient&) = delete;

  void start();
  void stop();
  // Signed in and able to send.
  bool ready() const;
  // Queues {"type", "to", "payload"}: Errc::no_link when not signed in, Errc::backpressure when
  // 256 messages wait already.
  std::error_code send(std::string_view type, const PeerId& to, nlohmann::json payload);
  nlohmann::json status_json() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace hyphae::signaling
