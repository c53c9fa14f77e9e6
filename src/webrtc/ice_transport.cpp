#include "webrtc/ice_transport.hpp"

#include <arpa/inet.h>
#include <nice/agent.h>
#include <openssl/rand.h>
#include <sys/socket.h>

#include <array>

#include "core/error.hpp"

namespace hyphae::webrtc {

namespace {

constexpr std::size_t kUfragChars = 8;
constexpr std::size_t kPwdChars = 24;
constexpr int kSocketBufferBytes = 1 << 20;

std::unexpected<std::error_code> fail(Errc e) {
  return std::unexpected(make_error_code(e));
}

bool is_ip_literal(const std::string& s) {
  std::array<unsigned char, 16> buffer{};
  return inet_pton(AF_INET, s.c_str(), buffer.data()) == 1 ||
         inet_pton(AF_INET6, s.c_str(), buffer.data()) == 1;
}

std::string random_ice_string(std::size_t n) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out(n, 'A');
  std::array<unsigned char, 64> bytes{};
  RAND_bytes(bytes.data(), static_cast<int>(n));
  for (std::size_t i = 0; i < n; ++i) out[i] = kChars[bytes[i] & 63];
  return out;
}

CandidateType from_nice(NiceCandidateType type) {
  switch (type) {
    case NICE_CANDIDATE_TYPE_HOST:
      return CandidateType::host;
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
      return CandidateType::srflx;
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
      return CandidateType::prflx;
    case NICE_CANDIDATE_TYPE_RELAYED:
      return CandidateType::relay;
  }
  return CandidateType::host;
}

NiceCandidateType to_nice(CandidateType type) {
  switch (type) {
    case CandidateType::host:
      return NICE_CANDIDATE_TYPE_HOST;
    case CandidateType::srflx:
      return NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE;
    case CandidateType::prflx:
      return NICE_CANDIDATE_TYPE_PEER_REFLEXIVE;
    case CandidateType::relay:
      return NICE_CANDIDATE_TYPE_RELAYED;
  }
  return NICE_CANDIDATE_TYPE_HOST;
}

std::string address_text(const NiceAddress& address) {
  std::array<char, NICE_ADDRESS_STRING_LEN + 1> text{};
  nice_address_to_string(&address, text.data());
  return text.data();
}

}  // namespace

std::expected<std::unique_ptr<IceTransport>, std::error_code> IceTransport::create(GMainContext* context,
                                                                                   const IceConfig& config,
                                                                                   Callbacks callbacks) {
  if (!config.stun_host.empty() && !is_ip_literal(config.stun_host)) return fail(Errc::invalid_argument);
  if (config.port_min > config.port_max) return fail(Errc::invalid_argument);
  for (const auto& address : config.local_addresses)
    if (!is_ip_literal(address)) return fail(Errc::invalid_argument);

  std::unique_ptr<IceTransport> t(new IceTransport());
  t->context_ = context;
  t->callbacks_ = std::move(callbacks);
  // Consent freshness (RFC 7675): a peer that stops answering, a closed tab, fails the
  // connection in about 30 s instead of never.
  t->agent_ = nice_agent_new_full(
      context, NICE_COMPATIBILITY_RFC5245,
      static_cast<NiceAgentOption>(NICE_AGENT_OPTION_ICE_TRICKLE | NICE_AGENT_OPTION_CONSENT_FRESHNESS));
  if (!t->agent_) return fail(Errc::invalid_argument);
  g_object_set(G_OBJECT(t->agent_), "controlling-mode", config.controlling ? TRUE : FALSE, "upnp", FALSE,
               "ice-tcp", FALSE, "ice-udp", TRUE, nullptr);
  if (!config.stun_host.empty())
    g_object_set(G_OBJECT(t->agent_), "stun-server", config.stun_host.c_str(), "stun-server-port",
                 static_cast<guint>(config.stun_port), nullptr);

  g_signal_connect(G_OBJECT(t->agent_), "new-candidate-full", G_CALLBACK(&IceTransport::on_candidate),
                   t.get());
  g_signal_connect(G_OBJECT(t->agent_), "candidate-gathering-done",
                   G_CALLBACK(&IceTransport::on_gathering_done), t.get());
  g_signal_connect(G_OBJECT(t->agent_), "new-selected-pair-full", G_CALLBACK(&IceTransport::on_selected_pair),
                   t.get());
  g_signal_connect(G_OBJECT(t->agent_), "component-state-changed",
                   G_CALLBACK(&IceTransport::on_component_state), t.get());

  for (const auto& text : config.local_addresses) {
    NiceAddress address;
    nice_address_init(&address);
    if (!nice_address_set_from_string(&address, text.c_str()) ||
        !nice_agent_add_local_address(t->agent_, &address))
      return fail(Errc::invalid_argument);
  }
  t->stream_ = nice_agent_add_stream(t->agent_, 1);
  if (t->stream_ == 0) return fail(Errc::invalid_argument);
  if (config.port_min != 0 || config.port_max != 0)
    nice_agent_set_port_range(t->agent_, t->stream_, 1, config.port_min, config.port_max);
  t->ufrag_ = random_ice_string(kUfragChars);
  t->pwd_ = random_ice_string(kPwdChars);
  if (!nice_agent_set_local_credentials(t->agent_, t->stream_, t->ufrag_.c_str(), t->pwd_.c_str()))
    return fail(Errc::invalid_argument);
  nice_agent_attach_recv(t->agent_, t->stream_, 1, context, reinterpret_cast<NiceAgentRecvFunc>(&on_receive),
                         t.get());
  return t;
}

IceTransport::~IceTransport() {
  if (!agent_) return;
  g_signal_handlers_disconnect_by_data(G_OBJECT(agent_), this);
  if (stream_ != 0) {
    nice_agent_attach_recv(agent_, stream_, 1, context_, nullptr, nullptr);
    nice_agent_remove_stream(agent_, stream_);
  }
  g_object_unref(agent_);
}

std::expected<void, std::error_code> IceTransport::gather() {
  if (gathering_) return {};
  gathering_ = true;
  if (!nice_agent_gather_candidates(agent_, stream_)) return fail(Errc::closed);
  return {};
}

std::expected<void, std::error_code> IceTransport::set_remote_credentials(const std::string& ufrag,
                                                                          const std::string& pwd) {
  if (!nice_agent_set_remote_credentials(agent_, stream_, ufrag.c_str(), pwd.c_str()))
    return fail(Errc::invalid_argument);
  remote_credentials_set_ = true;
  return {};
}

std::expected<void, std::error_code> IceTransport::add_remote_candidate(const IceCandidate& candidate) {
  if (candidate.transport != "udp" || candidate.component != 1) return fail(Errc::unsupported);
  if (!is_ip_literal(candidate.address)) return fail(Errc::unsupported);  // mDNS names need a resolver
  NiceCandidate* c = nice_candidate_new(to_nice(candidate.type));
  c->component_id = 1;
  c->stream_id = stream_;
  c->transport = NICE_CANDIDATE_TRANSPORT_UDP;
  c->priority = candidate.priority;
  g_strlcpy(c->foundation, candidate.foundation.c_str(), NICE_CANDIDATE_MAX_FOUNDATION);
  bool ok = nice_address_set_from_string(&c->addr, candidate.address.c_str());
  nice_address_set_port(&c->addr, candidate.port);
  if (ok && !candidate.related_address.empty() && is_ip_literal(candidate.related_address)) {
    ok = nice_address_set_from_string(&c->base_addr, candidate.related_address.c_str());
    nice_address_set_port(&c->base_addr, candidate.related_port);
  }
  int added = -1;
  if (ok) {
    GSList* list = g_slist_append(nullptr, c);
    added = nice_agent_set_remote_candidates(agent_, stream_, 1, list);
    g_slist_free(list);
  }
  nice_candidate_free(c);
  if (added < 0) return fail(Errc::invalid_argument);
  return {};
}

void IceTransport::remote_gathering_done() {
  nice_agent_peer_candidate_gathering_done(agent_, stream_);
}

bool IceTransport::send(ByteView datagram) {
  if (state_ != IceState::connected) return false;
  const int sent = nice_agent_send(agent_, stream_, 1, static_cast<guint>(datagram.size()),
                                   reinterpret_cast<const gchar*>(datagram.data()));
  return sent == static_cast<int>(datagram.size());
}

void IceTransport::on_candidate(NiceAgent*, void* candidate, void* self) {
  auto* t = static_cast<IceTransport*>(self);
  const auto* c = static_cast<const NiceCandidate*>(candidate);
  if (c->transport != NICE_CANDIDATE_TRANSPORT_UDP || c->component_id != 1) return;
  IceCandidate out;
  out.foundation = c->foundation;
  out.component = 1;
  out.transport = "udp";
  out.priority = c->priority;
  out.address = address_text(c->addr);
  out.port = static_cast<std::uint16_t>(nice_address_get_port(&c->addr));
  out.type = from_nice(c->type);
  if (c->type != NICE_CANDIDATE_TYPE_HOST && nice_address_is_valid(&c->base_addr)) {
    out.related_address = address_text(c->base_addr);
    out.related_port = static_cast<std::uint16_t>(nice_address_get_port(&c->base_addr));
  }
  if (t->callbacks_.on_local_candidate) t->callbacks_.on_local_candidate(out);
}

void IceTransport::on_gathering_done(NiceAgent*, unsigned, void* self) {
  auto* t = static_cast<IceTransport*>(self);
  if (t->callbacks_.on_gathering_done) t->callbacks_.on_gathering_done();
}

void IceTransport::on_component_state(NiceAgent*, unsigned, unsigned, unsigned state, void* self) {
  auto* t = static_cast<IceTransport*>(self);
  IceState next = t->state_;
  switch (state) {
    case NICE_COMPONENT_STATE_CONNECTING:
      if (t->state_ == IceState::new_) next = IceState::checking;
      break;
    case NICE_COMPONENT_STATE_CONNECTED:
    case NICE_COMPONENT_STATE_READY:
      next = IceState::connected;
      break;
    case NICE_COMPONENT_STATE_FAILED:
      next = IceState::failed;
      break;
    default:
      break;
  }
  if (next == t->state_) return;
  t->state_ = next;
  if (next == IceState::connected) t->enlarge_socket_buffers();
  if (t->callbacks_.on_state) t->callbacks_.on_state(next);
}

void IceTransport::on_selected_pair(NiceAgent*, unsigned, unsigned, void*, void*, void* self) {
  // The pair can change after the first one (a higher-priority pair succeeding later): each new
  // one gets the larger buffers.
  static_cast<IceTransport*>(self)->enlarge_socket_buffers();
}

void IceTransport::enlarge_socket_buffers() {
  // Bursts of SCTP packets overflow the kernel's default UDP receive buffer (about 200 KiB) when
  // this thread is busy for a moment; the kernel caps the request at net.core.rmem_max.
  GSocket* socket = nice_agent_get_selected_socket(agent_, stream_, 1);
  if (!socket) return;
  for (int option : {SO_RCVBUF, SO_SNDBUF})
    g_socket_set_option(socket, SOL_SOCKET, option, kSocketBufferBytes, nullptr);
  g_object_unref(socket);
}

void IceTransport::on_receive(NiceAgent*, unsigned, unsigned, unsigned size, char* data, void* self) {
  auto* t = static_cast<IceTransport*>(self);
  if (size == 0 || !t->callbacks_.on_datagram) return;
  t->callbacks_.on_datagram(ByteView(reinterpret_cast<const std::uint8_t*>(data), size));
}

}  // namespace hyphae::webrtc
