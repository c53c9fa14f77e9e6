// The data channels of a PeerConnection (RFC 8831, RFC 8832): stream ids by DTLS role (even for
// the DTLS client, odd for the server), DCEP open and acknowledgement, messages by PPID, closing
// by resetting both directions of the stream.
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "webrtc/dcep.hpp"
#include "webrtc/peer_connection_impl.hpp"

namespace hyphae::webrtc {

namespace {

std::unexpected<std::error_code> fail_with(Errc e) {
  return std::unexpected(make_error_code(e));
}

SendOptions send_options(const ChannelInfo& info) {
  SendOptions options;
  options.ordered = info.ordered;
  options.max_retransmits = info.max_retransmits;
  options.lifetime_ms = info.max_packet_life_time_ms;
  return options;
}

// DCEP messages travel ordered and reliable whatever the channel (RFC 8832 §6).
const SendOptions kDcepOptions{};

}  // namespace

std::expected<ChannelId, std::error_code> PeerConnection::Impl::open_channel(
    std::string label, std::string protocol, bool ordered, std::optional<std::uint16_t> max_retransmits) {
  if (shut_down_ || state_ == ConnectionState::failed || state_ == ConnectionState::closed)
    return fail_with(Errc::closed);
  if (label.size() > kMaxDcepLabelBytes || protocol.size() > kMaxDcepLabelBytes)
    return fail_with(Errc::invalid_argument);
  if (channels_.size() >= config_.max_channels) return fail_with(Errc::too_large);
  Channel channel;
  channel.info.id = next_channel_id_++;
  channel.info.label = std::move(label);
  channel.info.protocol = std::move(protocol);
  channel.info.ordered = ordered;
  channel.info.max_retransmits = max_retransmits;
  const ChannelId id = channel.info.id;
  channels_.emplace(id, std::move(channel));
  if (sctp_ && sctp_->connected()) open_waiting_channels();
  return id;
}

bool PeerConnection::Impl::assign_stream(Channel& channel) {
  const std::uint32_t limit = sctp_ ? sctp_->outbound_streams() : 0;
  for (std::uint32_t stream = dtls_client_ ? 0 : 1; stream < limit && stream < 65535; stream += 2) {
    if (by_stream_.contains(static_cast<std::uint16_t>(stream))) continue;
    channel.info.stream = static_cast<std::uint16_t>(stream);
    channel.has_stream = true;
    by_stream_[channel.info.stream] = channel.info.id;
    return true;
  }
  return false;
}

void PeerConnection::Impl::open_waiting_channels() {
  std::vector<ChannelId> no_stream;
  for (auto& [id, channel] : channels_) {
    if (channel.state != ChannelState::waiting) continue;
    if (!assign_stream(channel)) {
      no_stream.push_back(id);
      continue;
    }
    DcepOpen open;
    open.ordered = channel.info.ordered;
    if (channel.info.max_retransmits) {
      open.reliability = Reliability::partial_rexmit;
      open.reliability_parameter = *channel.info.max_retransmits;
    } else if (channel.info.max_packet_life_time_ms) {
      open.reliability = Reliability::partial_timed;
      open.reliability_parameter = *channel.info.max_packet_life_time_ms;
    }
    open.label = channel.info.label;
    open.protocol = channel.info.protocol;
    auto encoded = encode_dcep_open(open);
    if (!encoded || !sctp_->send(channel.info.stream, ppid::dcep, *encoded, kDcepOptions)) {
      no_stream.push_back(id);
      continue;
    }
    channel.state = ChannelState::opening;
  }
  for (ChannelId id : no_stream) finish_channel(id);
}

PeerConnection::Impl::Channel* PeerConnection::Impl::channel_on(std::uint16_t stream) {
  auto it = by_stream_.find(stream);
  if (it == by_stream_.end()) return nullptr;
  auto channel = channels_.find(it->second);
  return channel == channels_.end() ? nullptr : &channel->second;
}

void PeerConnection::Impl::on_sctp_message(std::uint16_t stream, std::uint32_t message_ppid, Bytes message) {
  if (message_ppid == ppid::dcep) {
    on_dcep(stream, message);
    return;
  }
  const bool binary = message_ppid == ppid::binary || message_ppid == ppid::binary_empty;
  const bool empty = message_ppid == ppid::string_empty || message_ppid == ppid::binary_empty;
  if (!binary && message_ppid != ppid::string && !empty) return;  // PPIDs 52, 54 and others: not ours
  Channel* channel = channel_on(stream);
  if (!channel || channel->state == ChannelState::waiting) return;
  if (channel->state == ChannelState::opening) {
    // Data before the ACK means the peer took the OPEN (RFC 8832 §6).
    channel->state = ChannelState::open;
    emit([info = channel->info](PeerConnectionCallbacks& cb) {
      if (cb.on_channel_open) cb.on_channel_open(info);
    });
  }
  if (empty) message.clear();
  emit_message(channel->info.id, std::move(message), binary);
}

void PeerConnection::Impl::on_dcep(std::uint16_t stream, ByteView bytes) {
  auto decoded = decode_dcep(bytes);
  if (!decoded) {
    spdlog::debug("webrtc: a malformed DCEP message on stream {}: {}", stream, decoded.error().message());
    return;
  }
  if (std::holds_alternative<DcepAck>(*decoded)) {
    Channel* channel = channel_on(stream);
    if (!channel || channel->state != ChannelState::opening) return;
    channel->state = ChannelState::open;
    emit([info = channel->info](PeerConnectionCallbacks& cb) {
      if (cb.on_channel_open) cb.on_channel_open(info);
    });
    return;
  }
  const auto& open = std::get<DcepOpen>(*decoded);
  if (by_stream_.contains(stream)) return;  // a second OPEN for a stream in use
  if (channels_.size() >= config_.max_channels) {
    sctp_->reset_stream(stream);  // refused
    return;
  }
  Channel channel;
  channel.info.id = next_channel_id_++;
  channel.info.stream = stream;
  channel.info.label = open.label;
  channel.info.protocol = open.protocol;
  channel.info.ordered = open.ordered;
  channel.info.remote = true;
  const auto parameter =
      static_cast<std::uint16_t>(std::min<std::uint32_t>(open.reliability_parameter, 0xffff));
  if (open.reliability == Reliability::partial_rexmit) channel.info.max_retransmits = parameter;
  if (open.reliability == Reliability::partial_timed) channel.info.max_packet_life_time_ms = parameter;
  channel.state = ChannelState::open;
  channel.has_stream = true;
  if (!sctp_->send(stream, ppid::dcep, encode_dcep_ack(), kDcepOptions)) return;
  by_stream_[stream] = channel.info.id;
  const ChannelInfo info = channel.info;
  channels_.emplace(info.id, std::move(channel));
  emit([info](PeerConnectionCallbacks& cb) {
    if (cb.on_channel_open) cb.on_channel_open(info);
  });
}

std::expected<void, std::error_code> PeerConnection::Impl::send(ChannelId id, ByteView message, bool binary) {
  auto it = channels_.find(id);
  if (it == channels_.end() || it->second.state != ChannelState::open || !sctp_)
    return fail_with(Errc::not_found);
  Channel& channel = it->second;
  static constexpr std::uint8_t kEmpty[1] = {0};
  std::uint32_t message_ppid = binary ? ppid::binary : ppid::string;
  if (message.empty()) {
    message = ByteView(kEmpty, 1);  // SCTP carries no empty message (RFC 8831 §6.6)
    message_ppid = binary ? ppid::binary_empty : ppid::string_empty;
  }
  auto sent = sctp_->send(channel.info.stream, message_ppid, message, send_options(channel.info));
  if (!sent) return sent;
  if (sctp_->queued_bytes(channel.info.stream) > config_.buffered_amount_low) channel.above_low = true;
  return {};
}

std::size_t PeerConnection::Impl::buffered_amount(ChannelId id) const {
  auto it = channels_.find(id);
  if (it == channels_.end() || !it->second.has_stream || !sctp_) return 0;
  return sctp_->queued_bytes(it->second.info.stream);
}

void PeerConnection::Impl::close_channel(ChannelId id) {
  auto it = channels_.find(id);
  if (it == channels_.end()) return;
  Channel& channel = it->second;
  if (!channel.has_stream || !sctp_ || !sctp_->connected()) {
    finish_channel(id);
    return;
  }
  if (channel.state == ChannelState::closing) return;
  channel.state = ChannelState::closing;
  channel.reset_sent = true;
  sctp_->reset_stream(channel.info.stream);  // the peer resets its side in answer
}

void PeerConnection::Impl::on_incoming_reset(std::uint16_t stream) {
  Channel* channel = channel_on(stream);
  if (!channel) return;
  if (!channel->reset_sent && sctp_) sctp_->reset_stream(stream);
  finish_channel(channel->info.id);
}

void PeerConnection::Impl::on_writable() {
  if (!sctp_) return;
  for (auto& [id, channel] : channels_) {
    if (!channel.above_low || !channel.has_stream) continue;
    if (sctp_->queued_bytes(channel.info.stream) > config_.buffered_amount_low) continue;
    channel.above_low = false;
    emit([id](PeerConnectionCallbacks& cb) {
      if (cb.on_buffered_amount_low) cb.on_buffered_amount_low(id);
    });
  }
}

void PeerConnection::Impl::finish_channel(ChannelId id) {
  auto it = channels_.find(id);
  if (it == channels_.end()) return;
  if (it->second.has_stream) by_stream_.erase(it->second.info.stream);
  channels_.erase(it);
  emit([id](PeerConnectionCallbacks& cb) {
    if (cb.on_channel_close) cb.on_channel_close(id);
  });
}

void PeerConnection::Impl::close_all_channels() {
  std::vector<ChannelId> ids;
  for (const auto& entry : channels_) ids.push_back(entry.first);
  for (ChannelId id : ids) finish_channel(id);
}

}  // namespace hyphae::webrtc
