#include "transport/mesh/stream_link.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "transport/transport.hpp"

namespace hyphae::mesh {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

namespace {
void log_coroutine_exit(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("link coroutine failed: {}", ex.what());
  }
}
}  // namespace

struct StreamLink::Coroutines {
  // Handshake then read loop. Ends by reporting the link down exactly once.
  static awaitable<void> run(std::shared_ptr<StreamLink> self) {
    transport::CloseReason reason{transport::CloseCode::other};
    try {
      reason = co_await read_loop(self);
    } catch (const boost::system::system_error& e) {
      reason =
          e.code() == asio::error::eof
              ? transport::CloseReason{transport::CloseCode::remote, "connection closed"}
              : transport::CloseReason{self->session_.established() ? transport::CloseCode::io_error
                                                                    : transport::CloseCode::handshake_failed,
                                       e.what()};
    }
    self->finish(reason);
  }

  static awaitable<transport::CloseReason> read_loop(std::shared_ptr<StreamLink> self) {
    std::array<std::uint8_t, 64 * 1024> buffer;
    co_await self->stream_->open();
    if (self->closed_) co_return transport::CloseCode::other;
    Bytes to_send = self->session_.start();
    if (!to_send.empty()) co_await self->stream_->write(asio::buffer(to_send));
    for (;;) {
      while (self->receive_paused_ && !self->closed_) {
        self->resume_.expires_at(std::chrono::steady_clock::time_point::max());
        boost::system::error_code wait_ec;
        co_await self->resume_.async_wait(asio::redirect_error(use_awaitable, wait_ec));
      }
      if (self->closed_) co_return transport::CloseCode::other;
      std::size_t n = co_await self->stream_->read_some(asio::buffer(buffer));
      if (self->closed_) co_return transport::CloseCode::other;
      self->counters_.bytes_in += n;
      self->last_receive_ = std::chrono::steady_clock::now();
      bool was_established = self->session_.established();
      to_send.clear();
      std::error_code ec =
          self->session_.on_bytes(ByteView(buffer.data(), n), to_send, [&](const Record& record) {
            ++self->counters_.records_in;
            if (record.type == RecordType::ping) {
              // A ping is an 8-byte token. At most one pong waits to be written: a peer that pings
              // and never reads cannot make the queue grow.
              if (record.body.size() != kPingTokenSize) {
                self->close({transport::CloseCode::protocol_error,
                             "a ping carries " + std::to_string(record.body.size()) + " bytes, not " +
                                 std::to_string(kPingTokenSize)});
                return;
              }
              if (!self->pong_queued_) {
                self->pong_queued_ = true;
                self->send(RecordType::pong, record.body);
              }
              return;
            }
            if (record.type == RecordType::pong) return;
            if (record.type == RecordType::close) {
              self->close({transport::CloseCode::remote, to_string(record.body)});
              return;
            }
            if (!self->up_reported_) report_up(self);
            if (!self->closed_) self->owner_.on_link_record(self, record);
          });
      if (!to_send.empty()) co_await self->stream_->write(asio::buffer(to_send));
      if (ec) {
        // Tell the remote why when the session is up, then drop the connection.
        co_return transport::CloseReason{
            was_established ? transport::CloseCode::protocol_error : transport::CloseCode::handshake_failed,
            ec.message()};
      }
      if (self->session_.established() && !self->up_reported_) report_up(self);
      if (self->closed_) co_return transport::CloseCode::other;
    }
  }

  static void report_up(const std::shared_ptr<StreamLink>& self) {
    self->up_reported_ = true;
    if (auto* path = self->stream_->datagrams()) {
      self->datagrams_ = std::make_unique<stream::DatagramSealer>(self->session_.handshake_hash(),
                                                                  self->session_.initiator());
      std::weak_ptr<StreamLink> weak = self;
      path->on_datagram = [weak](Bytes datagram) {
        if (auto link = weak.lock()) link->on_datagram(datagram);
      };
    }
    self->keepalive_.expires_after(self->options_.keepalive_interval);
    asio::co_spawn(self->strand_, keepalive_loop(self), log_coroutine_exit);
    asio::co_spawn(self->strand_, write_loop(self), log_coroutine_exit);
    self->owner_.on_link_up(self);
  }

  // Seals whatever is queued into frames and writes them, one write at a time; sleeps while
  // nothing is queued. Records queued during one handler go out together: the wakeup runs after it.
  static awaitable<void> write_loop(std::shared_ptr<StreamLink> self) {
    while (!self->closed_) {
      if (!self->session_.has_pending()) {
        self->write_wakeup_.expires_at(std::chrono::steady_clock::time_point::max());
        self->writer_waiting_ = true;
        boost::system::error_code ec;
        co_await self->write_wakeup_.async_wait(asio::redirect_error(use_awaitable, ec));
        self->writer_waiting_ = false;
        continue;
      }
      self->wire_.clear();
      self->session_.seal(self->wire_);
      self->pong_queued_ = false;
      self->writing_ = true;
      ++self->counters_.writes;
      try {
        co_await self->stream_->write(asio::buffer(self->wire_));
      } catch (const boost::system::system_error& e) {
        self->writing_ = false;
        if (!self->closed_) self->close({transport::CloseCode::io_error, std::string("write: ") + e.what()});
        co_return;
      }
      self->writing_ = false;
      self->counters_.bytes_out += self->wire_.size();
      if (self->closed_) co_return;  // the owner has heard the link is down; it may be gone
      if (!self->session_.has_pending()) self->owner_.on_link_drained(self);
    }
  }

  static awaitable<void> keepalive_loop(std::shared_ptr<StreamLink> self) {
    while (!self->closed_) {
      boost::system::error_code ec;
      co_await self->keepalive_.async_wait(asio::redirect_error(use_awaitable, ec));
      if (self->closed_) co_return;
      auto idle = std::chrono::steady_clock::now() - self->last_receive_;
      if (idle > 3 * self->options_.keepalive_interval && !self->receive_paused_) {
        self->close({transport::CloseCode::keepalive_timeout,
                     "no bytes for " +
                         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(idle).count()) +
                         " ms"});
        co_return;
      }
      std::array<std::uint8_t, 8> token{};
      self->send(RecordType::ping, token);
      self->keepalive_.expires_after(self->options_.keepalive_interval);
    }
  }

  static awaitable<void> handshake_deadline(std::shared_ptr<StreamLink> self) {
    asio::steady_timer timer(self->strand_, self->options_.handshake_timeout);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!self->session_.established() && !self->closed_) self->close(transport::CloseCode::handshake_timeout);
  }
};

StreamLink::StreamLink(Strand strand, std::unique_ptr<stream::ByteStream> stream, LinkOwner& owner,
                       const Identity& identity, const noise::KeyPair& noise_static, bool initiator,
                       std::optional<PeerId> expected_remote, StreamLinkOptions options)
    : strand_(std::move(strand)),
      stream_(std::move(stream)),
      keepalive_(strand_),
      resume_(strand_),
      write_wakeup_(strand_),
      owner_(owner),
      session_(identity, noise_static, initiator, std::move(expected_remote), options.limits),
      initiator_(initiator),
      options_(options),
      id_(options.session_id),
      since_(std::chrono::steady_clock::now()),
      last_receive_(since_) {}

StreamLink::~StreamLink() = default;

void StreamLink::start() {
  asio::co_spawn(strand_, Coroutines::run(shared_from_this()), log_coroutine_exit);
  asio::co_spawn(strand_, Coroutines::handshake_deadline(shared_from_this()), log_coroutine_exit);
}

void StreamLink::close(transport::CloseReason reason) {
  if (closed_) return;
  closed_ = true;
  keepalive_.cancel();
  resume_.cancel();
  write_wakeup_.cancel();
  stream_->close();
  finish(reason);
}

void StreamLink::finish(const transport::CloseReason& reason) {
  if (reported_down_) return;
  reported_down_ = true;
  if (!closed_) {
    closed_ = true;
    keepalive_.cancel();
    resume_.cancel();
    write_wakeup_.cancel();
    stream_->close();
  }
  owner_.on_link_down(shared_from_this(), up_reported_, reason);
}

void StreamLink::set_receive_paused(bool paused) {
  if (paused == receive_paused_) return;
  receive_paused_ = paused;
  if (!paused) {
    last_receive_ = std::chrono::steady_clock::now();  // the silence was ours
    resume_.cancel();
  }
}

void StreamLink::send(RecordType type, ByteView body) {
  if (closed_) return;
  if (over_backlog(body.size())) return;
  session_.queue(type, body);
  ++counters_.records_out;
  schedule_flush();
}

bool StreamLink::send_datagram(RecordType type, ByteView body) {
  auto* path = stream_->datagrams();
  if (closed_ || !datagrams_ || !path || !path->ready()) return false;
  if (1 + body.size() + stream::DatagramSealer::kOverhead > path->max_datagram()) return false;
  Bytes plain;
  plain.reserve(1 + body.size());
  plain.push_back(static_cast<std::uint8_t>(type));
  plain.insert(plain.end(), body.begin(), body.end());
  const auto datagram = datagrams_->seal(plain);
  if (!path->send(datagram)) return false;
  ++counters_.datagrams_out;
  ++counters_.records_out;
  counters_.bytes_out += datagram.size();
  return true;
}

void StreamLink::on_datagram(ByteView datagram) {
  if (closed_ || !datagrams_) return;
  auto plain = datagrams_->open(datagram);
  // Only real-time records travel this way; anything else is dropped, like a forged datagram.
  if (!plain || plain->empty() || (*plain)[0] != static_cast<std::uint8_t>(RecordType::ephemeral)) {
    ++counters_.datagrams_dropped;
    return;
  }
  ++counters_.datagrams_in;
  ++counters_.records_in;
  counters_.bytes_in += datagram.size();
  const Record record{RecordType::ephemeral, ByteView(plain->data() + 1, plain->size() - 1)};
  owner_.on_link_record(shared_from_this(), record);
}

bool StreamLink::over_backlog(std::size_t more) {
  if (options_.max_backlog_bytes == 0 || backlog_bytes() + more <= options_.max_backlog_bytes) return false;
  close({transport::CloseCode::not_reading, std::to_string(backlog_bytes()) + " bytes queued (cap " +
                                                std::to_string(options_.max_backlog_bytes) + ")"});
  return true;
}

Bytes& StreamLink::send_in_place(RecordType type, std::size_t body_size) {
  ++counters_.records_out;
  schedule_flush();
  return session_.queue_header(type, body_size);
}

void StreamLink::schedule_flush() {
  if (writer_waiting_ && !closed_) write_wakeup_.cancel();
}

}  // namespace hyphae::mesh
