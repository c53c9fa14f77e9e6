// DatagramSealer: records beside a link's stream, on a path that may lose messages but keeps their
// order. What one end seals only the other end of the same handshake opens, once, in order; a lost
// datagram costs nothing but itself.
#include "transport/stream/datagram_sealer.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hyphae::stream {
namespace {

Bytes bytes(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

Bytes hash(std::uint8_t fill) {
  return Bytes(32, fill);
}

TEST(DatagramSealer, TheOtherEndOpensInOrderAndALossCostsOnlyItself) {
  DatagramSealer initiator(hash(7), true), responder(hash(7), false);
  const auto one = initiator.seal(bytes("one")), two = initiator.seal(bytes("two")),
             three = initiator.seal(bytes("three"));
  EXPECT_EQ(one.size(), 3 + DatagramSealer::kOverhead);
  EXPECT_EQ(responder.open(one), bytes("one"));
  // "two" is lost on the way: "three" still opens.
  EXPECT_EQ(responder.open(three), bytes("three"));
  // Late or replayed: dropped.
  EXPECT_FALSE(responder.open(two));
  EXPECT_FALSE(responder.open(three));
  EXPECT_EQ(responder.dropped(), 2u);
  // And the other direction has its own key and counter.
  EXPECT_EQ(initiator.open(responder.seal(bytes("back"))), bytes("back"));
}

TEST(DatagramSealer, ForgedDamagedOrForeignDatagramsAreDropped) {
  DatagramSealer initiator(hash(7), true), responder(hash(7), false), stranger(hash(8), true);
  auto d = initiator.seal(bytes("payload"));
  auto flipped = d;
  flipped.back() ^= 1;  // the tag
  EXPECT_FALSE(responder.open(flipped));
  auto counter = d;
  counter[7] ^= 2;  // the counter is authenticated too
  EXPECT_FALSE(responder.open(counter));
  EXPECT_FALSE(responder.open(stranger.seal(bytes("payload"))));     // another handshake's keys
  EXPECT_FALSE(initiator.open(initiator.seal(bytes("reflected"))));  // a reflection of our own
  EXPECT_FALSE(responder.open(Bytes(DatagramSealer::kOverhead - 1, 0)));
  EXPECT_EQ(responder.open(d), bytes("payload"));  // the genuine one still opens after all that
  EXPECT_EQ(responder.open(initiator.seal({})), Bytes{});
}

}  // namespace
}  // namespace hyphae::stream
