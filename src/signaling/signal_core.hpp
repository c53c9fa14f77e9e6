// SignalCore: the signaling server's logic without sockets. Devices connect, prove their PeerId,
// join rooms and pass WebRTC offers, answers, ICE candidates and relay requests to each other;
// their contents are forwarded opaquely.
//
// A connection starts unauthenticated with a claimed device id (a PeerId). The core sends it a
// random challenge; the device answers with an Ed25519 signature, by the key inside its PeerId, over
// "hyphae-signal-v1" || challenge || device id. Until that verifies it can do nothing else and
// nothing is addressed to it. A newer authenticated connection of the same device replaces the
// older one (which is closed).
//
// Messages in and out are JSON objects with a "type" (docs/signaling.md):
//   in:  AUTH {signature}, JOIN {room, capabilities}, LEAVE {room}, OFFER | ANSWER | ICE_CANDIDATE |
//        RELAY_REQUEST {to, payload}, PING
//   out: CHALLENGE {nonce, deviceId}, AUTHENTICATED, ROOM {room, members}, PEER_JOINED / PEER_LEFT
//        {room, deviceId, capabilities}, OFFER ... {from, payload}, ERROR {error}, PONG
// Both front ends (the plain WebSocket and Socket.IO) map onto these.
//
// Bounds: connections (max_connections; more are refused), rooms per device, members per room,
// message size, and a per-connection message rate (over it: ERROR and, past twice the burst,
// close). Thread-safety: none (the server's strand). Ownership: values.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/peer_id.hpp"

namespace hyphae::signaling {

inline constexpr std::string_view kChallengeDomain = "hyphae-signal-v1";

struct SignalOptions {
  std::size_t max_connections = 10'000;
  std::size_t max_rooms_per_device = 16;
  std::size_t max_members_per_room = 256;
  std::size_t max_message_bytes = 64 * 1024;
  std::size_t max_capabilities_bytes = 4096;
  double messages_per_second = 50;
  double burst = 100;
};

struct SignalCounters {
  std::uint64_t connections = 0, authenticated = 0, auth_failures = 0, forwarded = 0, undeliverable = 0,
                rate_limited = 0, malformed = 0, refused_connections = 0;
};

class SignalCore {
 public:
  using ConnId = std::uint64_t;
  struct Output {
    ConnId to;
    nlohmann::json message;
  };
  struct Close {
    ConnId conn;
    std::string reason;
  };
  struct Actions {
    std::vector<Output> send;
    std::vector<Close> close;
  };

  explicit SignalCore(SignalOptions options = {}) : options_(options) {}

  // A new connection claiming `device_id` (the path of the WebSocket, or Socket.IO's auth). A bad
  // PeerId or a full server closes it at once.
  Actions connected(ConnId conn, std::string_view device_id, std::uint64_t now_ms);
  // One message (a JSON text) from the connection.
  Actions received(ConnId conn, std::string_view text, std::uint64_t now_ms);
  // The connection is gone: its rooms learn that it left.
  Actions disconnected(ConnId conn);

  const SignalCounters& counters() const { return counters_; }
  std::size_t connections() const { return conns_.size(); }
  std::size_t rooms() const { return rooms_.size(); }
  // The challenge a connection must sign (tests and the Socket.IO front end read it).
  std::optional<std::string> challenge_of(ConnId conn) const;
  static std::string challenge_message(std::string_view nonce_base64, std::string_view device_id);

 private:
  struct Conn {
    std::string device;  // the claimed PeerId (text)
    std::string nonce;   // base64
    bool authenticated = false;
    bool closing = false;  // a close was asked for: later input is ignored
    std::set<std::string> rooms;
    nlohmann::json capabilities = nlohmann::json::object();
    double tokens = 0;
    std::uint64_t at_ms = 0;
  };
  static nlohmann::json error(std::string text, std::string ref = {});
  Actions handle(ConnId conn, std::string_view text, std::uint64_t now_ms);
  void leave(ConnId conn, Conn& c, const std::string& room, Actions& out);
  bool take_token(Conn& c, std::uint64_t now_ms);

  SignalOptions options_;
  SignalCounters counters_;
  std::unordered_map<ConnId, Conn> conns_;
  std::unordered_map<std::string, ConnId> devices_;  // authenticated device -> its connection
  std::map<std::string, std::set<ConnId>> rooms_;    // room -> members
};

}  // namespace hyphae::signaling
