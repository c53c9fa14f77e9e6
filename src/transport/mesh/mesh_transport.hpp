// MeshTransport: the TCP mesh as a Transport. It listens, dials peers at their host:port
// addresses with exponential backoff, runs one Noise-secured StreamLink per peer and keeps a single
// link when both sides dial at once (the one dialed by the smaller PeerId). Several instances may
// run in one node under different names (e.g. "tcp" for the internet, "lan" for a local network),
// each with its own listener, Noise static key and capabilities.
// The same transport in WebSocket mode (type "websocket") carries the links in binary WebSocket
// messages, ws:// or wss:// (TLS): for networks where only HTTP(S) passes, and for browsers.
// With a LinkConnector (type "webrtc") the links run over WebRTC data channels negotiated through a
// signaling server instead, and nothing listens on TCP.
// Thread-safety: everything runs on the strand from the TransportContext.
// Ownership: owned by the node; links hold no reference back beyond the strand's lifetime (their
// owner pointer is this transport, which closes them all in stop() and in its destructor).
#pragma once

#include <spdlog/logger.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <memory>
#include <set>
#include <unordered_map>

#include "crypto/noise/noise.hpp"
#include "transport/mesh/link_connector.hpp"
#include "transport/mesh/stream_link.hpp"
#include "transport/stream/session_table.hpp"
#include "transport/transport.hpp"

namespace boost::asio::ssl {
class context;
}

namespace hyphae::transport {

class MeshTransport final : public Transport, private mesh::LinkOwner {
 public:
  // options: "listen" (host:port, default 127.0.0.1:0), "max_handshakes" (accepted connections
  // still in their handshake, default 64; the oldest is closed to admit a new one) and "caps.*"
  // capability overrides.
  static std::expected<std::unique_ptr<Transport>, std::string> make(TransportContext context);
  // Type "tcp": its options and this factory.
  static TransportType type_info();
  // Type "websocket": options "listen", "tls" (wss://), "tls_cert"/"tls_key" (PEM files; without
  // them a self-signed certificate is made at start), "path", and those of "tcp".
  static std::expected<std::unique_ptr<Transport>, std::string> make_websocket(TransportContext context);
  static TransportType websocket_type_info();
  // Type "webrtc" (src/transport/webrtc/webrtc_mode.cpp).
  static std::expected<std::unique_ptr<Transport>, std::string> make_webrtc(TransportContext context);
  static TransportType webrtc_type_info();

  // What carries the links: TCP itself, or WebSocket messages over TCP (with TLS when `tls`).
  struct WebSocketMode {
    std::shared_ptr<boost::asio::ssl::context> server_tls;  // null: ws://
    std::shared_ptr<boost::asio::ssl::context> client_tls;  // for dialing wss:// addresses
    std::string path = "/";
  };

  MeshTransport(TransportContext context, router::Capabilities caps, std::string listen,
                std::optional<WebSocketMode> websocket = std::nullopt);
  // Links from `connector` only (no listener).
  MeshTransport(TransportContext context, router::Capabilities caps,
                std::unique_ptr<mesh::LinkConnector> connector);
  ~MeshTransport() override;

  std::string_view name() const override { return context_.name; }
  std::string_view type() const override {
    return connector_ ? connector_->type() : websocket_ ? "websocket" : "tcp";
  }
  const router::Capabilities& capabilities() const override { return caps_; }
  std::error_code start() override;
  void stop() override;
  bool available() const override { return running_; }
  std::uint64_t session(const PeerId& peer) const override;
  std::error_code send(const PeerId& peer, RecordKind kind, ByteView body) override;
  std::size_t backlog(const PeerId& peer) const override;
  void close(const PeerId& peer, const CloseReason& reason) override;
  void pause_receiving(const PeerId& peer, bool paused) override;
  std::optional<SessionInfo> session_info(const PeerId& peer) const override;
  std::vector<PeerId> peers_with_sessions() const override;
  std::error_code add_addresses(const PeerId& peer, const std::vector<std::string>& addresses) override;
  void connect_soon(const PeerId& peer) override;
  std::error_code punch(const PeerId& peer, const std::string& address) override;
  void tick(std::uint64_t now_ms) override;
  std::uint16_t listen_port() const override;
  void set_keepalive_interval(std::uint64_t ms) override { context_.keepalive_interval_ms = ms; }
  nlohmann::json status_json() const override;

 private:
  using LinkPtr = std::shared_ptr<mesh::StreamLink>;
  struct Dialer;   // the dial coroutine, in the .cpp
  struct Puncher;  // the hole-punching dial coroutine

  void on_link_up(const LinkPtr& link) override;
  void on_link_record(const LinkPtr& link, const stream::Record& record) override;
  void on_link_down(const LinkPtr& link, bool was_up, const CloseReason& reason) override;
  void on_link_drained(const LinkPtr& link) override;
  void accept_next();
  // Closes the oldest handshakes in flight while there are max_handshakes_ of them.
  void make_room_for_handshake();
  std::size_t handshakes_in_flight() const;
  void dial(const stream::SessionTable::Dial& dial);
  void dial_finished(const PeerId& peer, const std::string& address, boost::asio::ip::tcp::socket socket,
                     const std::string& failure);
  // A dialed stream (or a failure): the link, as the initiator, expecting `peer`.
  void dialed(const PeerId& peer, std::unique_ptr<stream::ByteStream> stream, const std::string& failure);
  // A stream the far end opened: the link, as the responder (expecting `remote` when known).
  void accepted(std::unique_ptr<stream::ByteStream> stream, std::optional<PeerId> remote);
  // The stream a link runs over: the socket itself, or a WebSocket over it.
  std::unique_ptr<stream::ByteStream> accepted_stream(boost::asio::ip::tcp::socket socket);
  std::unique_ptr<stream::ByteStream> dialed_stream(boost::asio::ip::tcp::socket socket,
                                                    const std::string& address);
  bool valid_address(const std::string& address) const;
  void punch_finished(const PeerId& peer, boost::asio::ip::tcp::socket socket, const std::string& failure);
  LinkPtr live(const PeerId& peer) const;
  mesh::StreamLinkOptions link_options();  // with a new session id
  std::uint64_t next_session_id() {
    return context_.session_ids ? context_.session_ids->next() : own_ids_.next();
  }

  TransportContext context_;
  router::Capabilities caps_;
  std::optional<WebSocketMode> websocket_;
  std::unique_ptr<mesh::LinkConnector> connector_;
  std::shared_ptr<spdlog::logger> log_;
  SessionIds own_ids_;  // when the context brings none
  std::string listen_;
  noise::KeyPair static_key_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_backoff_;  // accepts pause on EMFILE instead of spinning
  static constexpr std::uint64_t kAcceptBackoffMs = 100;
  static constexpr std::size_t kDefaultMaxHandshakes = 64;
  std::size_t max_handshakes_ = kDefaultMaxHandshakes;       // option max_handshakes
  std::deque<std::weak_ptr<mesh::StreamLink>> handshaking_;  // accepted links not yet up, oldest first
  std::uint64_t handshakes_evicted_ = 0, accept_pauses_ = 0;
  bool running_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false once destroyed
  std::set<LinkPtr> links_;                                     // every link, handshaking or up
  std::unordered_map<std::uint64_t, PeerId> dialed_;            // link id -> the peer it was dialed for
  static constexpr std::int64_t kDefaultDialTimeoutMs = 10'000;
  std::chrono::milliseconds dial_timeout_{kDefaultDialTimeoutMs};  // option dial_timeout_ms
  std::uint64_t dials_failed_ = 0;
  std::uint64_t punches_ = 0, punches_failed_ = 0;
  std::set<PeerId> punching_;  // peers with a punch dial out (one at a time each)
  // Addresses, dial backoff and which link is each peer's (transport/stream/session_table.hpp).
  stream::SessionTable table_;
  std::unordered_map<PeerId, LinkPtr> live_;  // each peer's current link (as table_ decided)
};

}  // namespace hyphae::transport
