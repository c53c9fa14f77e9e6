// PeerConnection::Impl: the session's state on the Runtime thread: which side offered, the ICE,
// DTLS and SCTP transports wired together, the data channels and their streams, the timers.
// peer_connection.cpp holds the session (descriptions, transports, state); data_channels.cpp the
// channels (DCEP, messages, stream resets).
// Thread-safety: every member but `delivery_` (shared with the posted events) is touched only on
// the Runtime thread. Ownership: shared by the PeerConnection handle and, briefly, by tasks
// posted to the Runtime; transports are torn down by shutdown(), on the Runtime thread, outside
// any transport callback.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "webrtc/dtls_transport.hpp"
#include "webrtc/ice_transport.hpp"
#include "webrtc/peer_connection.hpp"
#include "webrtc/runtime.hpp"
#include "webrtc/sctp_association.hpp"
#include "webrtc/sdp.hpp"

using GSource = struct _GSource;

namespace hyphae::webrtc {

// What the posted events share with the connection: the caller's callbacks and poster, whether
// it is closed, and how many received bytes wait in the caller's queue.
struct Delivery {
  PeerConnectionCallbacks callbacks;
  Poster poster;
  std::atomic<bool> closed{false};
  std::atomic<std::size_t> undelivered{0};
  std::atomic<bool> receive_paused{false};
  std::atomic<bool> caller_paused{false};  // PeerConnection::set_receive_paused
};

class PeerConnection::Impl : public std::enable_shared_from_this<PeerConnection::Impl> {
 public:
  Impl(PeerConnectionConfig config, std::shared_ptr<Runtime> runtime, std::shared_ptr<Delivery> delivery,
       std::shared_ptr<DtlsIdentity> identity, std::string stun_host, std::uint16_t stun_port);
  ~Impl();

  Runtime& runtime() { return *runtime_; }
  const std::shared_ptr<Delivery>& delivery() const { return delivery_; }

  // Session (peer_connection.cpp).
  std::expected<std::string, std::error_code> create_offer();
  std::expected<std::string, std::error_code> accept_offer(std::string_view text);
  std::expected<void, std::error_code> accept_answer(std::string_view text);
  std::expected<void, std::error_code> add_remote_candidate(std::string_view line);
  ConnectionState state() const { return state_; }
  void shutdown();
  void resume_receive();

  // Channels (data_channels.cpp).
  std::expected<ChannelId, std::error_code> open_channel(std::string label, std::string protocol,
                                                         bool ordered,
                                                         std::optional<std::uint16_t> max_retransmits);
  std::expected<void, std::error_code> send(ChannelId id, ByteView message, bool binary);
  std::size_t buffered_amount(ChannelId id) const;
  void close_channel(ChannelId id);

 private:
  enum class Side { none, offerer, answerer };
  enum class ChannelState { waiting, opening, open, closing };
  struct Channel {
    ChannelInfo info;
    ChannelState state = ChannelState::waiting;  // waiting: for SCTP or a stream id
    bool has_stream = false;
    bool reset_sent = false;
    bool above_low = false;  // buffered amount went over the low mark since the last event
  };

  // Session.
  std::expected<void, std::error_code> make_ice(bool controlling);
  std::expected<void, std::error_code> apply_remote(const SessionDescription& remote, bool dtls_client);
  std::string local_description(DtlsSetup setup);
  void on_ice_state(IceState state);
  void on_datagram(ByteView datagram);
  void on_dtls_connected();
  void on_sctp_connected(std::uint16_t outbound_streams);
  void on_sctp_closed(std::string reason);
  void fail(std::string reason);
  void set_state(ConnectionState state);
  void arm_dtls_timer();
  void arm_connect_timer();
  static int on_dtls_timer(void* self);
  static int on_connect_timer(void* self);

  // Channels.
  void open_waiting_channels();
  bool assign_stream(Channel& channel);
  void on_sctp_message(std::uint16_t stream, std::uint32_t ppid, Bytes message);
  void on_dcep(std::uint16_t stream, ByteView message);
  void on_incoming_reset(std::uint16_t stream);
  void on_writable();
  void finish_channel(ChannelId id);
  void close_all_channels();
  Channel* channel_on(std::uint16_t stream);

  // Events to the caller.
  void emit(std::function<void(PeerConnectionCallbacks&)> event);
  void emit_message(ChannelId id, Bytes message, bool binary);

  PeerConnectionConfig config_;
  std::shared_ptr<Runtime> runtime_;
  std::shared_ptr<Delivery> delivery_;
  std::shared_ptr<DtlsIdentity> identity_;
  std::string stun_host_;
  std::uint16_t stun_port_ = 0;

  Side side_ = Side::none;
  bool remote_applied_ = false;
  bool shut_down_ = false;
  bool dtls_client_ = false;
  ConnectionState state_ = ConnectionState::new_;
  std::uint64_t session_id_ = 0;
  std::unique_ptr<IceTransport> ice_;
  std::unique_ptr<DtlsTransport> dtls_;
  std::unique_ptr<SctpAssociation> sctp_;
  std::vector<IceCandidate> pending_candidates_;  // before the remote description
  bool pending_end_of_candidates_ = false;
  std::size_t remote_candidates_ = 0;  // given to ICE, at most max_remote_candidates
  GSource* dtls_timer_ = nullptr;
  GSource* connect_timer_ = nullptr;

  std::map<ChannelId, Channel> channels_;
  std::map<std::uint16_t, ChannelId> by_stream_;
  ChannelId next_channel_id_ = 1;
};

}  // namespace hyphae::webrtc
