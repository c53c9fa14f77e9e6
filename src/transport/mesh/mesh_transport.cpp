// MeshTransport: listener, dialer and link bookkeeping of the TCP mesh (see the header).
#include "transport/mesh/mesh_transport.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "core/address.hpp"
#include "core/error.hpp"
#include "core/identity.hpp"
#include "core/ws_address.hpp"
#include "net/self_signed_cert.hpp"
#include "transport/stream/record_kinds.hpp"
#include "transport/ws/ws_stream.hpp"
#include "util/option_text.hpp"

namespace hyphae::transport {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

std::uint64_t steady_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

void log_failure(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("mesh dial coroutine failed: {}", ex.what());
  }
}

}  // namespace

struct MeshTransport::Dialer {
  // Resolves and connects, raced against dial_timeout: a peer that drops SYNs (a firewall, a full
  // accept queue) costs one timeout, not the kernel's minutes of retransmissions.
  static asio::awaitable<void> run(MeshTransport* self, std::shared_ptr<bool> alive, PeerId peer,
                                   std::string address, asio::strand<asio::any_io_executor> strand,
                                   std::chrono::milliseconds timeout) {
    using namespace asio::experimental::awaitable_operators;
    std::string host;
    std::uint16_t port = 0;
    if (auto ws = ws::parse_ws_address(address)) {
      host = ws->host;
      port = ws->port;
    } else {
      parse_address(address, host, port);
    }
    tcp::socket socket(strand);
    std::string failure;
    try {
      auto connect = [&]() -> asio::awaitable<void> {
        tcp::resolver resolver(strand);
        auto endpoints = co_await resolver.async_resolve(host, std::to_string(port), asio::use_awaitable);
        co_await asio::async_connect(socket, endpoints, asio::use_awaitable);
      };
      asio::steady_timer timer(strand);
      timer.expires_after(timeout);
      auto first = co_await (connect() || timer.async_wait(asio::use_awaitable));
      if (first.index() == 1) {
        failure = "timed out after " + std::to_string(timeout.count()) + " ms";
        boost::system::error_code ignored;
        socket.close(ignored);
      }
    } catch (const boost::system::system_error& e) {
      failure = e.code().message();
    }
    if (!*alive) co_return;  // the transport is gone
    self->dial_finished(peer, address, std::move(socket), failure);
  }
};

// A socket option asio has no name for: several sockets on one port (the listener and punch dials).
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

struct MeshTransport::Puncher {
  // Connects from `local` (the listening endpoint) to `address`, within `timeout`: the SYNs of both
  // sides open the NATs' mappings; the kernel's SYN retransmissions retry until the other side's SYN
  // has gone out too.
  static asio::awaitable<void> run(MeshTransport* self, std::shared_ptr<bool> alive, PeerId peer,
                                   tcp::endpoint local, tcp::endpoint remote,
                                   asio::strand<asio::any_io_executor> strand,
                                   std::chrono::milliseconds timeout) {
    using namespace asio::experimental::awaitable_operators;
    tcp::socket socket(strand);
    std::string failure;
    try {
      socket.open(remote.protocol());
      socket.set_option(tcp::socket::reuse_address(true));
      socket.set_option(reuse_port(true));
      socket.bind(local);
      asio::steady_timer timer(strand);
      timer.expires_after(timeout);
      auto first = co_await (socket.async_connect(remote, asio::use_awaitable) ||
                             timer.async_wait(asio::use_awaitable));
      if (first.index() == 1) {
        failure = "timed out after " + std::to_string(timeout.count()) + " ms";
        boost::system::error_code ignored;
        socket.close(ignored);
      }
    } catch (const boost::system::system_error& e) {
      failure = e.code().message();
    }
    if (!*alive) co_return;
    self->punch_finished(peer, std::move(socket), failure);
  }
};

std::expected<std::unique_ptr<Transport>, std::string> MeshTransport::make(TransportContext context) {
  std::string listen = "127.0.0.1:0";
  if (auto it = context.options.find("listen"); it != context.options.end()) listen = it->second;
  std::string host;
  std::uint16_t port = 0;
  if (!parse_address(listen, host, port))
    return std::unexpected("transport " + context.name + ": listen '" + listen + "' is not host:port");
  // A TCP link carries a record of any size in one piece (it spans Noise frames): its MTU is the
  // largest record, unless the configuration sets a smaller one (then the node fragments).
  auto base = router::Capabilities::direct_tcp_preset();
  const std::size_t records = context.max_record_bytes ? context.max_record_bytes : std::size_t{1} << 20;
  base.mtu = static_cast<std::uint32_t>(std::min<std::size_t>(records, 1u << 30));
  base.max_message_size = base.mtu;  // whatever the node's max_message_bytes allows
  auto caps = apply_capability_options(base, context.options);
  if (!caps) return std::unexpected("transport " + context.name + ": " + caps.error());
  auto max_handshakes = type_info().options.integer(context.options, "max_handshakes", kDefaultMaxHandshakes);
  if (!max_handshakes) return std::unexpected("transport " + context.name + ": " + max_handshakes.error());
  auto dial_timeout = type_info().options.integer(context.options, "dial_timeout_ms", kDefaultDialTimeoutMs);
  if (!dial_timeout) return std::unexpected("transport " + context.name + ": " + dial_timeout.error());
  auto transport = std::make_unique<MeshTransport>(std::move(context), *caps, std::move(listen));
  transport->max_handshakes_ = static_cast<std::size_t>(*max_handshakes);
  transport->dial_timeout_ = std::chrono::milliseconds(*dial_timeout);
  return transport;
}

TransportType MeshTransport::type_info() {
  using K = OptionSpec::Kind;
  return {"tcp",
          "direct links: Noise XX over TCP with libp2p PeerIds",
          {
              {"type", K::choice, 0, 0, {"tcp"}, "tcp", "the type, for an instance with a name of its own"},
              {"listen", K::text, 0, 0, {}, "127.0.0.1:0", "host:port to accept links on (port 0: any)"},
              {"max_handshakes",
               K::integer,
               1,
               100'000,
               {},
               std::to_string(kDefaultMaxHandshakes),
               "accepted connections still in their handshake; the oldest is closed to admit a new one"},
              {"dial_timeout_ms",
               K::integer,
               10,
               600'000,
               {},
               std::to_string(kDefaultDialTimeoutMs),
               "how long a dial may take to connect before it counts as failed (and backs off)"},
          },
          &MeshTransport::make};
}

MeshTransport::MeshTransport(TransportContext context, router::Capabilities caps, std::string listen,
                             std::optional<WebSocketMode> websocket)
    : context_(std::move(context)),
      caps_(caps),
      websocket_(std::move(websocket)),
      log_(logger_for(context_)),
      listen_(std::move(listen)),
      static_key_(noise::KeyPair::generate()),
      acceptor_(context_.strand),
      accept_backoff_(context_.strand),
      table_(stream::SessionTable::Options{context_.reconnect_min_ms, context_.reconnect_max_ms}) {}

MeshTransport::MeshTransport(TransportContext context, router::Capabilities caps,
                             std::unique_ptr<mesh::LinkConnector> connector)
    : MeshTransport(std::move(context), caps, std::string()) {
  connector_ = std::move(connector);
}

MeshTransport::~MeshTransport() {
  stop();
  *alive_ = false;
}

mesh::StreamLinkOptions MeshTransport::link_options() {
  mesh::StreamLinkOptions options;
  options.handshake_timeout = std::chrono::milliseconds(context_.handshake_timeout_ms);
  options.keepalive_interval = std::chrono::milliseconds(context_.keepalive_interval_ms);
  options.limits.max_record = context_.max_record_bytes;
  options.session_id = next_session_id();
  // Above the node's own limit for queuing onto a link (it refuses sends past 64 MiB), so only a
  // peer that makes us answer while it never reads ever reaches it.
  options.max_backlog_bytes =
      (std::size_t{64} << 20) + 2 * std::max<std::size_t>(context_.max_record_bytes, 1u << 20);
  return options;
}

std::error_code MeshTransport::start() {
  if (connector_) {
    if (auto ec = connector_->start(
            [this, alive = alive_](std::unique_ptr<stream::ByteStream> stream, const PeerId& remote) {
              if (*alive && running_) accepted(std::move(stream), remote);
            }))
      return ec;
    running_ = true;
    return {};
  }
  std::string host;
  std::uint16_t port = 0;
  if (!parse_address(listen_, host, port)) return Errc::invalid_argument;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Errc::invalid_argument;
  tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.set_option(reuse_port(true), ec);  // punch dials bind the same port
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    log_->error("transport {}: cannot listen on {}: {}", context_.name, listen_, ec.message());
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return std::error_code(ec.value(), std::system_category());
  }
  running_ = true;
  accept_next();
  return {};
}

void MeshTransport::stop() {
  if (!running_) return;
  running_ = false;
  if (connector_) connector_->stop();
  boost::system::error_code ec;
  acceptor_.close(ec);
  accept_backoff_.cancel();
  auto all = links_;
  for (const auto& link : all) link->close(CloseCode::stopping);
}

void MeshTransport::accept_next() {
  acceptor_.async_accept(context_.strand,
                         [this, alive = alive_](boost::system::error_code ec, tcp::socket socket) {
                           if (!*alive || !running_) return;
                           if (!ec) {
                             accepted(accepted_stream(std::move(socket)), std::nullopt);
                           } else if (ec == asio::error::no_descriptors ||
                                      ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
                             // Out of file descriptors or memory: retrying at once would spin. Wait, then
                             // accept again.
                             log_->warn("transport {}: accept: {}; pausing accepts for {} ms", context_.name,
                                        ec.message(), kAcceptBackoffMs);
                             ++accept_pauses_;
                             accept_backoff_.expires_after(std::chrono::milliseconds(kAcceptBackoffMs));
                             accept_backoff_.async_wait([this, alive](boost::system::error_code wait_ec) {
                               if (!wait_ec && *alive && running_) accept_next();
                             });
                             return;
                           } else {
                             log_->warn("transport {}: accept: {}", context_.name, ec.message());
                           }
                           accept_next();
                         });
}

void MeshTransport::accepted(std::unique_ptr<stream::ByteStream> stream, std::optional<PeerId> remote) {
  make_room_for_handshake();
  auto link = std::make_shared<mesh::StreamLink>(context_.strand, std::move(stream),
                                                 static_cast<mesh::LinkOwner&>(*this), *context_.identity,
                                                 static_key_, false, std::move(remote), link_options());
  links_.insert(link);
  handshaking_.push_back(link);
  link->start();
}

void MeshTransport::make_room_for_handshake() {
  // Links that came up or went down leave the list here (it is pruned lazily).
  std::erase_if(handshaking_, [](const std::weak_ptr<mesh::StreamLink>& w) {
    auto link = w.lock();
    return !link || link->established() || link->closing();
  });
  // Full: the oldest handshake, the one closest to its timeout, makes room. A flood of stalled
  // connections thus delays a real peer's handshake by at most its own length, never locks it out.
  while (handshaking_.size() >= max_handshakes_) {
    auto oldest = handshaking_.front().lock();
    handshaking_.pop_front();
    if (!oldest) continue;
    ++handshakes_evicted_;
    oldest->close({CloseCode::evicted,
                   "too many handshakes in flight (max_handshakes " + std::to_string(max_handshakes_) + ")"});
  }
}

std::size_t MeshTransport::handshakes_in_flight() const {
  std::size_t n = 0;
  for (const auto& link : links_)
    if (!link->established()) ++n;
  return n;
}

void MeshTransport::dial(const stream::SessionTable::Dial& dial) {
  if (connector_) {
    connector_->dial(dial.peer, dial.address,
                     [this, alive = alive_, peer = dial.peer](std::unique_ptr<stream::ByteStream> stream,
                                                              std::string failure) {
                       if (*alive) dialed(peer, std::move(stream), failure);
                     });
    return;
  }
  asio::co_spawn(context_.strand,
                 Dialer::run(this, alive_, dial.peer, dial.address, context_.strand, dial_timeout_),
                 log_failure);
}

void MeshTransport::dial_finished(const PeerId& peer, const std::string& address, tcp::socket socket,
                                  const std::string& failure) {
  dialed(peer, failure.empty() ? dialed_stream(std::move(socket), address) : nullptr, failure);
}

void MeshTransport::dialed(const PeerId& peer, std::unique_ptr<stream::ByteStream> stream,
                           const std::string& failure) {
  if (!stream || !failure.empty() || !running_) {
    if (running_) log_->debug("transport {}: dial {} failed: {}", context_.name, peer.to_string(), failure);
    ++dials_failed_;
    table_.dial_failed(peer, steady_ms());
    return;
  }
  auto link = std::make_shared<mesh::StreamLink>(context_.strand, std::move(stream),
                                                 static_cast<mesh::LinkOwner&>(*this), *context_.identity,
                                                 static_key_, true, peer, link_options());
  links_.insert(link);
  dialed_.emplace(link->id(), peer);
  link->start();
}

std::error_code MeshTransport::punch(const PeerId& peer, const std::string& address) {
  if (!running_) return make_error_code(Errc::closed);
  // A simultaneous open has no client and server; a connector's streams are not TCP.
  if (websocket_ || connector_) return make_error_code(Errc::unsupported);
  std::string host;
  std::uint16_t port = 0;
  boost::system::error_code ec;
  if (!parse_address(address, host, port)) return make_error_code(Errc::invalid_argument);
  const auto ip = asio::ip::make_address(host, ec);
  if (ec || port == 0) return make_error_code(Errc::invalid_argument);
  const auto local = acceptor_.local_endpoint(ec);
  if (ec) return make_error_code(Errc::closed);
  if (live(peer) || punching_.contains(peer)) return make_error_code(Errc::backpressure);
  punching_.insert(peer);
  ++punches_;
  asio::co_spawn(context_.strand,
                 Puncher::run(this, alive_, peer, local, tcp::endpoint(ip, port), context_.strand,
                              std::chrono::milliseconds(std::min<std::int64_t>(dial_timeout_.count(), 8000))),
                 log_failure);
  return {};
}

void MeshTransport::punch_finished(const PeerId& peer, tcp::socket socket, const std::string& failure) {
  punching_.erase(peer);
  if (!failure.empty() || !running_) {
    ++punches_failed_;
    if (running_)
      log_->info("transport {}: hole punch to {} failed: {}", context_.name, peer.to_string(), failure);
    return;
  }
  // One TCP connection that both sides dialed: the smaller PeerId runs the Noise initiator.
  const bool initiator = context_.identity->peer_id() < peer;
  auto link = std::make_shared<mesh::StreamLink>(context_.strand, stream::make_tcp_stream(std::move(socket)),
                                                 static_cast<mesh::LinkOwner&>(*this), *context_.identity,
                                                 static_key_, initiator, peer, link_options());
  links_.insert(link);
  log_->info("transport {}: hole punched to {} ({})", context_.name, peer.to_string(),
             initiator ? "Noise initiator" : "Noise responder");
  link->start();
}

void MeshTransport::tick(std::uint64_t now_ms) {
  if (!running_) return;
  if (connector_) connector_->tick(now_ms);
  for (const auto& d :
       table_.due(steady_ms(), [&](const PeerId& p) { return context_.sink->wants_session(*this, p); }))
    dial(d);
}

void MeshTransport::connect_soon(const PeerId& peer) {
  if (!running_) return;
  if (auto d = table_.dial_now(peer)) dial(*d);
}

std::error_code MeshTransport::add_addresses(const PeerId& peer, const std::vector<std::string>& addresses) {
  for (const auto& a : addresses)
    if (!valid_address(a)) return Errc::invalid_argument;
  table_.add_addresses(peer, addresses);
  return {};
}

bool MeshTransport::valid_address(const std::string& address) const {
  if (connector_) return connector_->valid_address(address);
  if (websocket_) {
    auto ws = ws::parse_ws_address(address);
    return ws && (!ws->tls || websocket_->client_tls);
  }
  std::string host;
  std::uint16_t port = 0;
  return parse_address(address, host, port);
}

std::unique_ptr<stream::ByteStream> MeshTransport::accepted_stream(tcp::socket socket) {
  if (!websocket_) return stream::make_tcp_stream(std::move(socket));
  return ws::make_ws_server_stream(std::move(socket), websocket_->server_tls, websocket_->path);
}

std::unique_ptr<stream::ByteStream> MeshTransport::dialed_stream(tcp::socket socket,
                                                                 const std::string& address) {
  if (!websocket_) return stream::make_tcp_stream(std::move(socket));
  auto target = ws::parse_ws_address(address);  // checked when the address was added
  if (!target) target = ws::WsAddress{};
  const bool v6 = target->host.find(':') != std::string::npos;
  std::string host = (v6 ? "[" + target->host + "]" : target->host) + ":" + std::to_string(target->port);
  return ws::make_ws_client_stream(std::move(socket), target->tls ? websocket_->client_tls : nullptr,
                                   std::move(host), target->path);
}

MeshTransport::LinkPtr MeshTransport::live(const PeerId& peer) const {
  auto it = live_.find(peer);
  if (it == live_.end() || !it->second->established()) return nullptr;
  return it->second;
}

std::uint64_t MeshTransport::session(const PeerId& peer) const {
  auto link = live(peer);
  return link ? link->id() : 0;
}

std::error_code MeshTransport::send(const PeerId& peer, RecordKind kind, ByteView body) {
  if (!running_) return Errc::closed;
  auto live_link = live(peer);
  if (!live_link) return Errc::no_link;
  if (body.size() > caps_.mtu) return Errc::too_large;
  auto& link = *live_link;
  if (link.closing()) return Errc::closed;
  // Real-time records take the link's datagram path when it has one (WebRTC's partially reliable
  // channel); everything else, and whatever does not fit there, the stream.
  if (kind == RecordKind::ephemeral && link.send_datagram(stream::record_type_of(kind), body)) return {};
  link.send(stream::record_type_of(kind), body);
  // A peer that never reads has its link closed at the backlog cap (nothing was queued then).
  return link.closing() ? Errc::closed : std::error_code{};
}

std::size_t MeshTransport::backlog(const PeerId& peer) const {
  auto link = live(peer);
  return link ? link->backlog_bytes() : 0;
}

void MeshTransport::pause_receiving(const PeerId& peer, bool paused) {
  if (auto link = live(peer)) link->set_receive_paused(paused);
}

void MeshTransport::close(const PeerId& peer, const CloseReason& reason) {
  auto it = live_.find(peer);
  if (it == live_.end()) return;
  auto link = it->second;
  link->close(reason);
}

std::optional<SessionInfo> MeshTransport::session_info(const PeerId& peer) const {
  auto link = live(peer);
  if (!link) return std::nullopt;
  const auto& c = link->counters();
  SessionInfo info;
  info.id = link->id();
  info.initiator = link->initiator();
  info.remote_address = link->remote_address();
  info.age_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - link->since())
          .count());
  info.bytes_in = c.bytes_in;
  info.bytes_out = c.bytes_out;
  info.records_in = c.records_in;
  info.records_out = c.records_out;
  return info;
}

std::vector<PeerId> MeshTransport::peers_with_sessions() const {
  std::vector<PeerId> out;
  for (const auto& [peer, link] : live_)
    if (link->established()) out.push_back(peer);
  return out;
}

std::uint16_t MeshTransport::listen_port() const {
  boost::system::error_code ec;
  auto endpoint = acceptor_.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

nlohmann::json MeshTransport::status_json() const {
  nlohmann::json out{{"name", context_.name},
                     {"type", type()},
                     {"available", running_},
                     {"listen", listen_},
                     {"listen_port", listen_port()},
                     {"sessions", peers_with_sessions().size()},
                     {"handshakes_in_flight", handshakes_in_flight()},
                     {"max_handshakes", max_handshakes_},
                     {"handshakes_evicted", handshakes_evicted_},
                     {"accept_pauses", accept_pauses_},
                     {"known_peers", table_.peer_count()},
                     {"dial_timeout_ms", dial_timeout_.count()},
                     {"dials_failed", dials_failed_},
                     {"punches", punches_},
                     {"punches_failed", punches_failed_},
                     {"capabilities", capabilities_json(caps_)}};
  if (connector_) {
    auto details = connector_->status_json();
    std::uint64_t sent = 0, received = 0, dropped = 0;
    for (const auto& [peer, link] : live_) {
      sent += link->counters().datagrams_out;
      received += link->counters().datagrams_in;
      dropped += link->counters().datagrams_dropped;
    }
    details["datagrams_out"] = sent;
    details["datagrams_in"] = received;
    details["datagrams_dropped"] = dropped;
    out[std::string(connector_->type())] = std::move(details);
  }
  if (websocket_) {
    out["scheme"] = websocket_->server_tls ? "wss" : "ws";
    out["path"] = websocket_->path;
  }
  return out;
}

void MeshTransport::on_link_up(const LinkPtr& link) {
  const PeerId& remote = link->remote();
  const auto up = table_.link_up(context_.identity->peer_id(), remote, link->id(), link->initiator());
  if (up.verdict == stream::SessionTable::Verdict::duplicate) {
    link->close(CloseCode::duplicate);
    return;
  }
  if (up.verdict == stream::SessionTable::Verdict::keep_replacing) {
    if (auto old = live_.find(remote); old != live_.end()) {
      auto replaced = old->second;
      live_.erase(old);
      replaced->close(CloseCode::replaced);
    }
  }
  live_[remote] = link;
  log_->debug("transport {}: link up: {} ({} {})", context_.name, remote.to_string(),
              link->initiator() ? "dialed" : "accepted", link->remote_address());
  context_.sink->on_session_up(*this, remote, link->id());
}

void MeshTransport::on_link_record(const LinkPtr& link, const stream::Record& record) {
  auto kind = stream::record_kind_of(record.type);
  if (!kind) return;
  auto it = live_.find(link->remote());
  if (it == live_.end() || it->second != link) return;  // a link being replaced
  context_.sink->on_record(*this, link->remote(), link->id(), *kind, record.body);
}

void MeshTransport::on_link_down(const LinkPtr& link, bool was_up, const CloseReason& reason) {
  links_.erase(link);
  std::optional<PeerId> peer;
  if (auto it = dialed_.find(link->id()); it != dialed_.end()) {
    peer = it->second;
    dialed_.erase(it);
  }
  if (was_up) peer = link->remote();
  if (!was_up)
    log_->info("transport {}: link to {} failed before it came up: {}", context_.name, link->remote_address(),
               reason.text());
  if (!peer) return;
  const PeerId gone = *peer;
  if (auto it = live_.find(gone); it != live_.end() && it->second == link) live_.erase(it);
  const auto down =
      table_.link_down(gone, link->id(), link->initiator(), reason == CloseCode::idle, steady_ms());
  if (down.was_current) context_.sink->on_session_down(*this, gone, link->id(), reason);
}

void MeshTransport::on_link_drained(const LinkPtr& link) {
  if (link->established() && live(link->remote()) == link) context_.sink->on_drained(*this, link->remote());
}

}  // namespace hyphae::transport
