// StreamLink: the coroutine adapter that drives one LinkSession over a ByteStream (a TCP socket,
// or a WebSocket). It opens the stream (TLS/WebSocket handshakes), runs the Noise handshake, reads
// and decrypts records, batches queued records into as few Noise frames and writes as the stream
// allows, and sends keepalive pings.
// Thread-safety: every member runs on the strand given at construction (the node's strand).
// Ownership: shared; the owner keeps a shared_ptr while the link is registered, and the running
// coroutines hold one too, so a link lives until both let go.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "transport/close_reason.hpp"
#include "transport/stream/byte_stream.hpp"
#include "transport/stream/datagram_sealer.hpp"
#include "transport/stream/link_session.hpp"

namespace hyphae::mesh {

// The secure channel and its records (src/transport/stream/): the layer every stream transport shares.
using stream::LinkLimits;
using stream::LinkSession;
using stream::Record;
using stream::RecordType;

class StreamLink;

// The node side of a link's events. Called on the strand.
class LinkOwner {
 public:
  virtual ~LinkOwner() = default;
  virtual void on_link_up(const std::shared_ptr<StreamLink>& link) = 0;
  virtual void on_link_record(const std::shared_ptr<StreamLink>& link, const Record& record) = 0;
  // The link is gone (or never came up, when `was_up` is false). `reason` says why.
  virtual void on_link_down(const std::shared_ptr<StreamLink>& link, bool was_up,
                            const transport::CloseReason& reason) = 0;
  // Everything queued so far has been written to the socket: a good moment to queue more.
  virtual void on_link_drained(const std::shared_ptr<StreamLink>& link) {}
};

inline constexpr std::size_t kPingTokenSize = 8;

struct StreamLinkOptions {
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds keepalive_interval{15000};
  // Plaintext queued for a peer that does not read, beyond which the link is closed (0: no cap).
  // The node's own sends stop well before it (back-pressure); what reaches it is a peer that makes
  // us answer (acks, pongs) while never reading.
  std::size_t max_backlog_bytes = 0;
  LinkLimits limits;
  std::uint64_t session_id = 0;  // the link's id (transport::SessionInfo::id), never 0
};

struct LinkCounters {
  std::uint64_t bytes_in = 0, bytes_out = 0, records_in = 0, records_out = 0, writes = 0;
  // Records over the stream's datagram path (a WebRTC link's partially reliable channel), and
  // datagrams dropped there (forged, damaged, replayed, or not a record).
  std::uint64_t datagrams_out = 0, datagrams_in = 0, datagrams_dropped = 0;
};

class StreamLink : public std::enable_shared_from_this<StreamLink> {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;

  StreamLink(Strand strand, std::unique_ptr<stream::ByteStream> stream, LinkOwner& owner,
             const Identity& identity, const noise::KeyPair& noise_static, bool initiator,
             std::optional<PeerId> expected_remote, StreamLinkOptions options);
  ~StreamLink();

  // Opens the stream, then starts the handshake and read loop (spawned on the strand).
  void start();
  // Closes the socket; on_link_down follows once. Safe to call more than once.
  void close(transport::CloseReason reason);

  bool established() const { return session_.established(); }
  bool closing() const { return closed_; }  // close() ran or the socket failed
  bool initiator() const { return initiator_; }
  const PeerId& remote() const { return session_.remote(); }
  const std::string& remote_address() const { return stream_->remote_address(); }
  std::string_view stream_kind() const { return stream_->kind(); }
  std::uint64_t id() const { return id_; }
  std::chrono::steady_clock::time_point since() const { return since_; }
  const LinkCounters& counters() const { return counters_; }
  // Plaintext queued but not yet handed to the socket, plus bytes in the write in flight.
  std::size_t backlog_bytes() const { return session_.pending_bytes() + (writing_ ? wire_.size() : 0); }

  // Stops reading from the socket (flow control: TCP holds the peer back) until resumed. Records of
  // a read already under way still arrive. While paused the keepalive does not count the silence.
  void set_receive_paused(bool paused);
  bool receive_paused() const { return receive_paused_; }

  // Queues a record; the write happens after the current handler returns, batched with others.
  void send(RecordType type, ByteView body);
  // Queues a record whose body the caller appends to the returned buffer (exactly body_size bytes).
  Bytes& send_in_place(RecordType type, std::size_t body_size);
  // Sends a record over the stream's datagram path, sealed (datagram_sealer.hpp): it may be lost,
  // never reordered. False when the link has no such path open, or the record does not fit one
  // datagram; then the caller sends it on the stream.
  bool send_datagram(RecordType type, ByteView body);
  // A datagram from the stream's datagram path.
  void on_datagram(ByteView datagram);

 private:
  struct Coroutines;  // the awaitable bodies live in the .cpp
  void schedule_flush();
  bool over_backlog(std::size_t more);  // closes the link when queuing `more` would pass the cap
  void finish(const transport::CloseReason& reason);

  Strand strand_;
  std::unique_ptr<stream::ByteStream> stream_;
  boost::asio::steady_timer keepalive_;
  boost::asio::steady_timer resume_;        // the read loop waits on it while receive_paused_
  boost::asio::steady_timer write_wakeup_;  // the write loop waits on it while nothing is queued
  LinkOwner& owner_;
  LinkSession session_;
  bool initiator_;
  StreamLinkOptions options_;
  std::uint64_t id_;
  std::chrono::steady_clock::time_point since_;
  std::chrono::steady_clock::time_point last_receive_;
  Bytes wire_;
  bool writing_ = false;
  bool writer_waiting_ = false;  // the write loop sleeps on write_wakeup_
  bool closed_ = false;
  bool reported_down_ = false;
  bool up_reported_ = false;
  bool pong_queued_ = false;  // a pong waits in the session's queue
  bool receive_paused_ = false;
  LinkCounters counters_;
  std::unique_ptr<stream::DatagramSealer> datagrams_;  // once up, when the stream has a datagram path
};

}  // namespace hyphae::mesh
