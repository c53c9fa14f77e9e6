// The mesh link's sans-IO pieces: frame reader, record reader, and a LinkSession pair talking in memory.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/identity.hpp"
#include "net/frame_reader.hpp"
#include "transport/stream/link_session.hpp"

namespace hyphae {
namespace {

TEST(FrameReader, SplitsFramesFedByteByByte) {
  Bytes wire;
  for (std::size_t n : {1u, 300u, 65535u}) {
    net::put_frame_header(wire, n);
    wire.insert(wire.end(), n, static_cast<std::uint8_t>(n));
  }
  net::FrameReader reader;
  std::vector<std::size_t> sizes;
  for (auto byte : wire) {
    reader.feed(ByteView(&byte, 1));
    for (;;) {
      auto frame = reader.next();
      ASSERT_TRUE(frame);
      if (!*frame) break;
      sizes.push_back((*frame)->size());
      EXPECT_EQ((**frame)[0], static_cast<std::uint8_t>((*frame)->size()));
    }
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 300, 65535}));
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(FrameReader, RejectsZeroLengthAndOversizeFrames) {
  net::FrameReader zero;
  Bytes empty_frame{0, 0};
  zero.feed(empty_frame);
  EXPECT_EQ(zero.next().error(), make_error_code(Errc::malformed));
  net::FrameReader small(100);
  Bytes big{0x01, 0x00};
  small.feed(big);
  EXPECT_EQ(small.next().error(), make_error_code(Errc::too_large));
}

TEST(RecordReader, RecordsSpanFeedsAndUnknownTypesFail) {
  Bytes stream;
  stream::put_record(stream, stream::RecordType::data, as_bytes("hello"));
  stream::put_record(stream, stream::RecordType::ack, Bytes(32, 7));
  stream::RecordReader reader(1024);
  std::vector<stream::RecordType> types;
  reader.feed(ByteView(stream.data(), 3));
  auto none = reader.next();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  reader.feed(ByteView(stream.data() + 3, stream.size() - 3));
  for (;;) {
    auto r = reader.next();
    ASSERT_TRUE(r);
    if (!*r) break;
    types.push_back((*r)->type);
    if ((*r)->type == stream::RecordType::data) {
      EXPECT_EQ(to_string((*r)->body), "hello");
    }
    if ((*r)->type == stream::RecordType::ack) {
      EXPECT_EQ((*r)->body.size(), 32u);
    }
  }
  EXPECT_EQ(types, (std::vector<stream::RecordType>{stream::RecordType::data, stream::RecordType::ack}));

  stream::RecordReader bad(1024);
  Bytes unknown{0x7f, 0x00};
  bad.feed(unknown);
  EXPECT_EQ(bad.next().error(), make_error_code(Errc::malformed));
  // A length must be minimally encoded: 0x85 0x00 (5 in two bytes) is refused, 0x05 is fine.
  stream::RecordReader padded(1024);
  padded.feed(Bytes{0x01, 0x85, 0x00, 'h', 'e', 'l', 'l', 'o'});
  EXPECT_EQ(padded.next().error(), make_error_code(Errc::malformed));
  stream::RecordReader minimal(1024);
  minimal.feed(Bytes{0x01, 0x05, 'h', 'e', 'l', 'l', 'o'});
  auto five = minimal.next();
  ASSERT_TRUE(five && *five);
  EXPECT_EQ(to_string((*five)->body), "hello");
  stream::RecordReader small(10);
  Bytes large;
  stream::put_record(large, stream::RecordType::data, Bytes(11, 1));
  small.feed(large);
  EXPECT_EQ(small.next().error(), make_error_code(Errc::too_large));
}

struct Pair {
  Identity a_id = Identity::generate();
  Identity b_id = Identity::generate();
  noise::KeyPair a_static = noise::KeyPair::generate();
  noise::KeyPair b_static = noise::KeyPair::generate();
  std::unique_ptr<stream::LinkSession> a, b;
  std::vector<std::pair<char, Bytes>> received;  // 'a' or 'b' received this body

  explicit Pair(std::optional<PeerId> a_expects = std::nullopt) {
    a = std::make_unique<stream::LinkSession>(a_id, a_static, true, a_expects ? a_expects : b_id.peer_id());
    b = std::make_unique<stream::LinkSession>(b_id, b_static, false, std::nullopt);
  }
  // Moves bytes both ways until quiet; returns the first error.
  std::error_code run(Bytes a_out) {
    Bytes b_out;
    for (int i = 0; i < 10 && (!a_out.empty() || !b_out.empty()); ++i) {
      Bytes next_a, next_b;
      if (!a_out.empty())
        if (auto ec = b->on_bytes(a_out, next_b, [&](const stream::Record& r) {
              received.emplace_back('b', Bytes(r.body.begin(), r.body.end()));
            }))
          return ec;
      if (!b_out.empty())
        if (auto ec = a->on_bytes(b_out, next_a, [&](const stream::Record& r) {
              received.emplace_back('a', Bytes(r.body.begin(), r.body.end()));
            }))
          return ec;
      if (a->established() && a->has_pending()) a->seal(next_a);
      if (b->established() && b->has_pending()) b->seal(next_b);
      a_out = std::move(next_a);
      b_out = std::move(next_b);
    }
    return {};
  }
};

TEST(LinkSession, HandshakeProvesBothPeerIdsAndCarriesBatchedRecords) {
  Pair p;
  ASSERT_FALSE(p.run(p.a->start()));
  ASSERT_TRUE(p.a->established());
  ASSERT_TRUE(p.b->established());
  EXPECT_EQ(p.a->remote(), p.b_id.peer_id());
  EXPECT_EQ(p.b->remote(), p.a_id.peer_id());
  for (int i = 0; i < 1000; ++i)
    p.a->queue(stream::RecordType::data, Bytes(64, static_cast<std::uint8_t>(i)));
  p.b->queue(stream::RecordType::ack, Bytes(16, 9));
  Bytes wire;
  p.a->seal(wire);
  // 1000 records of 66 bytes fit in two Noise frames.
  EXPECT_LT(wire.size(), 1000u * 66 + 2 * (2 + 16) + 1);
  ASSERT_FALSE(p.run(wire));
  std::size_t at_b = 0, at_a = 0;
  for (const auto& [who, body] : p.received) (who == 'b' ? at_b : at_a)++;
  EXPECT_EQ(at_b, 1000u);
  EXPECT_EQ(at_a, 1u);
}

TEST(LinkSession, DialingTheWrongPeerIdFails) {
  Pair p(Identity::generate().peer_id());
  EXPECT_EQ(p.run(p.a->start()), make_error_code(Errc::peer_id_mismatch));
  EXPECT_FALSE(p.a->established());
}

TEST(LinkSession, TamperedTransportFrameFailsDecryption) {
  Pair p;
  ASSERT_FALSE(p.run(p.a->start()));
  p.a->queue(stream::RecordType::data, as_bytes("payload"));
  Bytes wire;
  p.a->seal(wire);
  wire[5] ^= 1;
  Bytes out;
  EXPECT_EQ(p.b->on_bytes(wire, out, [](const stream::Record&) {}), make_error_code(Errc::decrypt_failed));
}

}  // namespace
}  // namespace hyphae
