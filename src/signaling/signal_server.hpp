// SignalServer: the `hyphae signal` process. One WebSocket server with two front ends onto one
// SignalCore (signal_core.hpp):
//   ws://host:port/{deviceId}                     JSON messages, one per text frame
//   ws://host:port/socket.io/?EIO=4&transport=websocket
//                                                 Socket.IO v4 (Engine.IO v4 over WebSocket); the
//                                                 device id comes in the CONNECT packet's auth
//   GET /health                                   {"ok": true, "connections": n}
// Everything runs on one thread (the core is single-threaded); WebSocket pings (Beast's suggested
// server timeouts) drop dead clients; a client whose unsent messages pass 1 MiB is dropped.
// Thread-safety: start(), port() and stop() from one thread; run() blocks until stop().
// Ownership: owns its thread and sockets.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>

#include "signaling/signal_core.hpp"

namespace hyphae::signaling {

struct SignalServerOptions {
  std::string listen = "127.0.0.1:8471";
  SignalOptions core;
  std::uint64_t engine_ping_interval_ms = 25'000, engine_ping_timeout_ms = 20'000;
};

class SignalServer {
 public:
  explicit SignalServer(SignalServerOptions options);
  ~SignalServer();
  std::expected<void, std::string> start();
  std::uint16_t port() const;
  void run();
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace hyphae::signaling
