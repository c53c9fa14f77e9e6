// Two PeerConnections in one process, signaling in memory: ICE over the host's interfaces,
// DTLS, SCTP and DCEP for real.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "core/error.hpp"
#include "webrtc/asio_poster.hpp"
#include "webrtc/peer_connection.hpp"
#include "webrtc/sdp.hpp"

namespace hyphae::webrtc {
namespace {

using namespace std::chrono_literals;

// An io_context on its own thread: where the events land, as in a node.
class EventLoop {
 public:
  EventLoop() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~EventLoop() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  Poster poster() { return asio_poster(io_.get_executor()); }
  // Waits until what runs on the loop now has finished.
  void flush() {
    std::promise<void> done;
    boost::asio::post(io_, [&] { done.set_value(); });
    done.get_future().wait();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

struct Received {
  ChannelId channel;
  Bytes data;
  bool binary;
};

// One side: the connection and what its callbacks saw.
// Loopback only: the tests need no network and send nothing past this host.
PeerConnectionConfig loopback_config() {
  PeerConnectionConfig config;
  config.interface_addresses = {"127.0.0.1"};
  return config;
}

class Peer {
 public:
  explicit Peer(EventLoop& loop, PeerConnectionConfig config = loopback_config()) : loop_(loop) {
    PeerConnectionCallbacks cb;
    cb.on_local_candidate = [this](std::string line) {
      std::lock_guard lock(mutex_);
      outgoing_.push_back(line);
      sent_candidates_.push_back(line);
      candidates_++;
      changed_.notify_all();
    };
    cb.on_end_of_candidates = [this] {
      std::lock_guard lock(mutex_);
      gathering_done_ = true;
      changed_.notify_all();
    };
    cb.on_state = [this](ConnectionState s) {
      std::lock_guard lock(mutex_);
      states_.push_back(s);
      changed_.notify_all();
    };
    cb.on_channel_open = [this](const ChannelInfo& info) {
      std::lock_guard lock(mutex_);
      opened_.push_back(info);
      changed_.notify_all();
    };
    cb.on_message = [this](ChannelId id, Bytes data, bool binary) {
      if (gate_) gate_->wait();  // a slow consumer, for the flow-control test
      std::lock_guard lock(mutex_);
      received_bytes_ += data.size();
      messages_.push_back({id, std::move(data), binary});
      changed_.notify_all();
    };
    cb.on_channel_close = [this](ChannelId id) {
      std::lock_guard lock(mutex_);
      closed_.push_back(id);
      changed_.notify_all();
    };
    cb.on_buffered_amount_low = [this](ChannelId) {
      std::lock_guard lock(mutex_);
      low_events_++;
      changed_.notify_all();
    };
    auto pc = PeerConnection::create(std::move(config), std::move(cb), loop.poster());
    EXPECT_TRUE(pc);
    pc_ = std::move(*pc);
  }
  // No event starts after close(); one running on the loop right then is waited for.
  ~Peer() {
    pc_.reset();
    loop_.flush();
  }

  // Our candidates wait in outgoing_ until the other side's forward_candidates() takes them: a
  // callback never calls into a PeerConnection itself (that would be fine too, but this keeps
  // the test linear).
  void pair_with(Peer& other) {
    std::lock_guard lock(mutex_);
    other_ = &other;
  }
  void forward_candidates() {
    std::deque<std::string> lines;
    {
      std::lock_guard lock(other_->mutex_);
      lines.swap(other_->outgoing_);
    }
    for (auto& line : lines) (void)pc_->add_remote_candidate(line);
  }

  template <typename Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return pred(); });
  }
  bool wait_state(ConnectionState s, std::chrono::milliseconds timeout = 20s) {
    return wait([&] { return !states_.empty() && states_.back() == s; }, timeout);
  }

  PeerConnection& pc() { return *pc_; }
  EventLoop& loop_;
  std::unique_ptr<PeerConnection> pc_;
  std::mutex mutex_;
  std::condition_variable changed_;
  Peer* other_ = nullptr;
  std::deque<std::string> outgoing_;  // our candidates, for the other side to take
  std::vector<std::string> sent_candidates_;
  int candidates_ = 0;
  bool gathering_done_ = false;
  std::vector<ConnectionState> states_;
  std::vector<ChannelInfo> opened_;
  std::vector<Received> messages_;
  std::vector<ChannelId> closed_;
  std::size_t received_bytes_ = 0;
  int low_events_ = 0;
  std::shared_future<void> const* gate_ = nullptr;
};

// Offer, answer and trickled candidates until both are connected.
void connect(Peer& offerer, Peer& answerer) {
  offerer.pair_with(answerer);
  answerer.pair_with(offerer);
  auto offer = offerer.pc().create_offer();
  ASSERT_TRUE(offer) << offer.error().message();
  auto answer = answerer.pc().accept_offer(*offer);
  ASSERT_TRUE(answer) << answer.error().message();
  ASSERT_TRUE(offerer.pc().accept_answer(*answer));
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    offerer.forward_candidates();
    answerer.forward_candidates();
    if (offerer.wait_state(ConnectionState::connected, 50ms) &&
        answerer.wait_state(ConnectionState::connected, 50ms))
      return;
  }
  FAIL() << "not connected";
}

Bytes pattern(std::size_t size, std::uint8_t seed) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(i * 31 + seed);
  return out;
}

TEST(PeerConnection, ChannelCarriesMessagesBothWays) {
  EventLoop loop;
  Peer a(loop), b(loop);
  connect(a, b);
  if (HasFatalFailure()) return;

  auto channel = a.pc().open_channel("p2p-messenger", "p2p-messenger", true, 3);
  ASSERT_TRUE(channel);
  ASSERT_TRUE(a.wait([&] { return a.opened_.size() == 1; }));
  ASSERT_TRUE(b.wait([&] { return b.opened_.size() == 1; }));
  const ChannelInfo theirs = b.opened_[0];
  EXPECT_EQ(theirs.label, "p2p-messenger");
  EXPECT_EQ(theirs.protocol, "p2p-messenger");
  EXPECT_TRUE(theirs.ordered);
  EXPECT_EQ(theirs.max_retransmits, std::optional<std::uint16_t>(3));
  EXPECT_TRUE(theirs.remote);
  // The offerer is the DTLS server here (it said actpass, the answer active): odd stream ids.
  EXPECT_EQ(a.opened_[0].stream % 2, 1);
  EXPECT_EQ(theirs.stream, a.opened_[0].stream);

  // A string and a binary message each way, and empty ones.
  ASSERT_TRUE(a.pc().send(*channel, as_bytes("hello from a"), false));
  ASSERT_TRUE(b.pc().send(theirs.id, Bytes{1, 2, 3}, true));
  ASSERT_TRUE(a.pc().send(*channel, {}, false));
  ASSERT_TRUE(b.pc().send(theirs.id, {}, true));
  ASSERT_TRUE(b.wait([&] { return b.messages_.size() == 2; }));
  ASSERT_TRUE(a.wait([&] { return a.messages_.size() == 2; }));
  EXPECT_EQ(hyphae::to_string(b.messages_[0].data), "hello from a");
  EXPECT_FALSE(b.messages_[0].binary);
  EXPECT_TRUE(b.messages_[1].data.empty());
  EXPECT_FALSE(b.messages_[1].binary);
  EXPECT_EQ(a.messages_[0].data, (Bytes{1, 2, 3}));
  EXPECT_TRUE(a.messages_[0].binary);
  EXPECT_TRUE(a.messages_[1].data.empty());
  EXPECT_TRUE(a.messages_[1].binary);

  // 200 KiB in one message, both ways.
  const Bytes big = pattern(200 * 1024, 7);
  ASSERT_TRUE(a.pc().send(*channel, big, true));
  ASSERT_TRUE(b.pc().send(theirs.id, big, true));
  ASSERT_TRUE(b.wait([&] { return b.messages_.size() == 3; }));
  ASSERT_TRUE(a.wait([&] { return a.messages_.size() == 3; }));
  EXPECT_EQ(b.messages_[2].data, big);
  EXPECT_EQ(a.messages_[2].data, big);

  // 1000 small ones, in order, both ways.
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(a.pc().send(*channel, as_bytes("a" + std::to_string(i)), false));
    ASSERT_TRUE(b.pc().send(theirs.id, as_bytes("b" + std::to_string(i)), false));
  }
  ASSERT_TRUE(b.wait([&] { return b.messages_.size() == 1003; }));
  ASSERT_TRUE(a.wait([&] { return a.messages_.size() == 1003; }));
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(hyphae::to_string(b.messages_[3 + i].data), "a" + std::to_string(i));
    EXPECT_EQ(hyphae::to_string(a.messages_[3 + i].data), "b" + std::to_string(i));
  }

  // Closing resets the stream both ways; both sides hear of it.
  a.pc().close_channel(*channel);
  ASSERT_TRUE(a.wait([&] { return a.closed_.size() == 1; }));
  ASSERT_TRUE(b.wait([&] { return b.closed_.size() == 1; }));
  EXPECT_EQ(a.closed_[0], *channel);
  EXPECT_EQ(b.closed_[0], theirs.id);
  EXPECT_FALSE(a.pc().send(*channel, as_bytes("late")));
}

TEST(PeerConnection, AnswererOpensChannelsToo) {
  EventLoop loop;
  Peer a(loop), b(loop);
  connect(a, b);
  if (HasFatalFailure()) return;
  auto first = b.pc().open_channel("one", "", false, std::nullopt);
  auto second = b.pc().open_channel("two", "proto", true, std::nullopt);
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(a.wait([&] { return a.opened_.size() == 2; }));
  ASSERT_TRUE(b.wait([&] { return b.opened_.size() == 2; }));
  // The answerer is the DTLS client: even stream ids.
  EXPECT_EQ(b.opened_[0].stream % 2, 0);
  EXPECT_EQ(b.opened_[1].stream % 2, 0);
  EXPECT_NE(b.opened_[0].stream, b.opened_[1].stream);
  for (const auto& info : a.opened_) {
    if (info.label == "one") {
      EXPECT_FALSE(info.ordered);
    }
    if (info.label == "two") {
      EXPECT_EQ(info.protocol, "proto");
    }
  }
  ASSERT_TRUE(b.pc().send(*second, as_bytes("x"), false));
  ASSERT_TRUE(a.wait([&] { return a.messages_.size() == 1; }));
}

TEST(PeerConnection, TenMebibytesWithFlowControl) {
  EventLoop loop;
  PeerConnectionConfig config = loopback_config();
  config.buffered_amount_low = 256 * 1024;
  Peer a(loop, config), b(loop, config);
  connect(a, b);
  if (HasFatalFailure()) return;
  auto channel = a.pc().open_channel("bulk");
  ASSERT_TRUE(channel);
  ASSERT_TRUE(a.wait([&] { return a.opened_.size() == 1; }));

  constexpr std::size_t kTotal = 10 << 20;
  constexpr std::size_t kChunk = 64 * 1024;
  const Bytes chunk = pattern(kChunk, 1);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t sent = 0; sent < kTotal;) {
    if (a.pc().buffered_amount(*channel) > 1 << 20) {
      int seen = 0;
      {
        std::lock_guard lock(a.mutex_);
        seen = a.low_events_;
      }
      a.wait([&] { return a.low_events_ > seen; }, 100ms);
      continue;
    }
    auto r = a.pc().send(*channel, chunk, true);
    ASSERT_TRUE(r) << r.error().message();
    sent += kChunk;
  }
  ASSERT_TRUE(b.wait([&] { return b.received_bytes_ >= kTotal; }, 60s));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ throughput ] 10 MiB C++ -> C++ in %.2f s: %.1f MiB/s\n", seconds, 10 / seconds);
  EXPECT_EQ(b.messages_.size(), kTotal / kChunk);
}

TEST(PeerConnection, RejectsBadSignalingWithoutHarm) {
  EventLoop loop;
  Peer a(loop), b(loop);
  EXPECT_EQ(a.pc().accept_answer("v=0").error(), make_error_code(Errc::invalid_argument));  // no offer yet
  EXPECT_FALSE(b.pc().accept_offer("garbage"));
  EXPECT_FALSE(b.pc().accept_offer(std::string(100000, 'v')));
  EXPECT_EQ(b.pc().add_remote_candidate("candidate:nonsense").error(), make_error_code(Errc::malformed));
  EXPECT_EQ(b.pc().add_remote_candidate("candidate:1 1 tcp 1 192.0.2.1 9 typ host tcptype active").error(),
            make_error_code(Errc::unsupported));
  // Remote candidates before the description are bounded.
  for (int i = 0; i < 64; ++i)
    EXPECT_TRUE(b.pc().add_remote_candidate("candidate:1 1 udp 1 127.0.0.1 " + std::to_string(1000 + i) +
                                            " typ host"));
  EXPECT_EQ(b.pc().add_remote_candidate("candidate:1 1 udp 1 127.0.0.1 999 typ host").error(),
            make_error_code(Errc::backpressure));
  // An answer that says actpass is refused; the offerer can still take a good one.
  auto offer = a.pc().create_offer();
  ASSERT_TRUE(offer);
  std::string bad_answer = *offer;
  EXPECT_EQ(a.pc().accept_answer(bad_answer).error(), make_error_code(Errc::malformed));
  EXPECT_EQ(a.pc().create_offer().error(), make_error_code(Errc::invalid_argument));
  EXPECT_FALSE(a.pc().send(42, as_bytes("nobody")));
}

TEST(PeerConnection, WrongFingerprintFails) {
  EventLoop loop;
  Peer a(loop), b(loop);
  a.pair_with(b);
  b.pair_with(a);
  auto offer = a.pc().create_offer();
  ASSERT_TRUE(offer);
  // Swap the offerer's fingerprint for another certificate's: the answerer must refuse DTLS.
  auto parsed = parse_sdp(*offer);
  ASSERT_TRUE(parsed);
  parsed->fingerprint[0] ^= 0xff;
  auto tampered = build_sdp(*parsed);
  ASSERT_TRUE(tampered);
  auto answer = b.pc().accept_offer(*tampered);
  ASSERT_TRUE(answer);
  ASSERT_TRUE(a.pc().accept_answer(*answer));
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  bool failed = false;
  while (!failed && std::chrono::steady_clock::now() < deadline) {
    a.forward_candidates();
    b.forward_candidates();
    failed = b.wait_state(ConnectionState::failed, 50ms);
  }
  EXPECT_TRUE(failed);
  std::lock_guard lock(b.mutex_);
  for (auto s : b.states_) EXPECT_NE(s, ConnectionState::connected);
}

TEST(PeerConnection, CloseFromAnotherThreadWhileBusy) {
  EventLoop loop;
  Peer a(loop), b(loop);
  connect(a, b);
  if (HasFatalFailure()) return;
  auto channel = a.pc().open_channel("x");
  ASSERT_TRUE(channel);
  ASSERT_TRUE(a.wait([&] { return a.opened_.size() == 1; }));
  for (int i = 0; i < 50; ++i) (void)a.pc().send(*channel, pattern(100000, 3), true);
  b.pc().close();
  ASSERT_TRUE(a.wait([&] {
    return !a.states_.empty() &&
           (a.states_.back() == ConnectionState::closed || a.states_.back() == ConnectionState::failed);
  }));
  a.pc().close();
}

TEST(PeerConnection, RefusesMessagesOverThePeersLimit) {
  EventLoop loop;
  PeerConnectionConfig small = loopback_config();
  small.max_message_size = 64 * 1024;
  Peer a(loop), b(loop, small);
  connect(a, b);
  if (HasFatalFailure()) return;
  auto channel = a.pc().open_channel("x");
  ASSERT_TRUE(channel);
  ASSERT_TRUE(a.wait([&] { return a.opened_.size() == 1; }));
  // b announced 64 KiB: a refuses more, sends up to it.
  EXPECT_EQ(a.pc().send(*channel, pattern(64 * 1024 + 1, 0)).error(), make_error_code(Errc::too_large));
  ASSERT_TRUE(a.pc().send(*channel, pattern(64 * 1024, 0)));
  ASSERT_TRUE(b.wait([&] { return b.messages_.size() == 1; }));
  EXPECT_EQ(b.messages_[0].data.size(), 64u * 1024);
}

// A consumer that does not keep up: the receiver stops reading past max_undelivered_bytes, SCTP
// flow control stops the sender, whose queue ends in Errc::backpressure; nothing is lost.
TEST(PeerConnection, SlowConsumerBackpressuresTheSender) {
  EventLoop loop_a, loop_b;
  PeerConnectionConfig config_a = loopback_config();
  config_a.max_buffered_bytes = 2 << 20;
  PeerConnectionConfig config_b = loopback_config();
  config_b.max_undelivered_bytes = 256 * 1024;
  Peer a(loop_a, config_a), b(loop_b, config_b);
  connect(a, b);
  if (HasFatalFailure()) return;
  auto channel = a.pc().open_channel("flow");
  ASSERT_TRUE(channel);
  ASSERT_TRUE(b.wait([&] { return b.opened_.size() == 1; }));

  std::promise<void> open_gate;
  const std::shared_future<void> gate = open_gate.get_future().share();
  b.gate_ = &gate;
  constexpr std::size_t kChunk = 64 * 1024;
  std::size_t accepted = 0;
  bool backpressure = false;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!backpressure && accepted < (64u << 20) && std::chrono::steady_clock::now() < deadline) {
    Bytes chunk = pattern(kChunk, 0);
    put_u32be(chunk, static_cast<std::uint32_t>(accepted / kChunk));  // sequence at the end
    auto r = a.pc().send(*channel, chunk);
    if (r) {
      accepted += kChunk;
    } else if (r.error() == make_error_code(Errc::backpressure)) {
      backpressure = true;
    } else {
      FAIL() << r.error().message();
    }
  }
  EXPECT_TRUE(backpressure);
  EXPECT_LT(accepted, 16u << 20);  // bounded by the queues, not by the 64 MiB we tried
  open_gate.set_value();
  ASSERT_TRUE(b.wait([&] { return b.received_bytes_ >= accepted + 4 * (accepted / kChunk); }, 30s));
  std::lock_guard lock(b.mutex_);
  ASSERT_EQ(b.messages_.size(), accepted / kChunk);
  for (std::size_t i = 0; i < b.messages_.size(); ++i)
    ASSERT_EQ(get_u32be(b.messages_[i].data.data() + kChunk), i);
}

// Random datagrams at a connected peer's port: STUN-, DTLS- and anything-looking. The
// connection must survive and keep carrying messages.
TEST(PeerConnection, SurvivesGarbageDatagrams) {
  EventLoop loop;
  Peer a(loop), b(loop);
  connect(a, b);
  if (HasFatalFailure()) return;
  auto channel = a.pc().open_channel("x");
  ASSERT_TRUE(channel);
  ASSERT_TRUE(b.wait([&] { return b.opened_.size() == 1; }));

  std::vector<std::uint16_t> ports;
  {
    std::lock_guard lock(b.mutex_);
    for (const auto& line : b.sent_candidates_) {
      auto c = parse_candidate(line);
      if (c && c->address == "127.0.0.1") ports.push_back(c->port);
    }
  }
  ASSERT_FALSE(ports.empty());
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  std::mt19937 rng(12345);
  const std::uint8_t first_bytes[] = {0, 1, 2, 3, 20, 21, 22, 23, 63, 64, 127, 128, 255};
  for (int i = 0; i < 3000; ++i) {
    Bytes datagram(1 + rng() % 1400);
    for (auto& byte : datagram) byte = static_cast<std::uint8_t>(rng());
    datagram[0] = first_bytes[i % std::size(first_bytes)];
    if (datagram.size() >= 20 && datagram[0] < 2) {  // a STUN header: type, length, magic cookie
      datagram[1] = 0x01;
      datagram[4] = 0x21;
      datagram[5] = 0x12;
      datagram[6] = 0xa4;
      datagram[7] = 0x42;
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(ports[i % ports.size()]);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  }
  ::close(fd);
  ASSERT_TRUE(a.pc().send(*channel, as_bytes("still here"), false));
  ASSERT_TRUE(b.wait([&] { return !b.messages_.empty(); }));
  EXPECT_EQ(hyphae::to_string(b.messages_.back().data), "still here");
  EXPECT_EQ(b.pc().state(), ConnectionState::connected);
}

// A STUN server on 127.0.0.1 that answers every Binding request with a made-up mapped
// address (127.0.0.2, so that nothing would leave the host even if used).
class FakeStunServer {
 public:
  FakeStunServer() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    socklen_t len = sizeof(address);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &len);
    port_ = ntohs(address.sin_port);
    timeval timeout{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeStunServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  int answered() const { return answered_; }

 private:
  static std::uint32_t crc32(ByteView data) {
    std::uint32_t crc = 0xffffffffu;
    for (auto byte : data) {
      crc ^= byte;
      for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
  }
  void serve() {
    std::uint8_t buffer[1500];
    while (!stop_) {
      sockaddr_in from{};
      socklen_t from_len = sizeof(from);
      const auto n =
          ::recvfrom(fd_, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 20 || buffer[0] != 0x00 || buffer[1] != 0x01) continue;  // Binding requests only
      Bytes reply;
      reply.reserve(64);
      put_u16be(reply, 0x0101);
      put_u16be(reply, 0);                                 // length, set below
      reply.insert(reply.end(), buffer + 4, buffer + 20);  // magic cookie and transaction id
      // XOR-MAPPED-ADDRESS: 127.0.0.2, the request's port + 1000.
      put_u16be(reply, 0x0020);
      put_u16be(reply, 8);
      reply.push_back(0);
      reply.push_back(1);
      put_u16be(reply, static_cast<std::uint16_t>((ntohs(from.sin_port) + 1000) ^ 0x2112));
      put_u32be(reply, 0x7f000002u ^ 0x2112a442u);
      // FINGERPRINT over everything before it, the length already counting it.
      const std::uint16_t length = static_cast<std::uint16_t>(reply.size() - 20 + 8);
      reply[2] = static_cast<std::uint8_t>(length >> 8);
      reply[3] = static_cast<std::uint8_t>(length);
      const std::uint32_t fingerprint = crc32(reply) ^ 0x5354554eu;
      put_u16be(reply, 0x8028);
      put_u16be(reply, 4);
      put_u32be(reply, fingerprint);
      ::sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
      ++answered_;
    }
  }
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  std::thread thread_;
};

TEST(PeerConnection, StunServerAddsServerReflexiveCandidates) {
  FakeStunServer stun;
  EventLoop loop;
  PeerConnectionConfig config = loopback_config();
  config.stun_server = "127.0.0.1:" + std::to_string(stun.port());
  Peer a(loop, config);
  ASSERT_TRUE(a.pc().create_offer());
  ASSERT_TRUE(a.wait([&] { return a.gathering_done_; }));
  std::lock_guard lock(a.mutex_);
  bool srflx = false;
  for (const auto& line : a.sent_candidates_) {
    auto c = parse_candidate(line);
    ASSERT_TRUE(c) << line;
    if (c->type == CandidateType::srflx) {
      srflx = true;
      EXPECT_EQ(c->address, "127.0.0.2");
      EXPECT_EQ(c->related_address, "127.0.0.1");
    }
  }
  EXPECT_TRUE(srflx);
  EXPECT_GT(stun.answered(), 0);
}

// A poster that runs events at once, on the Runtime thread, inside the transports' callbacks:
// events may call back into the connections (candidates, echo) and even destroy one.
TEST(PeerConnection, InlinePosterLetsCallbacksCallInAndDestroy) {
  const Poster inline_poster = [](std::function<void()> task) { task(); };
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> echoes;
  std::optional<ConnectionState> a_state;
  std::unique_ptr<PeerConnection> a, b;

  PeerConnectionCallbacks cb_a;
  cb_a.on_local_candidate = [&](std::string line) {
    if (b) (void)b->add_remote_candidate(line);
  };
  cb_a.on_state = [&](ConnectionState s) {
    std::lock_guard lock(mutex);
    a_state = s;
    changed.notify_all();
  };
  cb_a.on_message = [&](ChannelId, Bytes data, bool) {
    std::lock_guard lock(mutex);
    echoes.push_back(hyphae::to_string(data));
    if (echoes.back() == "bye") b.reset();  // from inside a's SCTP receive path
    changed.notify_all();
  };
  PeerConnectionCallbacks cb_b;
  cb_b.on_local_candidate = [&](std::string line) {
    if (a) (void)a->add_remote_candidate(line);
  };
  cb_b.on_message = [&](ChannelId id, Bytes data, bool binary) { (void)b->send(id, data, binary); };

  a = std::move(*PeerConnection::create(loopback_config(), cb_a, inline_poster));
  b = std::move(*PeerConnection::create(loopback_config(), cb_b, inline_poster));
  auto offer = a->create_offer();
  ASSERT_TRUE(offer);
  auto answer = b->accept_offer(*offer);
  ASSERT_TRUE(answer);
  ASSERT_TRUE(a->accept_answer(*answer));
  auto channel = a->open_channel("inline");
  ASSERT_TRUE(channel);
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 20s, [&] { return a_state == ConnectionState::connected; }));
  }
  // Wait for the channel to open, then send.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!a->send(*channel, as_bytes("one"), false) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(a->send(*channel, as_bytes("two"), false));
  ASSERT_TRUE(a->send(*channel, as_bytes("bye"), false));
  std::unique_lock lock(mutex);
  ASSERT_TRUE(changed.wait_for(lock, 20s, [&] { return echoes.size() == 3 && !b; }));
  EXPECT_EQ(echoes, (std::vector<std::string>{"one", "two", "bye"}));
  // b's ABORT reaches a.
  ASSERT_TRUE(changed.wait_for(lock, 20s, [&] { return a_state == ConnectionState::closed; }));
  lock.unlock();
  a.reset();
}

TEST(PeerConnection, CreateRejectsBadConfig) {
  EventLoop loop;
  PeerConnectionConfig config;
  config.stun_server = "stun.example.org:3478";  // a name, not an IP literal
  EXPECT_EQ(PeerConnection::create(config, {}, loop.poster()).error(),
            make_error_code(Errc::invalid_argument));
  config = {};
  config.interface_addresses = {"eth0"};
  EXPECT_EQ(PeerConnection::create(config, {}, loop.poster()).error(),
            make_error_code(Errc::invalid_argument));
  config = {};
  config.port_min = 6000;
  config.port_max = 5000;
  EXPECT_EQ(PeerConnection::create(config, {}, loop.poster()).error(),
            make_error_code(Errc::invalid_argument));
  EXPECT_EQ(PeerConnection::create({}, {}, Poster{}).error(), make_error_code(Errc::invalid_argument));
}

}  // namespace
}  // namespace hyphae::webrtc
