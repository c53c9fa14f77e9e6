#include <arpa/inet.h>
#include <glib.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "core/error.hpp"
#include "webrtc/peer_connection_impl.hpp"

namespace hyphae::webrtc {

namespace {

constexpr std::uint16_t kDefaultStunPort = 3478;
constexpr std::size_t kSctpMtu = 1200;
constexpr std::uint16_t kSctpStreams = 1024;

std::unexpected<std::error_code> fail_with(Errc e) {
  return std::unexpected(make_error_code(e));
}

// "IP", "IP:port", "[IPv6]" or "[IPv6]:port" with an IP literal.
std::expected<std::pair<std::string, std::uint16_t>, std::error_code> parse_stun_server(std::string_view s) {
  std::string host;
  std::string_view port_text;
  if (s.starts_with('[')) {
    const auto close = s.find(']');
    if (close == std::string_view::npos) return fail_with(Errc::invalid_argument);
    host = std::string(s.substr(1, close - 1));
    const auto rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) return fail_with(Errc::invalid_argument);
      port_text = rest.substr(1);
    }
  } else if (std::count(s.begin(), s.end(), ':') == 1) {
    const auto colon = s.find(':');
    host = std::string(s.substr(0, colon));
    port_text = s.substr(colon + 1);
  } else {
    host = std::string(s);
  }
  std::array<unsigned char, 16> buffer{};
  if (inet_pton(AF_INET, host.c_str(), buffer.data()) != 1 &&
      inet_pton(AF_INET6, host.c_str(), buffer.data()) != 1)
    return fail_with(Errc::invalid_argument);
  std::uint16_t port = kDefaultStunPort;
  if (!port_text.empty()) {
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0)
      return fail_with(Errc::invalid_argument);
  }
  return std::pair{host, port};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The handle: every call runs on the Runtime thread.

std::expected<std::unique_ptr<PeerConnection>, std::error_code> PeerConnection::create(
    PeerConnectionConfig config, PeerConnectionCallbacks callbacks, Poster poster) {
  if (!poster) return fail_with(Errc::invalid_argument);
  if (config.port_min > config.port_max || config.max_message_size == 0 || config.max_channels == 0)
    return fail_with(Errc::invalid_argument);
  std::string stun_host;
  std::uint16_t stun_port = 0;
  if (!config.stun_server.empty()) {
    auto stun = parse_stun_server(config.stun_server);
    if (!stun) return std::unexpected(stun.error());
    std::tie(stun_host, stun_port) = *stun;
  }
  for (const auto& address : config.interface_addresses) {
    std::array<unsigned char, 16> buffer{};
    if (inet_pton(AF_INET, address.c_str(), buffer.data()) != 1 &&
        inet_pton(AF_INET6, address.c_str(), buffer.data()) != 1)
      return fail_with(Errc::invalid_argument);
  }
  auto identity = DtlsIdentity::generate();
  if (!identity) return std::unexpected(identity.error());
  auto delivery = std::make_shared<Delivery>();
  delivery->callbacks = std::move(callbacks);
  delivery->poster = std::move(poster);
  auto impl = std::make_shared<Impl>(std::move(config), Runtime::acquire(), std::move(delivery),
                                     std::move(*identity), std::move(stun_host), stun_port);
  return std::unique_ptr<PeerConnection>(new PeerConnection(std::move(impl)));
}

PeerConnection::~PeerConnection() {
  close();
}

std::expected<std::string, std::error_code> PeerConnection::create_offer() {
  return impl_->runtime().run([this] { return impl_->create_offer(); });
}

std::expected<std::string, std::error_code> PeerConnection::accept_offer(std::string_view offer) {
  return impl_->runtime().run([this, offer] { return impl_->accept_offer(offer); });
}

std::expected<void, std::error_code> PeerConnection::accept_answer(std::string_view answer) {
  return impl_->runtime().run([this, answer] { return impl_->accept_answer(answer); });
}

std::expected<void, std::error_code> PeerConnection::add_remote_candidate(std::string_view line) {
  return impl_->runtime().run([this, line] { return impl_->add_remote_candidate(line); });
}

std::expected<ChannelId, std::error_code> PeerConnection::open_channel(
    std::string label, std::string protocol, bool ordered, std::optional<std::uint16_t> max_retransmits) {
  return impl_->runtime().run(
      [&] { return impl_->open_channel(std::move(label), std::move(protocol), ordered, max_retransmits); });
}

std::expected<void, std::error_code> PeerConnection::send(ChannelId channel, ByteView message, bool binary) {
  return impl_->runtime().run([&] { return impl_->send(channel, message, binary); });
}

std::size_t PeerConnection::buffered_amount(ChannelId channel) const {
  return impl_->runtime().run([&] { return impl_->buffered_amount(channel); });
}

void PeerConnection::set_receive_paused(bool paused) {
  impl_->delivery()->caller_paused = paused;
  impl_->runtime().run([&] { impl_->resume_receive(); });
}

void PeerConnection::close_channel(ChannelId channel) {
  impl_->runtime().run([&] { impl_->close_channel(channel); });
}

ConnectionState PeerConnection::state() const {
  return impl_->runtime().run([&] { return impl_->state(); });
}

void PeerConnection::close() {
  impl_->delivery()->closed = true;
  if (impl_->runtime().in_thread()) {
    // Called from an event run inline on the Runtime thread, maybe under a transport callback:
    // tear down after it returns.
    impl_->runtime().post([impl = impl_] { impl->shutdown(); });
  } else {
    impl_->runtime().run([this] { impl_->shutdown(); });
  }
}

// ---------------------------------------------------------------------------------------------
// The session, on the Runtime thread.

PeerConnection::Impl::Impl(PeerConnectionConfig config, std::shared_ptr<Runtime> runtime,
                           std::shared_ptr<Delivery> delivery, std::shared_ptr<DtlsIdentity> identity,
                           std::string stun_host, std::uint16_t stun_port)
    : config_(std::move(config)),
      runtime_(std::move(runtime)),
      delivery_(std::move(delivery)),
      identity_(std::move(identity)),
      stun_host_(std::move(stun_host)),
      stun_port_(stun_port) {
  RAND_bytes(reinterpret_cast<unsigned char*>(&session_id_), sizeof(session_id_));
  session_id_ &= 0x7fffffffffffffffULL;
}

PeerConnection::Impl::~Impl() = default;  // shutdown() ran on the Runtime thread

std::expected<void, std::error_code> PeerConnection::Impl::make_ice(bool controlling) {
  IceConfig ice_config;
  ice_config.controlling = controlling;
  ice_config.stun_host = stun_host_;
  ice_config.stun_port = stun_port_;
  ice_config.port_min = config_.port_min;
  ice_config.port_max = config_.port_max;
  ice_config.local_addresses = config_.interface_addresses;
  IceTransport::Callbacks callbacks;
  callbacks.on_local_candidate = [this](const IceCandidate& c) {
    emit([line = format_candidate(c)](PeerConnectionCallbacks& cb) {
      if (cb.on_local_candidate) cb.on_local_candidate(line);
    });
  };
  callbacks.on_gathering_done = [this] {
    emit([](PeerConnectionCallbacks& cb) {
      if (cb.on_end_of_candidates) cb.on_end_of_candidates();
    });
  };
  callbacks.on_state = [this](IceState s) { on_ice_state(s); };
  callbacks.on_datagram = [this](ByteView d) { on_datagram(d); };
  auto ice = IceTransport::create(runtime_->context(), ice_config, std::move(callbacks));
  if (!ice) return std::unexpected(ice.error());
  ice_ = std::move(*ice);
  return {};
}

std::string PeerConnection::Impl::local_description(DtlsSetup setup) {
  SessionDescription d;
  d.session_id = session_id_;
  d.session_version = 2;
  d.ice_ufrag = ice_->local_ufrag();
  d.ice_pwd = ice_->local_pwd();
  d.ice_trickle = true;
  d.fingerprint = identity_->fingerprint();
  d.setup = setup;
  d.sctp_port = kDefaultSctpPort;
  d.max_message_size = static_cast<std::uint32_t>(config_.max_message_size);
  auto text = build_sdp(d);
  return text ? *text : std::string{};  // our own credentials always build
}

std::expected<std::string, std::error_code> PeerConnection::Impl::create_offer() {
  if (shut_down_) return fail_with(Errc::closed);
  if (side_ != Side::none) return fail_with(Errc::invalid_argument);
  if (auto made = make_ice(true); !made) return std::unexpected(made.error());
  side_ = Side::offerer;
  if (auto gathering = ice_->gather(); !gathering) return std::unexpected(gathering.error());
  arm_connect_timer();
  set_state(ConnectionState::connecting);
  return local_description(DtlsSetup::actpass);
}

std::expected<std::string, std::error_code> PeerConnection::Impl::accept_offer(std::string_view text) {
  if (shut_down_) return fail_with(Errc::closed);
  if (side_ != Side::none) return fail_with(Errc::invalid_argument);
  auto remote = parse_sdp(text);
  if (!remote) return std::unexpected(remote.error());
  // The offerer chose actpass (browsers do) and we take the client side, or it fixed its own.
  const bool dtls_client = remote->setup != DtlsSetup::active;
  if (auto made = make_ice(false); !made) return std::unexpected(made.error());
  side_ = Side::answerer;
  if (auto applied = apply_remote(*remote, dtls_client); !applied) return std::unexpected(applied.error());
  if (auto gathering = ice_->gather(); !gathering) return std::unexpected(gathering.error());
  arm_connect_timer();
  set_state(ConnectionState::connecting);
  return local_description(dtls_client ? DtlsSetup::active : DtlsSetup::passive);
}

std::expected<void, std::error_code> PeerConnection::Impl::accept_answer(std::string_view text) {
  if (shut_down_) return fail_with(Errc::closed);
  if (side_ != Side::offerer || remote_applied_) return fail_with(Errc::invalid_argument);
  auto remote = parse_sdp(text);
  if (!remote) return std::unexpected(remote.error());
  if (remote->setup == DtlsSetup::actpass) return fail_with(Errc::malformed);  // RFC 8842 §5.3
  return apply_remote(*remote, remote->setup == DtlsSetup::passive);
}

std::expected<void, std::error_code> PeerConnection::Impl::apply_remote(const SessionDescription& remote,
                                                                        bool dtls_client) {
  if (auto set = ice_->set_remote_credentials(remote.ice_ufrag, remote.ice_pwd); !set)
    return std::unexpected(set.error());
  dtls_client_ = dtls_client;

  DtlsTransport::Callbacks dtls_callbacks;
  dtls_callbacks.send_datagram = [this](ByteView d) {
    if (ice_) ice_->send(d);
  };
  dtls_callbacks.on_data = [this](ByteView d) {
    if (sctp_) sctp_->handle_packet(d);
  };
  dtls_callbacks.on_connected = [this] { on_dtls_connected(); };
  dtls_callbacks.on_failed = [this](std::string reason) { fail(std::move(reason)); };
  dtls_callbacks.on_closed = [this] { on_sctp_closed("DTLS closed by the peer"); };
  auto dtls = DtlsTransport::create(identity_,
                                    dtls_client ? DtlsTransport::Role::client : DtlsTransport::Role::server,
                                    remote.fingerprint, std::move(dtls_callbacks));
  if (!dtls) return std::unexpected(dtls.error());

  SctpConfig sctp_config;
  sctp_config.local_port = kDefaultSctpPort;
  sctp_config.remote_port = remote.sctp_port;
  sctp_config.max_message_size = config_.max_message_size;
  sctp_config.max_queued_bytes = config_.max_buffered_bytes;
  sctp_config.mtu = kSctpMtu;
  sctp_config.streams = kSctpStreams;
  SctpAssociation::Callbacks sctp_callbacks;
  sctp_callbacks.send_packet = [this](ByteView p) {
    if (dtls_) dtls_->send(p);
  };
  sctp_callbacks.on_connected = [this](std::uint16_t streams) { on_sctp_connected(streams); };
  sctp_callbacks.on_message = [this](std::uint16_t stream, std::uint32_t ppid, Bytes m) {
    on_sctp_message(stream, ppid, std::move(m));
  };
  sctp_callbacks.on_incoming_reset = [this](std::uint16_t stream) { on_incoming_reset(stream); };
  sctp_callbacks.on_oversized = [this](std::uint16_t stream) {
    spdlog::debug("webrtc: a message over {} bytes on stream {}: closing its channel",
                  config_.max_message_size, stream);
    if (Channel* channel = channel_on(stream)) close_channel(channel->info.id);
  };
  sctp_callbacks.on_writable = [this] { on_writable(); };
  sctp_callbacks.on_closed = [this](std::string reason) { on_sctp_closed(std::move(reason)); };
  auto sctp = SctpAssociation::create(runtime_, sctp_config, std::move(sctp_callbacks));
  if (!sctp) return std::unexpected(sctp.error());
  (*sctp)->set_remote_max_message_size(remote.max_message_size);

  dtls_ = std::move(*dtls);
  sctp_ = std::move(*sctp);
  remote_applied_ = true;
  const std::vector<IceCandidate>* lists[] = {&remote.candidates, &pending_candidates_};
  for (const auto* list : lists) {
    for (const auto& candidate : *list) {
      if (remote_candidates_ == config_.max_remote_candidates) break;
      if (ice_->add_remote_candidate(candidate)) ++remote_candidates_;
    }
  }
  pending_candidates_.clear();
  if (remote.end_of_candidates || pending_end_of_candidates_) ice_->remote_gathering_done();
  return {};
}

std::expected<void, std::error_code> PeerConnection::Impl::add_remote_candidate(std::string_view line) {
  if (shut_down_) return fail_with(Errc::closed);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' '))
    line.remove_suffix(1);
  if (line.empty() || line == "a=end-of-candidates" || line == "end-of-candidates") {
    if (remote_applied_) {
      ice_->remote_gathering_done();
    } else {
      pending_end_of_candidates_ = true;
    }
    return {};
  }
  auto candidate = parse_candidate(line);
  if (!candidate) return std::unexpected(candidate.error());
  if (candidate->transport != "udp" || candidate->component != 1) return fail_with(Errc::unsupported);
  if (!remote_applied_) {
    if (pending_candidates_.size() >= config_.max_remote_candidates) return fail_with(Errc::backpressure);
    pending_candidates_.push_back(std::move(*candidate));
    return {};
  }
  if (remote_candidates_ >= config_.max_remote_candidates) return fail_with(Errc::backpressure);
  auto added = ice_->add_remote_candidate(*candidate);
  if (added) ++remote_candidates_;
  return added;
}

void PeerConnection::Impl::on_ice_state(IceState state) {
  if (state == IceState::failed) {
    fail("ICE failed: no candidate pair works");
    return;
  }
  if (state == IceState::connected && dtls_ && dtls_client_) {
    dtls_->start();
    arm_dtls_timer();
  }
}

void PeerConnection::Impl::on_datagram(ByteView datagram) {
  // RFC 7983: 20..63 is DTLS; STUN (0..3) stays inside libnice.
  if (!dtls_ || datagram.empty() || datagram[0] < 20 || datagram[0] > 63) return;
  dtls_->handle_datagram(datagram);
  arm_dtls_timer();
}

void PeerConnection::Impl::on_dtls_connected() {
  if (sctp_) sctp_->connect();
}

void PeerConnection::Impl::on_sctp_connected(std::uint16_t) {
  if (connect_timer_) {
    g_source_destroy(connect_timer_);
    connect_timer_ = nullptr;
  }
  set_state(ConnectionState::connected);
  open_waiting_channels();
}

void PeerConnection::Impl::on_sctp_closed(std::string reason) {
  if (state_ == ConnectionState::connected) {
    spdlog::debug("webrtc: connection closed: {}", reason);
    close_all_channels();
    set_state(ConnectionState::closed);
    return;
  }
  fail(std::move(reason));
}

void PeerConnection::Impl::fail(std::string reason) {
  if (state_ == ConnectionState::failed || state_ == ConnectionState::closed) return;
  spdlog::debug("webrtc: connection failed: {}", reason);
  close_all_channels();
  set_state(ConnectionState::failed);
}

void PeerConnection::Impl::set_state(ConnectionState state) {
  if (state_ == state) return;
  state_ = state;
  emit([state](PeerConnectionCallbacks& cb) {
    if (cb.on_state) cb.on_state(state);
  });
}

void PeerConnection::Impl::arm_dtls_timer() {
  if (dtls_timer_) {
    g_source_destroy(dtls_timer_);
    dtls_timer_ = nullptr;
  }
  if (!dtls_) return;
  const auto timeout = dtls_->next_timeout();
  if (!timeout) return;
  GSource* source = g_timeout_source_new(static_cast<guint>(std::max<long long>(timeout->count(), 1)));
  g_source_set_callback(source, &Impl::on_dtls_timer, this, nullptr);
  g_source_attach(source, runtime_->context());
  g_source_unref(source);  // the context keeps it while attached
  dtls_timer_ = source;
}

int PeerConnection::Impl::on_dtls_timer(void* data) {
  auto* self = static_cast<Impl*>(data);
  self->dtls_timer_ = nullptr;
  if (self->dtls_) {
    self->dtls_->handle_timeout();
    self->arm_dtls_timer();
  }
  return G_SOURCE_REMOVE;
}

void PeerConnection::Impl::arm_connect_timer() {
  if (connect_timer_) return;
  GSource* source = g_timeout_source_new(static_cast<guint>(config_.connect_timeout.count()));
  g_source_set_callback(source, &Impl::on_connect_timer, this, nullptr);
  g_source_attach(source, runtime_->context());
  g_source_unref(source);
  connect_timer_ = source;
}

int PeerConnection::Impl::on_connect_timer(void* data) {
  auto* self = static_cast<Impl*>(data);
  self->connect_timer_ = nullptr;
  if (self->state_ != ConnectionState::connected) self->fail("timed out before the connection was up");
  return G_SOURCE_REMOVE;
}

void PeerConnection::Impl::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  for (GSource** timer : {&dtls_timer_, &connect_timer_}) {
    if (*timer) g_source_destroy(*timer);
    *timer = nullptr;
  }
  if (sctp_) sctp_->abort();  // the ABORT goes out through DTLS, which is still there
  if (dtls_) dtls_->close();
  sctp_.reset();
  dtls_.reset();
  ice_.reset();
  channels_.clear();
  by_stream_.clear();
  state_ = ConnectionState::closed;
}

void PeerConnection::Impl::resume_receive() {
  if (sctp_) sctp_->set_receive_paused(delivery_->receive_paused || delivery_->caller_paused);
}

// ---------------------------------------------------------------------------------------------
// Events to the caller.

void PeerConnection::Impl::emit(std::function<void(PeerConnectionCallbacks&)> event) {
  if (delivery_->closed) return;
  delivery_->poster([d = delivery_, event = std::move(event)] {
    if (!d->closed) event(d->callbacks);
  });
}

void PeerConnection::Impl::emit_message(ChannelId id, Bytes message, bool binary) {
  if (delivery_->closed) return;
  constexpr std::size_t kOverhead = 64;  // so that a flood of empty messages counts too
  const std::size_t size = message.size() + kOverhead;
  const std::size_t total = delivery_->undelivered.fetch_add(size) + size;
  if (total > config_.max_undelivered_bytes && !delivery_->receive_paused.exchange(true) && sctp_)
    sctp_->set_receive_paused(true);
  const std::size_t resume_below = config_.max_undelivered_bytes / 2;
  delivery_->poster([d = delivery_, weak = weak_from_this(), id, size, resume_below, binary,
                     message = std::move(message)]() mutable {
    const std::size_t left = d->undelivered.fetch_sub(size) - size;
    if (!d->closed && d->callbacks.on_message) d->callbacks.on_message(id, std::move(message), binary);
    if (left <= resume_below && d->receive_paused.exchange(false)) {
      if (auto impl = weak.lock())
        impl->runtime().post([weak] {
          if (auto i = weak.lock()) i->resume_receive();
        });
    }
  });
}

}  // namespace hyphae::webrtc
