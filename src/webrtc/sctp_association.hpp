// SctpAssociation: one SCTP association (usrsctp, AF_CONN) over a DTLS session, as WebRTC data
// channels use it (RFC 8831, RFC 8841): port 5000 on both ends unless the SDP says otherwise,
// path MTU fixed (no PMTU discovery), stream reset enabled for closing channels, PR-SCTP for
// partially reliable ones. Whole messages go in and come out: the association reassembles
// messages usrsctp hands over in parts (bounded by max_message_size) and keeps a bounded queue
// of messages the socket could not take yet, flushed as SACKs free room.
// usrsctp calls back only through the Runtime (packets out, timers); everything else happens in
// our own calls, so the owner sees events only from inside handle_packet(), send(), connect()
// and timer ticks, inline.
// Thread-safety: none; used on the Runtime thread. Callbacks may not destroy the association.
#pragma once

#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>

#include "core/bytes.hpp"
#include "webrtc/runtime.hpp"

struct socket;

namespace hyphae::webrtc {

struct SctpConfig {
  std::uint16_t local_port = 5000;
  std::uint16_t remote_port = 5000;
  std::size_t max_message_size = 262144;    // largest message we accept (and reassemble)
  std::size_t max_queued_bytes = 16 << 20;  // our send queue, on top of the socket's buffer
  std::size_t mtu = 1200;                   // SCTP packet size; DTLS adds its record header
  std::uint16_t streams = 1024;             // we ask for this many each way
};

// How a message is sent: ordered or not; with at most max_retransmits retransmissions or
// abandoned after lifetime_ms (PR-SCTP), or fully reliable when both are empty.
struct SendOptions {
  bool ordered = true;
  std::optional<std::uint16_t> max_retransmits;
  std::optional<std::uint16_t> lifetime_ms;
};

class SctpAssociation final : public SctpEndpoint {
 public:
  struct Callbacks {
    std::function<void(ByteView)> send_packet;  // to DTLS
    std::function<void(std::uint16_t outbound_streams)> on_connected;
    std::function<void(std::uint16_t stream, std::uint32_t ppid, Bytes message)> on_message;
    // The peer reset its outgoing side of these streams (closing a channel).
    std::function<void(std::uint16_t stream)> on_incoming_reset;
    // A message on `stream` was over max_message_size and was dropped.
    std::function<void(std::uint16_t stream)> on_oversized;
    std::function<void()> on_writable;  // the send queue drained
    std::function<void(std::string)> on_closed;
  };

  static std::expected<std::unique_ptr<SctpAssociation>, std::error_code> create(
      std::shared_ptr<Runtime> runtime, const SctpConfig& config, Callbacks callbacks);
  ~SctpAssociation() override;
  SctpAssociation(const SctpAssociation&) = delete;
  SctpAssociation& operator=(const SctpAssociation&) = delete;

  // Sends INIT (both ends do; SCTP resolves the collision). Once.
  void connect();
  // A packet from DTLS.
  void handle_packet(ByteView packet);
  // Errc::closed before or after the association; Errc::too_large over the peer's limit;
  // Errc::backpressure when the queue is full; Errc::invalid_argument for a stream beyond those
  // negotiated.
  std::expected<void, std::error_code> send(std::uint16_t stream, std::uint32_t ppid, ByteView message,
                                            const SendOptions& options);
  // Resets our outgoing side of `stream` (RFC 6525), the way a channel closes, once the messages
  // queued for it went out.
  void reset_stream(std::uint16_t stream);
  // Closes the socket now: usrsctp sends ABORT (through send_packet) and nothing follows; no
  // callback runs.
  void abort();
  // The peer's a=max-message-size (0: no limit).
  void set_remote_max_message_size(std::size_t size) { remote_max_message_size_ = size; }
  // Stops and resumes taking messages out of usrsctp: while paused, the receive window closes
  // and the peer slows down.
  void set_receive_paused(bool paused);

  // Bytes waiting in our queue for `stream`, and in all.
  std::size_t queued_bytes(std::uint16_t stream) const;
  std::size_t queued_bytes() const { return queued_total_; }
  bool connected() const { return state_ == State::connected; }
  std::uint16_t outbound_streams() const { return outbound_streams_; }

  // SctpEndpoint (called by the Runtime).
  void sctp_output(const std::uint8_t* data, std::size_t size) override;
  void sctp_timers_ran() override;

 private:
  enum class State { idle, connecting, connected, closed };
  struct Pending {
    std::uint16_t stream;
    std::uint32_t ppid;
    Bytes data;
    SendOptions options;
  };
  explicit SctpAssociation(std::shared_ptr<Runtime> runtime) : runtime_(std::move(runtime)) {}
  std::expected<void, std::error_code> open_socket();
  // Reads what usrsctp has, then sends what fits; events come out of here.
  void pump();
  void drain_incoming();
  void flush_queue();
  void flush_resets();
  // 1: sent; 0: no room now; -1: dropped with an error.
  int try_send(const Pending& message);
  void handle_notification(const std::uint8_t* data, std::size_t size);
  void close_with(std::string reason);

  std::shared_ptr<Runtime> runtime_;
  SctpConfig config_;
  Callbacks callbacks_;
  struct socket* socket_ = nullptr;
  void* address_ = nullptr;
  State state_ = State::idle;
  std::uint16_t outbound_streams_ = 0;
  std::size_t remote_max_message_size_ = 65536;
  bool receive_paused_ = false;
  bool in_pump_ = false;
  std::deque<Pending> queue_;
  std::size_t queued_total_ = 0;
  std::map<std::uint16_t, std::size_t> queued_per_stream_;
  std::map<std::uint16_t, Bytes> partial_;  // reassembly, by stream
  std::map<std::uint16_t, bool> partial_oversized_;
  std::size_t partial_total_ = 0;
  std::set<std::uint16_t> pending_resets_;
  std::unique_ptr<std::uint8_t[]> read_buffer_;  // kReadChunk bytes, made on first use
};

}  // namespace hyphae::webrtc
