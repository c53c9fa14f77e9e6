#include "betanet/htx/htx_session.hpp"

#include <sodium.h>

#include <algorithm>
#include <limits>

namespace hyphae::htx {

namespace {

constexpr std::string_view kKeyLabel = "htx inner v1";
constexpr std::uint32_t kMaxWindow = 0x7fffffff;
constexpr std::uint8_t kPing = 0, kPong = 1;

std::array<std::uint8_t, 32> direction_key(noise::CipherState& cs) {
  cs.set_nonce(std::numeric_limits<std::uint64_t>::max() - 1);
  const std::array<std::uint8_t, 32> zeros{};
  Bytes block = cs.encrypt(as_bytes(kKeyLabel), zeros);
  std::array<std::uint8_t, 32> key{};
  std::copy_n(block.begin(), 32, key.begin());
  sodium_memzero(block.data(), block.size());
  return key;
}

}  // namespace

struct HtxSession::State {
  bool client = false;
  HtxOptions options;
  std::optional<noise::HandshakeState> hs;
  std::unique_ptr<HtxDirection> tx, rx;
  Bytes handshake_hash;
  std::optional<std::array<std::uint8_t, 32>> remote;
  Bytes in;
  std::mt19937_64 rng;
  std::uint64_t next_ping_ms = 0;
  std::uint64_t next_local_stream = 0;
  struct Stream {
    std::uint32_t send_window = 0, recv_window = 0;
    std::uint32_t consumed = 0;  // received since the last WINDOW_UPDATE
    bool widened = false;        // the receive_window grant was sent
  };
  std::map<std::uint64_t, Stream> streams;
  HtxCounters counters;

  bool ours(std::uint64_t id) const { return (id % 2 == 1) == client; }

  void schedule_ping(std::uint64_t now_ms) {
    std::uniform_int_distribution<std::uint64_t> base(options.ping_min_ms,
                                                      std::max(options.ping_min_ms, options.ping_max_ms));
    std::uniform_real_distribution<double> jitter(0.9, 1.1);
    next_ping_ms = now_ms + static_cast<std::uint64_t>(static_cast<double>(base(rng)) * jitter(rng));
  }

  // Seals one frame, first updating the key when this direction is due (KEY_UPDATE goes under the
  // old key; the frame itself under the new one).
  void emit(FrameHeader h, ByteView plaintext, std::uint64_t now_ms, Bytes& out) {
    if (tx->due_for_update(now_ms)) {
      FrameHeader k;
      k.type = FrameType::key_update;
      k.timestamp_ms = now_ms;
      tx->seal_frame(k, {}, out);
      tx->update(now_ms);
      ++counters.key_updates_out;
      ++counters.frames_out;
    }
    h.timestamp_ms = now_ms;
    tx->seal_frame(h, plaintext, out);
    ++counters.frames_out;
  }

  void emit_window_update(std::uint64_t stream, std::uint32_t increment, std::uint64_t now_ms, Bytes& out) {
    Bytes body;
    put_quic_varint(body, increment);
    FrameHeader h;
    h.type = FrameType::window_update;
    h.stream_id = stream;
    emit(h, body, now_ms, out);
    ++counters.window_updates_out;
  }

  void emit_close(std::uint64_t stream, std::uint64_t now_ms, Bytes& out) {
    Bytes body;
    put_quic_varint(body, stream);
    FrameHeader h;
    h.type = FrameType::close;
    emit(h, body, now_ms, out);
  }

  void finish_handshake(std::uint64_t now_ms) {
    handshake_hash = hs->handshake_hash();
    if (hs->has_remote_static()) remote = hs->remote_static();
    auto [i2r, r2i] = hs->split();
    const auto k_i2r = direction_key(i2r), k_r2i = direction_key(r2i);
    tx = std::make_unique<HtxDirection>(client ? k_i2r : k_r2i, handshake_hash, now_ms);
    rx = std::make_unique<HtxDirection>(client ? k_r2i : k_i2r, handshake_hash, now_ms);
    hs.reset();
    next_local_stream = client ? 1 : 2;
    schedule_ping(now_ms);
  }

  std::size_t max_frame_bytes() const {
    return kFixedHeaderBytes + kMaxStreamIdBytes + options.max_frame_payload + kTagBytes + kCrcBytes;
  }

  std::expected<void, std::string> on_frame(const ParsedFrame& f, std::uint64_t now_ms, Bytes& out,
                                            std::vector<HtxEvent>& events) {
    auto plain = rx->open_frame(f);
    if (!plain) return std::unexpected("frame authentication failed (changed, dropped or replayed)");
    ++counters.frames_in;
    const auto id = f.header.stream_id;
    switch (f.header.type) {
      case FrameType::stream: {
        if (id == 0 || id > kMaxStreamId) return std::unexpected("bad stream id");
        auto it = streams.find(id);
        if (it == streams.end()) {
          if (ours(id)) return std::unexpected("data on a stream this side never opened");
          if (streams.size() >= options.max_streams) {
            ++counters.streams_refused;
            emit_close(id, now_ms, out);
            return {};
          }
          it = streams.emplace(id, Stream{options.initial_window, options.initial_window, 0, false}).first;
        }
        auto& s = it->second;
        if (plain->size() > s.recv_window)
          return std::unexpected("the peer sent past its flow-control window");
        s.recv_window -= static_cast<std::uint32_t>(plain->size());
        s.consumed += static_cast<std::uint32_t>(plain->size());
        if (s.consumed >= options.initial_window / 2) {
          emit_window_update(id, s.consumed, now_ms, out);
          s.recv_window += s.consumed;
          s.consumed = 0;
        }
        if (!plain->empty()) events.push_back({HtxEvent::Kind::data, id, std::move(*plain)});
        return {};
      }
      case FrameType::ping: {
        if (plain->size() != 9) return std::unexpected("bad PING");
        if ((*plain)[0] == kPing) {
          (*plain)[0] = kPong;
          FrameHeader h;
          h.type = FrameType::ping;
          emit(h, *plain, now_ms, out);
        } else {
          events.push_back({HtxEvent::Kind::pong, 0, {}});
        }
        return {};
      }
      case FrameType::close: {
        if (plain->empty()) return std::unexpected("the peer closed the session");
        const auto v = read_quic_varint(*plain);
        if (!v) return std::unexpected("bad CLOSE");
        if (streams.erase(v->first) > 0) events.push_back({HtxEvent::Kind::stream_closed, v->first, {}});
        return {};
      }
      case FrameType::key_update:
        if (!plain->empty()) return std::unexpected("bad KEY_UPDATE");
        rx->update(now_ms);
        ++counters.key_updates_in;
        return {};
      case FrameType::window_update: {
        const auto v = read_quic_varint(*plain);
        if (!v || v->first == 0) return std::unexpected("bad WINDOW_UPDATE");
        auto it = streams.find(id);
        if (it == streams.end()) return {};  // a stream closed meanwhile
        if (it->second.send_window + v->first > kMaxWindow)
          return std::unexpected("flow-control window overflow");
        it->second.send_window += static_cast<std::uint32_t>(v->first);
        return {};
      }
    }
    return std::unexpected("unknown frame type");
  }
};

HtxSession::HtxSession(std::unique_ptr<State> s) : s_(std::move(s)) {}
HtxSession::HtxSession(HtxSession&&) noexcept = default;
HtxSession& HtxSession::operator=(HtxSession&&) noexcept = default;
HtxSession::~HtxSession() = default;

// Either side: Noise XK with the outer connection's binding as the prologue.
std::unique_ptr<HtxSession::State> HtxSession::make(
    bool client, const noise::KeyPair& local,
    const std::optional<std::array<std::uint8_t, 32>>& server_static, ByteView binding,
    const HtxOptions& options, std::uint64_t rng_seed) {
  auto s = std::make_unique<State>();
  s->client = client;
  s->options = options;
  s->rng.seed(rng_seed ? rng_seed : randombytes_random());
  noise::HandshakeConfig c;
  c.protocol = noise::Protocol{noise::Pattern::XK};
  c.initiator = client;
  c.prologue.assign(binding.begin(), binding.end());
  c.s = local;
  c.rs = server_static;
  auto hs = noise::HandshakeState::create(std::move(c));
  if (!hs) throw std::logic_error("HtxSession: Noise XK cannot start: " + hs.error().message());
  s->hs.emplace(std::move(*hs));
  return s;
}

HtxSession HtxSession::client(const noise::KeyPair& local, const std::array<std::uint8_t, 32>& server_static,
                              ByteView binding, HtxOptions options, std::uint64_t rng_seed) {
  return HtxSession(make(true, local, server_static, binding, options, rng_seed));
}

HtxSession HtxSession::server(const noise::KeyPair& local, ByteView binding, HtxOptions options,
                              std::uint64_t rng_seed) {
  return HtxSession(make(false, local, std::nullopt, binding, options, rng_seed));
}

Bytes HtxSession::start(std::uint64_t) {
  Bytes out;
  if (!s_->client || !s_->hs || !s_->hs->my_turn()) return out;
  auto msg = s_->hs->write_message({});
  if (!msg) throw std::logic_error("HtxSession: first handshake message failed");
  out.push_back(static_cast<std::uint8_t>(msg->size() >> 8));
  out.push_back(static_cast<std::uint8_t>(msg->size()));
  out.insert(out.end(), msg->begin(), msg->end());
  return out;
}

std::expected<std::vector<HtxEvent>, std::string> HtxSession::on_bytes(ByteView in, std::uint64_t now_ms,
                                                                       Bytes& out) {
  auto& s = *s_;
  std::vector<HtxEvent> events;
  s.in.insert(s.in.end(), in.begin(), in.end());
  std::size_t used = 0;
  while (s.hs) {
    const ByteView rest(s.in.data() + used, s.in.size() - used);
    if (rest.size() < 2) break;
    const std::size_t len = static_cast<std::size_t>(rest[0]) << 8 | rest[1];
    if (rest.size() < 2 + len) break;
    auto payload = s.hs->read_message(rest.subspan(2, len));
    if (!payload) return std::unexpected("HTX handshake failed: " + payload.error().message());
    used += 2 + len;
    if (s.hs->my_turn()) {
      auto msg = s.hs->write_message({});
      if (!msg) return std::unexpected("HTX handshake failed: " + msg.error().message());
      out.push_back(static_cast<std::uint8_t>(msg->size() >> 8));
      out.push_back(static_cast<std::uint8_t>(msg->size()));
      out.insert(out.end(), msg->begin(), msg->end());
    }
    if (s.hs->is_complete()) {
      s.finish_handshake(now_ms);
      events.push_back({HtxEvent::Kind::established, 0, {}});
    }
  }
  while (!s.hs) {
    const ByteView rest(s.in.data() + used, s.in.size() - used);
    auto f = parse_frame(rest, s.options.max_frame_payload);
    if (!f) return std::unexpected(f.error());
    if (!*f) break;
    if (auto ok = s.on_frame(**f, now_ms, out, events); !ok) return std::unexpected(ok.error());
    used += (*f)->size;
  }
  s.in.erase(s.in.begin(), s.in.begin() + static_cast<std::ptrdiff_t>(used));
  if (s.in.size() > std::max<std::size_t>(2 + 65'535, s.max_frame_bytes()))
    return std::unexpected("more unread input than one frame");  // never for a well-formed peer
  return events;
}

std::expected<std::size_t, std::string> HtxSession::send(std::uint64_t stream, ByteView data,
                                                         std::uint64_t now_ms, Bytes& out) {
  auto& s = *s_;
  if (s.hs) return std::unexpected("the HTX handshake has not finished");
  if (stream == 0 || stream > kMaxStreamId) return std::unexpected("bad stream id");
  auto it = s.streams.find(stream);
  if (it == s.streams.end()) {
    if (!s.ours(stream)) return std::unexpected("the peer has not opened that stream");
    if (s.streams.size() >= s.options.max_streams) return std::unexpected("too many open streams");
    it =
        s.streams.emplace(stream, State::Stream{s.options.initial_window, s.options.initial_window, 0}).first;
  }
  const std::size_t n = std::min<std::size_t>(data.size(), it->second.send_window);
  for (std::size_t at = 0; at < n;) {
    const std::size_t chunk = std::min(n - at, s.options.max_frame_payload);
    FrameHeader h;
    h.type = FrameType::stream;
    h.stream_id = stream;
    s.emit(h, data.subspan(at, chunk), now_ms, out);
    at += chunk;
  }
  it->second.send_window -= static_cast<std::uint32_t>(n);
  return n;
}

std::uint64_t HtxSession::open_stream() {
  const auto id = s_->next_local_stream;
  s_->next_local_stream += 2;
  return id;
}

void HtxSession::close_stream(std::uint64_t stream, std::uint64_t now_ms, Bytes& out) {
  if (s_->hs || s_->streams.erase(stream) == 0) return;
  s_->emit_close(stream, now_ms, out);
}

void HtxSession::tick(std::uint64_t now_ms, Bytes& out) {
  auto& s = *s_;
  if (s.hs) return;
  if (now_ms >= s.next_ping_ms) {
    Bytes body(9);
    body[0] = kPing;
    randombytes_buf(body.data() + 1, 8);
    FrameHeader h;
    h.type = FrameType::ping;
    s.emit(h, body, now_ms, out);
    ++s.counters.pings_out;
    s.schedule_ping(now_ms);
  }
  // A key due by time is updated by the next frame sent, a PING at the latest (every 66 s).
}

std::optional<std::uint64_t> HtxSession::next_wakeup() const {
  if (s_->hs) return std::nullopt;
  return s_->next_ping_ms;
}

bool HtxSession::established() const {
  return !s_->hs && s_->tx != nullptr;
}

std::uint32_t HtxSession::send_window(std::uint64_t stream) const {
  auto it = s_->streams.find(stream);
  if (it != s_->streams.end()) return it->second.send_window;
  return s_->ours(stream) ? s_->options.initial_window : 0;
}

std::optional<std::array<std::uint8_t, 32>> HtxSession::remote_static() const {
  return s_->remote;
}

std::uint32_t HtxSession::send_generation() const {
  return s_->tx ? s_->tx->generation() : 0;
}

const HtxCounters& HtxSession::counters() const {
  return s_->counters;
}

}  // namespace hyphae::htx
