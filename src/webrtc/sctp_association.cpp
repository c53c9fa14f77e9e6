#include "webrtc/sctp_association.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <usrsctp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/error.hpp"

namespace hyphae::webrtc {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxNotificationBytes = 64 * 1024;
constexpr std::size_t kMinSocketBuffer = 1 << 20;

std::unexpected<std::error_code> fail(Errc e) {
  return std::unexpected(make_error_code(e));
}

template <typename T>
bool set_option(struct socket* s, int level, int name, const T& value) {
  return usrsctp_setsockopt(s, level, name, &value, sizeof(value)) == 0;
}

}  // namespace

std::expected<std::unique_ptr<SctpAssociation>, std::error_code> SctpAssociation::create(
    std::shared_ptr<Runtime> runtime, const SctpConfig& config, Callbacks callbacks) {
  if (!runtime || config.max_message_size == 0 || config.streams == 0) return fail(Errc::invalid_argument);
  std::unique_ptr<SctpAssociation> a(new SctpAssociation(std::move(runtime)));
  a->config_ = config;
  a->callbacks_ = std::move(callbacks);
  if (auto opened = a->open_socket(); !opened) return std::unexpected(opened.error());
  return a;
}

std::expected<void, std::error_code> SctpAssociation::open_socket() {
  address_ = runtime_->register_sctp(this);
  socket_ = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, nullptr, nullptr, 0, nullptr);
  if (!socket_) return fail(Errc::invalid_argument);
  bool ok = usrsctp_set_non_blocking(socket_, 1) == 0;

  linger abort_on_close{1, 0};  // close() sends ABORT: nothing lingers after the PeerConnection
  ok = ok && set_option(socket_, SOL_SOCKET, SO_LINGER, abort_on_close);
  // Room for a few maximum-size messages each way.
  const int buffer = static_cast<int>(std::max(kMinSocketBuffer, 4 * config_.max_message_size));
  ok = ok && set_option(socket_, SOL_SOCKET, SO_SNDBUF, buffer);
  ok = ok && set_option(socket_, SOL_SOCKET, SO_RCVBUF, buffer);

  sctp_assoc_value reset{SCTP_FUTURE_ASSOC, SCTP_ENABLE_RESET_STREAM_REQ};
  ok = ok && set_option(socket_, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, reset);
  ok = ok && set_option(socket_, IPPROTO_SCTP, SCTP_NODELAY, 1);
  ok = ok && set_option(socket_, IPPROTO_SCTP, SCTP_RECVRCVINFO, 1);
  for (std::uint16_t type : {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT, SCTP_SENDER_DRY_EVENT}) {
    sctp_event event{};
    event.se_assoc_id = SCTP_FUTURE_ASSOC;
    event.se_type = type;
    event.se_on = 1;
    ok = ok && set_option(socket_, IPPROTO_SCTP, SCTP_EVENT, event);
  }
  sctp_initmsg init{};
  init.sinit_num_ostreams = config_.streams;
  init.sinit_max_instreams = config_.streams;
  ok = ok && set_option(socket_, IPPROTO_SCTP, SCTP_INITMSG, init);

  sctp_paddrparams path{};
  path.spp_assoc_id = SCTP_FUTURE_ASSOC;
  path.spp_flags = SPP_PMTUD_DISABLE;
  path.spp_pathmtu = static_cast<std::uint32_t>(config_.mtu);
  ok = ok && set_option(socket_, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, path);

  sockaddr_conn local{};
  local.sconn_family = AF_CONN;
  local.sconn_port = htons(config_.local_port);
  local.sconn_addr = address_;
  ok = ok && usrsctp_bind(socket_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) == 0;
  if (!ok) return fail(Errc::invalid_argument);
  return {};
}

SctpAssociation::~SctpAssociation() {
  callbacks_ = {};  // the ABORT that close sends goes nowhere once the owner is leaving
  if (socket_) usrsctp_close(socket_);
  if (address_) runtime_->unregister_sctp(address_);
}

void SctpAssociation::abort() {
  if (!socket_) return;
  state_ = State::closed;
  Callbacks only_packets;
  only_packets.send_packet = std::move(callbacks_.send_packet);
  callbacks_ = std::move(only_packets);
  usrsctp_close(socket_);
  socket_ = nullptr;
  callbacks_ = {};
}

void SctpAssociation::connect() {
  if (state_ != State::idle) return;
  state_ = State::connecting;
  sockaddr_conn remote{};
  remote.sconn_family = AF_CONN;
  remote.sconn_port = htons(config_.remote_port);
  remote.sconn_addr = address_;
  const int r = usrsctp_connect(socket_, reinterpret_cast<sockaddr*>(&remote), sizeof(remote));
  if (r < 0 && errno != EINPROGRESS) {
    close_with("SCTP connect failed: " + std::string(std::strerror(errno)));
    return;
  }
  pump();
}

void SctpAssociation::handle_packet(ByteView packet) {
  if (state_ == State::closed || packet.empty()) return;
  usrsctp_conninput(address_, packet.data(), packet.size(), 0);
  pump();
}

void SctpAssociation::sctp_output(const std::uint8_t* data, std::size_t size) {
  if (callbacks_.send_packet) callbacks_.send_packet(ByteView(data, size));
}

void SctpAssociation::sctp_timers_ran() {
  if (state_ == State::connecting || state_ == State::connected) pump();
}

void SctpAssociation::set_receive_paused(bool paused) {
  receive_paused_ = paused;
  if (!paused) pump();
}

void SctpAssociation::pump() {
  if (in_pump_) return;  // a callback inside already pumps
  in_pump_ = true;
  drain_incoming();
  if (state_ == State::connected) flush_queue();
  if (state_ == State::connected) flush_resets();
  in_pump_ = false;
}

void SctpAssociation::drain_incoming() {
  if (!read_buffer_) read_buffer_ = std::make_unique_for_overwrite<std::uint8_t[]>(kReadChunk);
  std::uint8_t* const buffer = read_buffer_.get();
  Bytes notification;
  while (state_ != State::closed && socket_) {
    sctp_rcvinfo info{};
    socklen_t info_len = sizeof(info);
    unsigned int info_type = SCTP_RECVV_NOINFO;
    int flags = 0;
    sockaddr_conn from{};
    socklen_t from_len = sizeof(from);
    // While paused nothing is read, notifications included (usrsctp queues them with the data).
    if (receive_paused_) break;
    const ssize_t n = usrsctp_recvv(socket_, buffer, kReadChunk, reinterpret_cast<sockaddr*>(&from),
                                    &from_len, &info, &info_len, &info_type, &flags);
    if (n < 0) {
      if (errno == EWOULDBLOCK || errno == EAGAIN) return;
      if (state_ == State::connecting && errno == ENOTCONN) return;
      close_with("SCTP receive failed: " + std::string(std::strerror(errno)));
      return;
    }
    if (n == 0) {
      close_with("SCTP association shut down");
      return;
    }
    const ByteView chunk(buffer, static_cast<std::size_t>(n));
    if (flags & MSG_NOTIFICATION) {
      if (notification.size() + chunk.size() > kMaxNotificationBytes) {
        notification.clear();
        continue;
      }
      append(notification, chunk);
      if (flags & MSG_EOR) {
        handle_notification(notification.data(), notification.size());
        notification.clear();
      }
      continue;
    }
    if (info_type != SCTP_RECVV_RCVINFO) continue;
    const std::uint16_t stream = info.rcv_sid;
    const std::uint32_t ppid = ntohl(info.rcv_ppid);
    // usrsctp hands over one message at a time (no interleaving is negotiated), but the bound
    // below holds whatever it does: at most two maximum-size messages in reassembly.
    Bytes& partial = partial_[stream];
    if (partial_oversized_[stream] || partial.size() + chunk.size() > config_.max_message_size ||
        partial_total_ + chunk.size() > 2 * config_.max_message_size) {
      partial_oversized_[stream] = true;
      partial_total_ -= partial.size();
      partial.clear();
      partial.shrink_to_fit();
    } else {
      append(partial, chunk);
      partial_total_ += chunk.size();
    }
    if (!(flags & MSG_EOR)) continue;
    const bool oversized = partial_oversized_[stream];
    Bytes message = std::move(partial);
    partial_total_ -= message.size();
    partial_.erase(stream);
    partial_oversized_.erase(stream);
    if (oversized) {
      if (callbacks_.on_oversized) callbacks_.on_oversized(stream);
      continue;
    }
    if (callbacks_.on_message) callbacks_.on_message(stream, ppid, std::move(message));
  }
}

void SctpAssociation::handle_notification(const std::uint8_t* data, std::size_t size) {
  if (size < sizeof(decltype(sctp_notification::sn_header))) return;
  decltype(sctp_notification::sn_header) header{};
  std::memcpy(&header, data, sizeof(header));
  if (header.sn_length > size) return;
  switch (header.sn_type) {
    case SCTP_ASSOC_CHANGE: {
      if (size < sizeof(sctp_assoc_change)) return;
      sctp_assoc_change change{};
      std::memcpy(&change, data, sizeof(change));
      if (change.sac_state == SCTP_COMM_UP && state_ == State::connecting) {
        state_ = State::connected;
        outbound_streams_ = change.sac_outbound_streams;
        if (callbacks_.on_connected) callbacks_.on_connected(outbound_streams_);
      } else if (change.sac_state == SCTP_COMM_LOST || change.sac_state == SCTP_SHUTDOWN_COMP ||
                 change.sac_state == SCTP_CANT_STR_ASSOC) {
        close_with(change.sac_state == SCTP_SHUTDOWN_COMP ? "SCTP association shut down"
                                                          : "SCTP association lost");
      } else if (change.sac_state == SCTP_RESTART) {
        outbound_streams_ = change.sac_outbound_streams;
      }
      return;
    }
    case SCTP_STREAM_RESET_EVENT: {
      if (size < sizeof(sctp_stream_reset_event)) return;
      sctp_stream_reset_event event{};
      std::memcpy(&event, data, sizeof(event));
      if (event.strreset_flags & (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED)) return;
      if (!(event.strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN)) return;
      const std::size_t count =
          (std::min<std::size_t>(event.strreset_length, size) - sizeof(sctp_stream_reset_event)) / 2;
      for (std::size_t i = 0; i < count; ++i) {
        std::uint16_t stream = 0;
        std::memcpy(&stream, data + sizeof(sctp_stream_reset_event) + 2 * i, 2);
        if (auto it = partial_.find(stream); it != partial_.end()) {
          partial_total_ -= it->second.size();
          partial_.erase(it);
        }
        partial_oversized_.erase(stream);
        if (callbacks_.on_incoming_reset) callbacks_.on_incoming_reset(stream);
      }
      return;
    }
    default:
      return;  // SENDER_DRY: the pump that read it flushes the queue
  }
}

std::expected<void, std::error_code> SctpAssociation::send(std::uint16_t stream, std::uint32_t ppid,
                                                           ByteView message, const SendOptions& options) {
  if (state_ != State::connected) return fail(Errc::closed);
  if (message.empty()) return fail(Errc::invalid_argument);
  if (stream >= outbound_streams_) return fail(Errc::invalid_argument);
  const std::size_t limit =
      remote_max_message_size_ == 0 ? config_.max_message_size * 4 : remote_max_message_size_;
  if (message.size() > limit) return fail(Errc::too_large);
  if (queued_total_ + message.size() > config_.max_queued_bytes) return fail(Errc::backpressure);
  Pending pending{stream, ppid, Bytes(message.begin(), message.end()), options};
  if (queue_.empty()) {
    const int sent = try_send(pending);
    if (sent == 1) return {};
    if (sent < 0) return fail(Errc::closed);
  }
  queued_total_ += pending.data.size();
  queued_per_stream_[stream] += pending.data.size();
  queue_.push_back(std::move(pending));
  return {};
}

int SctpAssociation::try_send(const Pending& m) {
  sctp_sendv_spa spa{};
  spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
  spa.sendv_sndinfo.snd_sid = m.stream;
  spa.sendv_sndinfo.snd_ppid = htonl(m.ppid);
  spa.sendv_sndinfo.snd_flags = m.options.ordered ? 0 : SCTP_UNORDERED;
  if (m.options.max_retransmits) {
    spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
    spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_RTX;
    spa.sendv_prinfo.pr_value = *m.options.max_retransmits;
  } else if (m.options.lifetime_ms) {
    spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
    spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_TTL;
    spa.sendv_prinfo.pr_value = *m.options.lifetime_ms;
  }
  const ssize_t n =
      usrsctp_sendv(socket_, m.data.data(), m.data.size(), nullptr, 0, &spa, sizeof(spa), SCTP_SENDV_SPA, 0);
  if (n == static_cast<ssize_t>(m.data.size())) return 1;
  if (n < 0 && (errno == EWOULDBLOCK || errno == EAGAIN)) return 0;
  return -1;
}

void SctpAssociation::flush_queue() {
  bool progressed = false;
  while (!queue_.empty() && state_ == State::connected) {
    const int sent = try_send(queue_.front());
    if (sent == 0) break;
    Pending& front = queue_.front();
    queued_total_ -= front.data.size();
    auto it = queued_per_stream_.find(front.stream);
    if (it != queued_per_stream_.end() && (it->second -= front.data.size()) == 0)
      queued_per_stream_.erase(it);
    queue_.pop_front();
    progressed = true;
  }
  if (progressed && callbacks_.on_writable) callbacks_.on_writable();
}

void SctpAssociation::reset_stream(std::uint16_t stream) {
  if (state_ != State::connected) return;
  pending_resets_.insert(stream);
  flush_resets();
}

void SctpAssociation::flush_resets() {
  // A stream is reset once what we queued for it went into the socket (usrsctp itself sends the
  // request after the data already there); usrsctp takes one request at a time and says EBUSY or
  // EALREADY to the next while one is outstanding, so those wait for a later pump.
  for (auto it = pending_resets_.begin(); it != pending_resets_.end();) {
    const std::uint16_t stream = *it;
    if (queued_bytes(stream) > 0) {
      ++it;
      continue;
    }
    std::vector<std::uint8_t> request(sizeof(sctp_reset_streams) + sizeof(std::uint16_t));
    sctp_reset_streams header{};
    header.srs_assoc_id = SCTP_ALL_ASSOC;
    header.srs_flags = SCTP_STREAM_RESET_OUTGOING;
    header.srs_number_streams = 1;
    std::memcpy(request.data(), &header, sizeof(header));
    std::memcpy(request.data() + sizeof(header), &stream, sizeof(stream));
    const int r = usrsctp_setsockopt(socket_, IPPROTO_SCTP, SCTP_RESET_STREAMS, request.data(),
                                     static_cast<socklen_t>(request.size()));
    if (r < 0 && (errno == EBUSY || errno == EALREADY || errno == EAGAIN)) return;
    it = pending_resets_.erase(it);
  }
}

std::size_t SctpAssociation::queued_bytes(std::uint16_t stream) const {
  auto it = queued_per_stream_.find(stream);
  return it == queued_per_stream_.end() ? 0 : it->second;
}

void SctpAssociation::close_with(std::string reason) {
  if (state_ == State::closed) return;
  state_ = State::closed;
  queue_.clear();
  queued_total_ = 0;
  queued_per_stream_.clear();
  if (callbacks_.on_closed) callbacks_.on_closed(std::move(reason));
}

}  // namespace hyphae::webrtc
