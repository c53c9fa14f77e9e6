// ByteStream: the ordered bytes under one link. A plain TCP socket, or a WebSocket (ws:// or
// wss://) whose binary messages carry the same bytes (transport/ws/). The link's coroutines read,
// write and close it; at most one read and one write are in flight at a time.
// Thread-safety: none; used on the link's strand only. Ownership: owned by its link.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/bytes.hpp"

namespace hyphae::stream {

// A second path beside a stream, for messages that are better lost than late: it may drop a
// message but never reorders them (a WebRTC data channel with ordered: true and maxRetransmits).
// The link seals what goes over it (datagram_sealer.hpp). On the link's strand.
class DatagramPath {
 public:
  virtual ~DatagramPath() = default;
  virtual bool ready() const = 0;                   // open now
  virtual std::size_t max_datagram() const = 0;     // bytes one message may carry
  virtual bool send(ByteView datagram) = 0;         // false: not sent (closed, or its queue is full)
  std::function<void(Bytes datagram)> on_datagram;  // set by the link
};

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Runs what the stream needs before bytes flow (TLS and WebSocket handshakes); nothing for TCP.
  // Throws boost::system::system_error on failure.
  virtual boost::asio::awaitable<void> open() = 0;
  // Reads at least one byte (or throws; end of stream is boost::asio::error::eof).
  virtual boost::asio::awaitable<std::size_t> read_some(boost::asio::mutable_buffer buffer) = 0;
  // Writes all of `data` (or throws).
  virtual boost::asio::awaitable<void> write(boost::asio::const_buffer data) = 0;
  // Closes the socket; operations in flight end with an error. Safe to call more than once.
  virtual void close() = 0;
  // "ip:port" of the far end, as the socket saw it when the stream was made.
  virtual const std::string& remote_address() const = 0;
  // "tcp", "ws", "wss" or "webrtc".
  virtual std::string_view kind() const = 0;
  // The stream's datagram path, if it has one (null for TCP and WebSocket).
  virtual DatagramPath* datagrams() { return nullptr; }
};

// A connected TCP socket as a ByteStream (Nagle off).
std::unique_ptr<ByteStream> make_tcp_stream(boost::asio::ip::tcp::socket socket);

// "ip:port" of a connected socket's far end; empty when it has none.
std::string remote_endpoint_text(const boost::asio::ip::tcp::socket& socket);

}  // namespace hyphae::stream
