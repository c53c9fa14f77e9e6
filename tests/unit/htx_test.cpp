// HTX links, sans-IO: the frame codec (header, QUIC varints, CRC32), the per-frame protection
// (nonce salt, KEY_UPDATE derivation checked against libsodium and HKDF directly), and two sessions
// wired together on a simulated clock: Noise XK bound to the outer connection, streams with
// flow control, key updates at 2^16 frames and after an hour, jittered pings, and the ways a
// stranger's bytes end a session.
#include <gtest/gtest.h>
#include <sodium.h>
#include <zlib.h>

#include <set>

#include "betanet/htx/htx_session.hpp"
#include "crypto/hkdf/hkdf.hpp"

namespace hyphae::htx {
namespace {

TEST(HtxFrame, QuicVarintsAndHeadersRoundTrip) {
  for (std::uint64_t v : std::initializer_list<std::uint64_t>{0, 63, 64, 16383, 16384, (1ull << 30) - 1,
                                                              1ull << 30, kMaxStreamId}) {
    Bytes b;
    put_quic_varint(b, v);
    const auto r = read_quic_varint(b);
    ASSERT_TRUE(r) << v;
    EXPECT_EQ(r->first, v);
    EXPECT_EQ(r->second, b.size());
    EXPECT_FALSE(read_quic_varint(ByteView(b).first(b.size() - 1)));
  }
  Bytes b;
  put_quic_varint(b, 37);
  EXPECT_EQ(b, Bytes{0x25});  // RFC 9000 appendix A.1's examples
  b.clear();
  put_quic_varint(b, 15293);
  EXPECT_EQ(to_hex(b), "7bbd");
  b.clear();
  put_quic_varint(b, 494878333);
  EXPECT_EQ(to_hex(b), "9d7f3e7d");
  b.clear();
  put_quic_varint(b, 151288809941952652ull);
  EXPECT_EQ(to_hex(b), "c2197c5eff14e88c");
}

TEST(HtxFrame, ProtectionFollowsTheNonceSaltAndKeyUpdateSchedule) {
  std::array<std::uint8_t, 32> key{};
  key.fill(0x42);
  const Bytes hh(32, 0x17);
  HtxDirection tx(key, hh, 0), rx(key, hh, 0);
  Bytes frame;
  FrameHeader h;
  h.type = FrameType::stream;
  h.stream_id = 1;
  h.timestamp_ms = 77;
  tx.seal_frame(h, as_bytes("first"), frame);
  tx.seal_frame(h, as_bytes("second"), frame);
  // The second frame by hand: nonce = NS xor LE64(1), NS = HKDF(key, "ns").
  auto first = *parse_frame(frame, 1000);
  auto second = *parse_frame(ByteView(frame).subspan(first->size), 1000);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(second->header.sequence, 1u);
  std::array<std::uint8_t, 12> ns{};
  hkdf::derive({}, key, as_bytes("ns"), ns);
  ns[0] ^= 1;
  Bytes plain(second->sealed.size() - 16);
  unsigned long long n = 0;
  ASSERT_EQ(crypto_aead_chacha20poly1305_ietf_decrypt(plain.data(), &n, nullptr, second->sealed.data(),
                                                      second->sealed.size(), second->ad.data(),
                                                      second->ad.size(), ns.data(), key.data()),
            0);
  EXPECT_EQ(to_string(plain), "second");
  EXPECT_EQ(to_string(*rx.open_frame(*first)), "first");
  EXPECT_EQ(to_string(*rx.open_frame(*second)), "second");
  EXPECT_FALSE(rx.open_frame(*second));  // the same frame again: out of sequence
  // K' = HKDF(salt = handshake hash, K, "next").
  std::array<std::uint8_t, 32> next{};
  hkdf::derive(hh, key, as_bytes("next"), next);
  tx.update(0);
  rx.update(0);
  Bytes a;
  tx.seal_frame(h, as_bytes("after"), a);
  // Sequence numbers run on across keys; the counter (nonce) restarts.
  EXPECT_EQ((*parse_frame(a, 1000))->header.sequence, 2u);
  EXPECT_EQ(to_string(*rx.open_frame(**parse_frame(a, 1000))), "after");
  EXPECT_EQ(tx.generation(), 1u);
  EXPECT_FALSE(tx.due_for_update(HtxDirection::kUpdateMs - 1));
  EXPECT_TRUE(tx.due_for_update(HtxDirection::kUpdateMs));
  // The new key is HKDF(salt = handshake hash, K, "next"), its counter back at 0: open `a` by hand.
  std::array<std::uint8_t, 12> ns2{};
  hkdf::derive({}, next, as_bytes("ns"), ns2);
  const auto after = *parse_frame(a, 1000);
  Bytes plain2(after->sealed.size() - 16);
  ASSERT_EQ(crypto_aead_chacha20poly1305_ietf_decrypt(plain2.data(), &n, nullptr, after->sealed.data(),
                                                      after->sealed.size(), after->ad.data(),
                                                      after->ad.size(), ns2.data(), next.data()),
            0);
  EXPECT_EQ(to_string(plain2), "after");
}

TEST(HtxFrame, DamagedAndForeignBytesAreRefusedWithTheReason) {
  std::array<std::uint8_t, 32> key{};
  HtxDirection tx(key, {}, 0);
  Bytes frame;
  FrameHeader h;
  h.type = FrameType::ping;
  tx.seal_frame(h, Bytes(9), frame);
  EXPECT_TRUE(*parse_frame(frame, 100));
  EXPECT_FALSE(*parse_frame(ByteView(frame).first(frame.size() - 1), 100));  // more needed
  Bytes crc = frame;
  crc[20] ^= 1;
  EXPECT_EQ(parse_frame(crc, 100).error(), "CRC32 mismatch");
  EXPECT_EQ(parse_frame(as_bytes("GET / HTTP/1.1\r\n"), 100).error(), "not an HTX frame (magic)");
  EXPECT_EQ(parse_frame(Bytes{kMagic, 0x10}, 100).error(), "unsupported HTX version");
  EXPECT_EQ(parse_frame(frame, 8).error(), "frame longer than allowed");
  Bytes type = frame;
  type[5] = 9;
  EXPECT_EQ(parse_frame(type, 100).error(), "unknown frame type");
}

// Runs a client and a server's handshake to the end, bytes handed over directly.
bool handshake(HtxSession& c, HtxSession& s) {
  Bytes to_s = c.start(0), to_c;
  for (int i = 0; i < 3; ++i) {
    to_c.clear();
    if (!s.on_bytes(to_s, 0, to_c)) return false;
    to_s.clear();
    if (!c.on_bytes(to_c, 0, to_s)) return false;
  }
  return c.established() && s.established();
}

struct Pair {
  noise::KeyPair client_key = noise::KeyPair::generate(), server_key = noise::KeyPair::generate();
  HtxSession client, server;
  std::uint64_t now = 1'000;
  std::vector<HtxEvent> at_client, at_server;
  explicit Pair(HtxOptions options = {}, ByteView client_binding = as_bytes("tls-exporter"),
                ByteView server_binding = as_bytes("tls-exporter"))
      : client(HtxSession::client(client_key, server_key.pub, client_binding, options, 1)),
        server(HtxSession::server(server_key, server_binding, options, 2)) {}
  // Carries bytes both ways until both are quiet; false if a session died.
  bool run(Bytes to_server, Bytes to_client = {}) {
    for (int i = 0; i < 10'000 && (!to_server.empty() || !to_client.empty()); ++i) {
      Bytes out;
      if (!to_server.empty()) {
        auto e = server.on_bytes(to_server, now, out);
        if (!e) {
          error = e.error();
          return false;
        }
        at_server.insert(at_server.end(), e->begin(), e->end());
      }
      to_server.clear();
      Bytes back = std::move(out);
      back.insert(back.end(), to_client.begin(), to_client.end());
      Bytes out2;
      if (!back.empty()) {
        auto e = client.on_bytes(back, now, out2);
        if (!e) {
          error = e.error();
          return false;
        }
        at_client.insert(at_client.end(), e->begin(), e->end());
      }
      to_client.clear();
      to_server = std::move(out2);
    }
    return true;
  }
  bool connect() { return run(client.start(now)); }
  std::string error;
  std::string received_by_server(std::uint64_t stream) const {
    std::string s;
    for (const auto& e : at_server)
      if (e.kind == HtxEvent::Kind::data && e.stream == stream) s += to_string(e.data);
    return s;
  }
};

TEST(HtxSession, NoiseXkBoundToTheOuterConnectionEstablishesBothEnds) {
  Pair p;
  ASSERT_TRUE(p.connect()) << p.error;
  EXPECT_TRUE(p.client.established());
  EXPECT_TRUE(p.server.established());
  ASSERT_TRUE(p.server.remote_static());
  EXPECT_EQ(*p.server.remote_static(), p.client_key.pub);  // the server learns who the client is
  // A client that expects another server key, or a different outer connection: no session.
  Pair wrong_key;
  auto impostor =
      HtxSession::client(wrong_key.client_key, noise::KeyPair::generate().pub, as_bytes("tls-exporter"));
  Bytes out;
  EXPECT_FALSE(wrong_key.server.on_bytes(impostor.start(0), 0, out));
  Pair other_binding({}, as_bytes("tls-exporter"), as_bytes("another connection"));
  EXPECT_FALSE(other_binding.connect());
  EXPECT_NE(other_binding.error.find("handshake failed"), std::string::npos);
}

TEST(HtxSession, StreamsMoveDataBothWaysWithinTheirWindows) {
  Pair p;
  ASSERT_TRUE(p.connect());
  const auto stream = p.client.open_stream();
  EXPECT_EQ(stream, 1u);
  Bytes big(200'000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  std::size_t sent = 0;
  for (int round = 0; round < 100 && sent < big.size(); ++round) {
    Bytes out;
    const auto n = p.client.send(stream, ByteView(big).subspan(sent), p.now, out);
    ASSERT_TRUE(n) << n.error();
    EXPECT_LE(*n, 65'535u);
    sent += *n;
    ASSERT_TRUE(p.run(std::move(out))) << p.error;
  }
  EXPECT_EQ(sent, big.size());
  const auto got = p.received_by_server(stream);
  ASSERT_EQ(got.size(), big.size());
  EXPECT_TRUE(std::equal(big.begin(), big.end(), reinterpret_cast<const std::uint8_t*>(got.data())));
  EXPECT_GT(p.server.counters().window_updates_out, 0u);
  // The server answers on the same stream.
  Bytes out;
  ASSERT_TRUE(p.server.send(stream, as_bytes("thanks"), p.now, out));
  ASSERT_TRUE(p.run({}, std::move(out)));
  ASSERT_FALSE(p.at_client.empty());
  EXPECT_EQ(to_string(p.at_client.back().data), "thanks");
  // A stream only the peer may open.
  Bytes none;
  EXPECT_FALSE(p.client.send(2, as_bytes("x"), p.now, none));
}

TEST(HtxSession, KeysUpdateAtTwoToTheSixteenFramesAndAfterAnHour) {
  HtxOptions o;
  o.initial_window = 0x7fffffff / 2;
  Pair p(o);
  ASSERT_TRUE(p.connect());
  const auto stream = p.client.open_stream();
  Bytes out;
  for (int i = 0; i < 70'000; ++i) ASSERT_TRUE(p.client.send(stream, as_bytes("x"), p.now, out));
  ASSERT_TRUE(p.run(std::move(out))) << p.error;
  EXPECT_EQ(p.client.counters().key_updates_out, 1u);
  EXPECT_EQ(p.server.counters().key_updates_in, 1u);
  EXPECT_EQ(p.received_by_server(stream).size(), 70'000u);
  EXPECT_EQ(p.client.send_generation(), 1u);
  // An hour later the next frame goes under a new key.
  p.now += HtxDirection::kUpdateMs;
  Bytes later;
  ASSERT_TRUE(p.client.send(stream, as_bytes("an hour later"), p.now, later));
  ASSERT_TRUE(p.run(std::move(later)));
  EXPECT_EQ(p.client.send_generation(), 2u);
  EXPECT_EQ(p.server.counters().key_updates_in, 2u);
}

TEST(HtxSession, PingsComeAtJitteredIntervals) {
  Pair p;
  ASSERT_TRUE(p.connect());
  std::set<std::uint64_t> gaps;
  std::uint64_t last = p.now;
  for (int i = 0; i < 10; ++i) {
    const auto at = *p.client.next_wakeup();
    EXPECT_GE(at - last, 9'000u);
    EXPECT_LE(at - last, 66'000u);
    gaps.insert(at - last);
    p.now = at;
    last = at;
    Bytes out;
    p.client.tick(p.now, out);
    ASSERT_TRUE(p.run(std::move(out)));
  }
  EXPECT_GT(gaps.size(), 8u);  // not periodic
  EXPECT_EQ(std::count_if(p.at_client.begin(), p.at_client.end(),
                          [](const HtxEvent& e) { return e.kind == HtxEvent::Kind::pong; }),
            10);
}

TEST(HtxSession, AChangedReplayedOrOverflowingFrameEndsTheSessionWithTheReason) {
  auto fix_crc = [](Bytes& f) {
    const auto crc = static_cast<std::uint32_t>(::crc32(0L, f.data(), static_cast<uInt>(f.size() - 4)));
    for (int i = 0; i < 4; ++i)
      f[f.size() - 4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
  };
  {
    Pair p;
    ASSERT_TRUE(p.connect());
    Bytes out;
    ASSERT_TRUE(p.client.send(1, as_bytes("hello"), p.now, out));
    out[out.size() - 8] ^= 1;  // in the tag
    fix_crc(out);
    EXPECT_FALSE(p.run(out));
    EXPECT_EQ(p.error, "frame authentication failed (changed, dropped or replayed)");
  }
  {
    Pair p;
    ASSERT_TRUE(p.connect());
    Bytes out;
    ASSERT_TRUE(p.client.send(1, as_bytes("hello"), p.now, out));
    ASSERT_TRUE(p.run(out));
    EXPECT_FALSE(p.run(out));  // the same frame again
    EXPECT_EQ(p.error, "frame authentication failed (changed, dropped or replayed)");
  }
  {
    // A sender that ignores the receiver's window (1000 bytes; its first frame carries 16 KiB).
    HtxOptions greedy;
    greedy.initial_window = 1'000'000;
    noise::KeyPair ck = noise::KeyPair::generate(), sk = noise::KeyPair::generate();
    HtxOptions small;
    small.initial_window = 1'000;
    auto c = HtxSession::client(ck, sk.pub, as_bytes("b"), greedy);
    auto s = HtxSession::server(sk, as_bytes("b"), small);
    ASSERT_TRUE(handshake(c, s));
    Bytes flood;
    ASSERT_TRUE(c.send(1, Bytes(100'000), 0, flood));
    Bytes ignored;
    const auto r = s.on_bytes(flood, 0, ignored);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), "the peer sent past its flow-control window");
  }
  {
    // A flood of streams opened by the peer stops at max_streams: the rest are refused with CLOSE.
    HtxOptions few;
    few.max_streams = 4;
    noise::KeyPair ck = noise::KeyPair::generate(), sk = noise::KeyPair::generate();
    auto c = HtxSession::client(ck, sk.pub, as_bytes("b"));
    auto s = HtxSession::server(sk, as_bytes("b"), few);
    ASSERT_TRUE(handshake(c, s));
    Bytes flood;
    for (std::uint64_t id = 1; id <= 19; id += 2) ASSERT_TRUE(c.send(id, as_bytes("x"), 0, flood));
    Bytes closes;
    const auto at_server = s.on_bytes(flood, 0, closes);
    ASSERT_TRUE(at_server) << at_server.error();
    EXPECT_EQ(at_server->size(), 4u);  // data on the first four streams
    EXPECT_EQ(s.counters().streams_refused, 6u);
    Bytes none;
    const auto at_client = c.on_bytes(closes, 0, none);
    ASSERT_TRUE(at_client);
    EXPECT_EQ(std::count_if(at_client->begin(), at_client->end(),
                            [](const HtxEvent& e) { return e.kind == HtxEvent::Kind::stream_closed; }),
              6);
  }
}

}  // namespace
}  // namespace hyphae::htx
