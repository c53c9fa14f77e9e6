// HtxSession: one end of an HTX link, sans-IO. It runs the inner Noise XK handshake
// (Noise_XK_25519_ChaChaPoly_SHA256: the client knows the server's static key in advance; the
// server learns the client's) with the outer TLS connection's exporter value as the Noise prologue,
// so the inner session is bound to that TLS connection. Handshake messages travel with a 2-byte
// length prefix. Then frames (htx_frame.hpp): streams (client-opened ids odd, server-opened even)
// starting with a 65 535-byte window each, raised by WINDOW_UPDATE to the receiver's
// receive_window and topped up once half of it is consumed, PING at jittered
// intervals (10 to 60 s, never periodic), KEY_UPDATE per direction, CLOSE.
//
// Keys: each side derives its two directions' 32-byte keys from the Noise transport keys as
// ENCRYPT(k, nonce 2^64-2, ad "htx inner v1", 32 zero bytes) truncated to 32 bytes (a PRF of
// the secret key, as Noise's own REKEY is); the handshake hash salts every KEY_UPDATE.
// Bounds: at most max_streams open streams (more are refused with CLOSE), frames up to
// max_frame_payload bytes, unread input up to one frame; any violation ends the session with
// the reason (the caller closes the connection).
// Thread-safety: none (one owner, e.g. a link's strand). Ownership: owns its keys.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "betanet/htx/htx_frame.hpp"
#include "crypto/noise/noise.hpp"

namespace hyphae::htx {

struct HtxOptions {
  std::uint32_t initial_window = 65'535;  // every stream's window at its start, both ways
  // What this side lets the peer have in flight per stream: on a stream's first data it grants
  // the difference at once with a WINDOW_UPDATE (as HTTP/2 receivers do), then tops it up once
  // half is consumed. 64 KiB in flight limits a loopback link to a few hundred MB/s.
  std::uint32_t receive_window = 1 << 20;
  std::size_t max_streams = 64;
  std::size_t max_frame_payload = 16'384;
  std::uint64_t ping_min_ms = 10'000, ping_max_ms = 60'000;
};

struct HtxEvent {
  enum class Kind { established, data, stream_closed, pong };
  Kind kind;
  std::uint64_t stream = 0;
  Bytes data;
};

struct HtxCounters {
  std::uint64_t frames_in = 0, frames_out = 0, key_updates_in = 0, key_updates_out = 0, pings_out = 0,
                window_updates_out = 0, streams_refused = 0;
};

class HtxSession {
 public:
  // The client knows the server's static key; `binding` is the TLS exporter value.
  static HtxSession client(const noise::KeyPair& local, const std::array<std::uint8_t, 32>& server_static,
                           ByteView binding, HtxOptions options = {}, std::uint64_t rng_seed = 0);
  static HtxSession server(const noise::KeyPair& local, ByteView binding, HtxOptions options = {},
                           std::uint64_t rng_seed = 0);
  HtxSession(HtxSession&&) noexcept;
  HtxSession& operator=(HtxSession&&) noexcept;
  ~HtxSession();

  // The client's first handshake message (empty for a server).
  Bytes start(std::uint64_t now_ms);
  // Feeds received bytes; appends what must be sent to `out` and returns what happened. A
  // protocol violation returns an error (the session is dead; close the connection).
  std::expected<std::vector<HtxEvent>, std::string> on_bytes(ByteView in, std::uint64_t now_ms, Bytes& out);
  // Sends on a stream (opening it if new and ours to open): the number of bytes the window took
  // now (the rest must wait for a WINDOW_UPDATE, seen as a larger send_window()).
  std::expected<std::size_t, std::string> send(std::uint64_t stream, ByteView data, std::uint64_t now_ms,
                                               Bytes& out);
  std::uint64_t open_stream();
  void close_stream(std::uint64_t stream, std::uint64_t now_ms, Bytes& out);
  // Pings when due and key updates that are due by time; call at next_wakeup().
  void tick(std::uint64_t now_ms, Bytes& out);
  std::optional<std::uint64_t> next_wakeup() const;

  bool established() const;
  std::uint32_t send_window(std::uint64_t stream) const;
  // The peer's static key (a server learns it in the handshake's last message).
  std::optional<std::array<std::uint8_t, 32>> remote_static() const;
  std::uint32_t send_generation() const;
  const HtxCounters& counters() const;

 private:
  struct State;
  explicit HtxSession(std::unique_ptr<State> s);
  static std::unique_ptr<State> make(bool client, const noise::KeyPair& local,
                                     const std::optional<std::array<std::uint8_t, 32>>& server_static,
                                     ByteView binding, const HtxOptions& options, std::uint64_t rng_seed);
  std::unique_ptr<State> s_;
};

}  // namespace hyphae::htx
