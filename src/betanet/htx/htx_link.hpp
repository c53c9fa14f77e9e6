// HtxLink: an HTX session (htx_session.hpp) over TLS 1.3 on a TCP connection — the link between a
// node and a mix, or two mixes. TLS offers only the ALPN protocol "h2" (as an HTTPS server's
// HTTP/2 would) and refuses anything below TLS 1.3; certificates are not checked (the inner Noise
// XK authenticates the server by the static key its descriptor publishes). Both ends take 32
// bytes from the TLS exporter (label "EXPORTER-hyphae-htx-inner") and make them the Noise prologue,
// so the inner session only completes inside the TLS connection it was started in.
//
// Writes queue per link and go out as the stream's window allows; the queue is bounded
// (max_queued_bytes: send() refuses more). The link pings and updates keys on its own timer.
// Thread-safety: all calls and callbacks on the strand given at creation. Ownership: shared;
// the coroutines keep it alive until close() or the connection ends.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <memory>
#include <string>

#include "betanet/htx/htx_session.hpp"

namespace hyphae::htx {

struct HtxLinkCallbacks {
  std::function<void()> on_established;
  std::function<void(std::uint64_t stream, Bytes data)> on_data;
  std::function<void(const std::string& why)> on_closed;
};

struct HtxLinkOptions {
  HtxOptions session;
  std::size_t max_queued_bytes = 8 << 20;
  std::uint64_t handshake_timeout_ms = 10'000;
};

// TLS contexts for HTX: TLS 1.3 only, ALPN h2. The server context carries a fresh self-signed
// certificate.
std::shared_ptr<boost::asio::ssl::context> htx_client_tls();
std::shared_ptr<boost::asio::ssl::context> htx_server_tls();

class HtxLink {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;

  // Dials host:port; the server must hold the private half of `server_static`.
  static std::shared_ptr<HtxLink> connect(Strand strand, std::shared_ptr<boost::asio::ssl::context> tls,
                                          std::string host, std::uint16_t port, const noise::KeyPair& local,
                                          const std::array<std::uint8_t, 32>& server_static,
                                          HtxLinkCallbacks callbacks, HtxLinkOptions options = {});
  // Runs the server side on an accepted socket.
  static std::shared_ptr<HtxLink> accept(Strand strand, std::shared_ptr<boost::asio::ssl::context> tls,
                                         boost::asio::ip::tcp::socket socket, const noise::KeyPair& local,
                                         HtxLinkCallbacks callbacks, HtxLinkOptions options = {});
  ~HtxLink();

  // Queues data for a stream: Errc::no_link before the session is up or after it ended,
  // Errc::backpressure past max_queued_bytes.
  std::error_code send(std::uint64_t stream, ByteView data);
  std::uint64_t open_stream();
  void close();
  bool established() const;
  std::size_t queued_bytes() const;
  // The peer's Noise static key once established (a server learns the client's).
  std::optional<std::array<std::uint8_t, 32>> remote_static() const;
  const HtxCounters& counters() const;

  struct Impl;

 private:
  explicit HtxLink(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace hyphae::htx
