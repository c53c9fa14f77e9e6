// IceTransport: one ICE agent (libnice, RFC 8445 full ICE in RFC 5245 compatibility, trickle)
// with one stream of one UDP component, as a bundled data-channel session needs. It gathers host
// candidates, and server-reflexive ones when a STUN server is set, reports each as an
// IceCandidate, takes the remote credentials and candidates (parsed by our own SDP code, not by
// libnice's), and carries datagrams once a pair is selected. UPnP and ICE-TCP are off; consent
// freshness (RFC 7675) is on; the selected pair's socket gets 1 MiB buffers (capped by the
// kernel's rmem_max/wmem_max).
// Thread-safety: none; created, used and destroyed on the Runtime thread whose GMainContext it
// is given, where its callbacks also run. Callbacks may not destroy the transport.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"
#include "webrtc/sdp.hpp"

using GMainContext = struct _GMainContext;
using NiceAgent = struct _NiceAgent;

namespace hyphae::webrtc {

struct IceConfig {
  bool controlling = false;
  std::string stun_host;  // an IP literal; empty for none
  std::uint16_t stun_port = 3478;
  std::uint16_t port_min = 0;  // 0 and 0: any port
  std::uint16_t port_max = 0;
  // IP literals to gather host candidates on; empty: every interface (libnice leaves loopback
  // out unless there is nothing else).
  std::vector<std::string> local_addresses;
};

enum class IceState { new_, checking, connected, failed };

class IceTransport {
 public:
  struct Callbacks {
    std::function<void(const IceCandidate&)> on_local_candidate;
    std::function<void()> on_gathering_done;
    std::function<void(IceState)> on_state;
    std::function<void(ByteView)> on_datagram;
  };

  // Errc::invalid_argument for a STUN host that is not an IP literal or a bad port range.
  static std::expected<std::unique_ptr<IceTransport>, std::error_code> create(GMainContext* context,
                                                                              const IceConfig& config,
                                                                              Callbacks callbacks);
  ~IceTransport();
  IceTransport(const IceTransport&) = delete;
  IceTransport& operator=(const IceTransport&) = delete;

  const std::string& local_ufrag() const { return ufrag_; }
  const std::string& local_pwd() const { return pwd_; }

  // Starts gathering; candidates arrive through on_local_candidate. Once.
  std::expected<void, std::error_code> gather();
  std::expected<void, std::error_code> set_remote_credentials(const std::string& ufrag,
                                                              const std::string& pwd);
  // Errc::unsupported for TCP, host-name (mDNS) and non-RTP-component candidates, which we skip.
  std::expected<void, std::error_code> add_remote_candidate(const IceCandidate& candidate);
  void remote_gathering_done();
  // False when no pair is selected yet or the socket refused it.
  bool send(ByteView datagram);

 private:
  IceTransport() = default;
  void enlarge_socket_buffers();
  static void on_candidate(NiceAgent* agent, void* candidate, void* self);
  static void on_gathering_done(NiceAgent* agent, unsigned stream, void* self);
  static void on_component_state(NiceAgent* agent, unsigned stream, unsigned component, unsigned state,
                                 void* self);
  static void on_selected_pair(NiceAgent* agent, unsigned stream, unsigned component, void* local,
                               void* remote, void* self);
  static void on_receive(NiceAgent* agent, unsigned stream, unsigned component, unsigned size, char* data,
                         void* self);

  NiceAgent* agent_ = nullptr;
  GMainContext* context_ = nullptr;
  unsigned stream_ = 0;
  bool gathering_ = false;
  bool remote_credentials_set_ = false;
  IceState state_ = IceState::new_;
  std::string ufrag_, pwd_;
  Callbacks callbacks_;
};

}  // namespace hyphae::webrtc
