// RtcChannel: PeerConnection events on the strand, and the link's byte stream (see the header).
#include "transport/webrtc/rtc_channel.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>

#include "core/error.hpp"

namespace hyphae::rtc {

namespace asio = boost::asio;

webrtc::Poster RtcChannel::poster() {
  return [strand = strand_](std::function<void()> task) { asio::post(strand, std::move(task)); };
}

webrtc::PeerConnectionCallbacks RtcChannel::callbacks() {
  std::weak_ptr<RtcChannel> weak = weak_from_this();
  webrtc::PeerConnectionCallbacks cb;
  cb.on_local_candidate = [weak](std::string candidate) {
    if (auto self = weak.lock(); self && self->on_candidate) self->on_candidate(std::move(candidate));
  };
  cb.on_state = [weak](webrtc::ConnectionState state) {
    if (auto self = weak.lock()) self->on_state(state);
  };
  cb.on_channel_open = [weak](const webrtc::ChannelInfo& info) {
    auto self = weak.lock();
    if (!self) return;
    if (info.label == kDatagramChannelLabel && !self->datagram_open) {
      self->datagram_channel = info.id;
      self->datagram_open = true;
      return;
    }
    if (self->on_open) self->on_open(info);
  };
  cb.on_message = [weak](webrtc::ChannelId id, Bytes message, bool binary) {
    auto self = weak.lock();
    if (!self) return;
    if (self->datagram_open && id == self->datagram_channel) {
      if (binary && !self->closed_ && self->on_datagram) self->on_datagram(std::move(message));
      return;
    }
    if (!binary && self->channel_open && id == self->channel) {
      self->close("a text message on the link's channel");
      return;
    }
    self->on_message(id, std::move(message));
  };
  cb.on_channel_close = [weak](webrtc::ChannelId id) {
    auto self = weak.lock();
    if (!self) return;
    if (self->datagram_open && id == self->datagram_channel) {
      self->datagram_open = false;  // the stream carries everything again
      return;
    }
    if (self->channel_open && id == self->channel) self->close("the peer closed the data channel");
  };
  cb.on_buffered_amount_low = [weak](webrtc::ChannelId) {
    if (auto self = weak.lock()) self->write_wake_.cancel();
  };
  return cb;
}

void RtcChannel::on_message(webrtc::ChannelId id, Bytes message) {
  if (closed_ || !channel_open || id != channel || message.empty()) return;  // other channels: ignored
  unread_bytes_ += message.size();
  unread_.push_back(std::move(message));
  if (!read_paused_ && unread_bytes_ > kReadPauseBytes && pc) {
    read_paused_ = true;
    pc->set_receive_paused(true);
  }
  read_wake_.cancel();
}

bool RtcChannel::send(ByteView datagram) {
  if (!ready() || !pc) return false;
  // Late is worse than lost here: a full queue drops the datagram rather than waiting.
  if (pc->buffered_amount(datagram_channel) > kDatagramQueueBytes) return false;
  return pc->send(datagram_channel, datagram, true).has_value();
}

void RtcChannel::on_state(webrtc::ConnectionState state) {
  if (state == webrtc::ConnectionState::failed) close("the WebRTC connection failed (ICE, DTLS or SCTP)");
  if (state == webrtc::ConnectionState::closed) close("the WebRTC connection closed");
}

void RtcChannel::close(std::string why) {
  if (closed_) return;
  closed_ = true;
  close_reason_ = std::move(why);
  read_wake_.cancel();
  write_wake_.cancel();
  if (pc) pc->close();
  on_candidate = nullptr;
  on_open = nullptr;
  if (auto failed = std::move(on_failed)) {
    on_failed = nullptr;
    failed(close_reason_);
  }
}

asio::awaitable<void> RtcChannel::wait(asio::steady_timer& timer, std::chrono::milliseconds at_most) {
  timer.expires_after(at_most);
  boost::system::error_code ignored;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

asio::awaitable<std::size_t> RtcChannel::read_some(asio::mutable_buffer buffer) {
  auto keep = shared_from_this();
  while (unread_.empty()) {
    if (closed_) throw boost::system::system_error(asio::error::eof);
    co_await wait(read_wake_, std::chrono::seconds(1));
  }
  auto& front = unread_.front();
  const std::size_t n = std::min(buffer.size(), front.size() - first_offset_);
  std::memcpy(buffer.data(), front.data() + first_offset_, n);
  first_offset_ += n;
  unread_bytes_ -= n;
  if (first_offset_ == front.size()) {
    unread_.pop_front();
    first_offset_ = 0;
  }
  if (read_paused_ && unread_bytes_ <= kReadPauseBytes / 4 && pc && !closed_) {
    read_paused_ = false;
    pc->set_receive_paused(false);
  }
  co_return n;
}

asio::awaitable<void> RtcChannel::write(asio::const_buffer data) {
  auto keep = shared_from_this();
  const auto* p = static_cast<const std::uint8_t*>(data.data());
  std::size_t left = data.size();
  while (left > 0) {
    if (closed_ || !pc) throw boost::system::system_error(asio::error::connection_reset);
    if (pc->buffered_amount(channel) > kWriteHighBytes) {
      co_await wait(write_wake_, std::chrono::milliseconds(20));
      continue;
    }
    const std::size_t n = std::min(left, kMaxChannelMessage);
    auto sent = pc->send(channel, ByteView(p, n), true);
    if (!sent) {
      if (sent.error() == make_error_code(Errc::backpressure)) {
        co_await wait(write_wake_, std::chrono::milliseconds(20));
        continue;
      }
      close("sending on the data channel: " + sent.error().message());
      throw boost::system::system_error(asio::error::connection_reset);
    }
    p += n;
    left -= n;
  }
}

namespace {

class ChannelStream final : public stream::ByteStream {
 public:
  ChannelStream(std::shared_ptr<RtcChannel> channel, std::string remote)
      : channel_(std::move(channel)), remote_(std::move(remote)) {}
  ~ChannelStream() override { channel_->close("the link ended"); }
  asio::awaitable<void> open() override { co_return; }
  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buffer) override {
    co_return co_await channel_->read_some(buffer);
  }
  asio::awaitable<void> write(asio::const_buffer data) override { co_await channel_->write(data); }
  void close() override { channel_->close("closed by the link"); }
  const std::string& remote_address() const override { return remote_; }
  std::string_view kind() const override { return "webrtc"; }
  stream::DatagramPath* datagrams() override { return channel_.get(); }

 private:
  std::shared_ptr<RtcChannel> channel_;
  std::string remote_;
};

}  // namespace

std::unique_ptr<stream::ByteStream> make_channel_stream(std::shared_ptr<RtcChannel> channel,
                                                        std::string remote) {
  return std::make_unique<ChannelStream>(std::move(channel), std::move(remote));
}

}  // namespace hyphae::rtc
