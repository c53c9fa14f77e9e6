// PeerConnection: a WebRTC data-channel session with a browser or another node: ICE (libnice,
// trickle, controlling when we offer), DTLS 1.2 (OpenSSL, fingerprints from the SDP), SCTP
// (usrsctp) and DCEP channels on top, interoperable with Chromium's RTCPeerConnection. Signaling
// is the caller's: it carries our SDP and trickled candidates to the peer and the peer's back.
// The protocol work runs on the process's webrtc Runtime thread; every event reaches the caller
// through the Poster it gave (an executor, a strand, a queue), never on the caller's own stack;
// none starts after close() returns (one already running on another thread may still finish:
// close from the executor's thread to rule that out). Remote input (SDP, candidates, packets) is parsed with
// bounds and never throws or crashes; queues are bounded: remote candidates before the description, channels,
// messages we send (Errc::backpressure) and messages received but not yet delivered (past the bound we stop
// reading, so SCTP flow control slows the peer). Thread-safety: every method may be called from any thread
// (each runs on the Runtime thread and waits for it). Ownership: the caller owns the PeerConnection;
// destroying it closes it.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"

namespace hyphae::webrtc {

// Runs a task somewhere the caller chooses, later: boost::asio::post on an executor, a queue.
using Poster = std::function<void(std::function<void()>)>;

using ChannelId = std::uint32_t;  // ours, not the SCTP stream id; never reused in a connection

struct PeerConnectionConfig {
  std::string stun_server;     // "IP:port" (an IP literal, [IPv6]:port), empty for none
  std::uint16_t port_min = 0;  // UDP ports for host candidates; 0 and 0 for any
  std::uint16_t port_max = 0;
  // IP literals to gather host candidates on ("127.0.0.1" for tests); empty for every interface.
  std::vector<std::string> interface_addresses;
  std::size_t max_message_size = 262144;         // we receive (and announce) at most this
  std::size_t max_buffered_bytes = 16 << 20;     // our send queue, all channels together
  std::size_t max_undelivered_bytes = 16 << 20;  // received, posted, not yet run
  std::size_t buffered_amount_low = 0;           // on_buffered_amount_low fires at or below this
  std::size_t max_channels = 256;
  std::size_t max_remote_candidates = 64;            // in the description and trickled, together
  std::chrono::milliseconds connect_timeout{30000};  // description to SCTP up, else failed
};

enum class ConnectionState { new_, connecting, connected, failed, closed };

struct ChannelInfo {
  ChannelId id = 0;
  std::uint16_t stream = 0;
  std::string label;
  std::string protocol;
  bool ordered = true;
  std::optional<std::uint16_t> max_retransmits;
  std::optional<std::uint16_t> max_packet_life_time_ms;
  bool remote = false;  // opened by the peer
};

struct PeerConnectionCallbacks {
  // "candidate:..." (the RTCIceCandidate.candidate form), to trickle to the peer with mid "0".
  std::function<void(std::string candidate)> on_local_candidate;
  std::function<void()> on_end_of_candidates;
  std::function<void(ConnectionState)> on_state;
  // A channel is open: ours once the peer acknowledged it, the peer's as soon as it asked.
  std::function<void(const ChannelInfo&)> on_channel_open;
  std::function<void(ChannelId, Bytes message, bool binary)> on_message;
  std::function<void(ChannelId)> on_channel_close;
  std::function<void(ChannelId)> on_buffered_amount_low;
};

class PeerConnection {
 public:
  // Errc::invalid_argument for a bad STUN server, interface address or port range, or a missing
  // poster.
  static std::expected<std::unique_ptr<PeerConnection>, std::error_code> create(
      PeerConnectionConfig config, PeerConnectionCallbacks callbacks, Poster poster);
  ~PeerConnection();
  PeerConnection(const PeerConnection&) = delete;
  PeerConnection& operator=(const PeerConnection&) = delete;

  // Our offer (a=setup:actpass, no candidates: they trickle). Starts gathering.
  // Errc::invalid_argument when a description was already made or accepted.
  std::expected<std::string, std::error_code> create_offer();
  // The peer's offer in, our answer out (a=setup:active). Starts gathering.
  // parse_sdp's errors; Errc::invalid_argument when a description was already made.
  std::expected<std::string, std::error_code> accept_offer(std::string_view offer);
  // The peer's answer to our offer. parse_sdp's errors; Errc::malformed for an answer that says
  // actpass; Errc::invalid_argument when we made no offer or already took an answer.
  std::expected<void, std::error_code> accept_answer(std::string_view answer);
  // A trickled candidate: "candidate:..." or "a=candidate:..."; "" or "a=end-of-candidates" for
  // the end. Kept until the remote description arrives. Errc::malformed for a line that is not
  // a candidate; Errc::unsupported for TCP and mDNS host-name candidates (ignored);
  // Errc::backpressure past max_remote_candidates.
  std::expected<void, std::error_code> add_remote_candidate(std::string_view line);

  // A channel negotiated in-band (DCEP); it opens when the peer acknowledges it, after the
  // connection is up. Errc::too_large past max_channels; Errc::closed after close or failure.
  std::expected<ChannelId, std::error_code> open_channel(std::string label, std::string protocol = {},
                                                         bool ordered = true,
                                                         std::optional<std::uint16_t> max_retransmits = {});
  // One message. Errc::not_found for a channel that is not open; Errc::too_large over the
  // peer's max-message-size; Errc::backpressure when the send queue is full.
  std::expected<void, std::error_code> send(ChannelId channel, ByteView message, bool binary = true);
  // Bytes queued for the channel that SCTP has not taken yet (its socket buffer not counted).
  std::size_t buffered_amount(ChannelId channel) const;
  // Stops (true) or resumes (false) reading from the SCTP association, on top of the bound on
  // undelivered messages: the caller's own queue is full, so SCTP flow control holds the peer back.
  void set_receive_paused(bool paused);
  // Closes one channel (SCTP stream reset); on_channel_close follows when the peer answered.
  void close_channel(ChannelId channel);
  // Ends everything at once (SCTP ABORT, DTLS close_notify); no callback starts after it returns.
  void close();

  ConnectionState state() const;

  class Impl;

 private:
  explicit PeerConnection(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace hyphae::webrtc
