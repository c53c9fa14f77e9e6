// RtcChannel: one WebRTC PeerConnection and the data channel a link runs over, as the node's
// strand sees them. Every PeerConnection event lands here (posted to the strand): candidates and
// the channel opening go to the negotiation (the WebRTC transport's hooks) until the link takes
// over; messages queue for the link's reads. make_channel_stream() turns it into the ByteStream
// a StreamLink runs on: ordered bytes in binary messages of at most 64 KiB.
// Flow control: reads stop SCTP (PeerConnection::set_receive_paused) while 4 MiB wait unread;
// writes wait while 1 MiB is buffered in the PeerConnection. A second channel, "hyphae-rt"
// (partially reliable), is the stream's DatagramPath once either side opened it.
// Thread-safety: on the strand only. Ownership: shared by the negotiation, the stream and the
// PeerConnection's posted events (weakly); the stream's close() closes the PeerConnection.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "transport/stream/byte_stream.hpp"
#include "webrtc/peer_connection.hpp"

namespace hyphae::rtc {

inline constexpr std::string_view kLinkChannelLabel = "hyphae";
inline constexpr std::string_view kLinkChannelProtocol = "p2p-messenger";
// The datagram channel beside it, as the messenger's data channels are configured (ordered: true,
// maxRetransmits: 3, protocol p2p-messenger): real-time records, sealed by the link, may be lost
// there but never arrive late behind a retransmission queue.
inline constexpr std::string_view kDatagramChannelLabel = "hyphae-rt";
inline constexpr std::uint16_t kDatagramMaxRetransmits = 3;
inline constexpr std::size_t kDatagramQueueBytes = std::size_t{1} << 20;  // past it, datagrams are dropped
inline constexpr std::size_t kMaxChannelMessage = 64 * 1024;              // what we write per message
inline constexpr std::size_t kReadPauseBytes = std::size_t{4} << 20;      // unread bytes that pause SCTP
inline constexpr std::size_t kWriteHighBytes = std::size_t{1} << 20;      // buffered bytes writes wait at

class RtcChannel : public std::enable_shared_from_this<RtcChannel>, public stream::DatagramPath {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  explicit RtcChannel(Strand strand)
      : strand_(std::move(strand)), read_wake_(strand_), write_wake_(strand_) {}

  // Callbacks for a PeerConnection whose events reach this object on the strand (a weak
  // reference: events after the object is gone are dropped).
  webrtc::PeerConnectionCallbacks callbacks();
  webrtc::Poster poster();

  // Hooks of the negotiation (cleared when the link takes over).
  std::function<void(std::string candidate)> on_candidate;
  std::function<void(const webrtc::ChannelInfo&)> on_open;
  std::function<void(std::string why)> on_failed;  // the connection failed or closed

  std::unique_ptr<webrtc::PeerConnection> pc;
  webrtc::ChannelId channel = 0;  // the link's channel, once open
  bool channel_open = false;
  webrtc::ChannelId datagram_channel = 0;  // "hyphae-rt", once open
  bool datagram_open = false;

  // DatagramPath: the "hyphae-rt" channel.
  bool ready() const override { return datagram_open && !closed_; }
  std::size_t max_datagram() const override { return kMaxChannelMessage; }
  bool send(ByteView datagram) override;

  bool closed() const { return closed_; }
  const std::string& close_reason() const { return close_reason_; }
  // Ends the PeerConnection (idempotent); readers and writers wake with an error.
  void close(std::string why);

  // For the stream.
  boost::asio::awaitable<std::size_t> read_some(boost::asio::mutable_buffer buffer);
  boost::asio::awaitable<void> write(boost::asio::const_buffer data);
  std::size_t unread_bytes() const { return unread_bytes_; }

 private:
  void on_message(webrtc::ChannelId id, Bytes message);
  void on_state(webrtc::ConnectionState state);
  static boost::asio::awaitable<void> wait(boost::asio::steady_timer& timer,
                                           std::chrono::milliseconds at_most);

  Strand strand_;
  boost::asio::steady_timer read_wake_;   // the reader waits on it; a message cancels it
  boost::asio::steady_timer write_wake_;  // the writer waits on it; "buffered amount low" cancels it
  std::deque<Bytes> unread_;
  std::size_t unread_bytes_ = 0, first_offset_ = 0;
  bool read_paused_ = false;
  bool closed_ = false;
  std::string close_reason_;
};

// The channel as a link's ByteStream; `remote` names the far end in statuses.
std::unique_ptr<stream::ByteStream> make_channel_stream(std::shared_ptr<RtcChannel> channel,
                                                        std::string remote);

}  // namespace hyphae::rtc
