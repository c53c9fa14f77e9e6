// BitChat store-and-forward: the sender's per-peer outbox (100 messages, 24 h, resent on every
// reappearance until delivered, bounded attempts) and a relay's spool (60 s, retried every 5 s).
#include <gtest/gtest.h>

#include "bitchat/store_forward.hpp"

namespace hyphae::bitchat {
namespace {

ShortId sid(std::uint8_t v) {
  ShortId s{};
  s.fill(v);
  return s;
}

TEST(BitchatStoreForward, HeldUntilDeliveredAndResentOnEveryReappearance) {
  StoreForward sf;
  EXPECT_FALSE(sf.hold(sid(1), "m1", Bytes{1}, 0));
  EXPECT_FALSE(sf.hold(sid(1), "m2", Bytes{2}, 10));
  EXPECT_FALSE(sf.hold(sid(1), "m1", Bytes{9}, 20));  // the same id again: still one copy
  auto first = sf.due(sid(1), 1000);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].message_id, "m1");  // oldest first
  EXPECT_EQ(first[0].payload, Bytes{1});
  EXPECT_EQ(first[0].attempts, 1u);
  EXPECT_TRUE(sf.delivered(sid(1), "m1"));
  EXPECT_FALSE(sf.delivered(sid(1), "m1"));
  auto second = sf.due(sid(1), 2000);  // it went away and came back: m2 again
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].message_id, "m2");
  EXPECT_EQ(second[0].attempts, 2u);
  EXPECT_TRUE(sf.due(sid(2), 2000).empty());
}

TEST(BitchatStoreForward, AHundredPerPeerTwentyFourHoursAndBoundedAttempts) {
  StoreForward sf;
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(sf.hold(sid(1), "m" + std::to_string(i), Bytes{}, 0));
  EXPECT_EQ(sf.hold(sid(1), "m100", Bytes{}, 0), "m0");  // the oldest makes room
  EXPECT_EQ(sf.held(sid(1)), 100u);
  sf.hold(sid(2), "x", Bytes{}, 3'600'000);
  auto expired = sf.expire(24ull * 3600 * 1000);
  EXPECT_EQ(expired.size(), 100u);  // peer 1's messages were held at 0
  EXPECT_EQ(sf.total(), 1u);
  StoreForward limited({.per_peer = 10, .ttl_ms = 1'000'000, .max_attempts = 2});
  limited.hold(sid(3), "y", Bytes{}, 0);
  EXPECT_EQ(limited.due(sid(3), 1).size(), 1u);
  EXPECT_EQ(limited.due(sid(3), 2).size(), 1u);
  std::vector<std::string> gave_up;
  EXPECT_TRUE(limited.due(sid(3), 3, &gave_up).empty());
  EXPECT_EQ(gave_up, std::vector<std::string>{"y"});
}

TEST(BitchatRelaySpool, HoldsRetriesAndHandsOverWithinItsCaps) {
  RelaySpool spool({.hold_ms = 60'000, .retry_ms = 5'000, .max_packets = 3, .max_bytes = 100});
  EXPECT_TRUE(spool.hold(sid(7), Bytes(10, 1), 0));
  EXPECT_TRUE(spool.hold(sid(8), Bytes(10, 2), 1'000));
  EXPECT_TRUE(spool.retry_due(4'999).empty());
  auto retry = spool.retry_due(5'000);
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].first, sid(7));
  EXPECT_TRUE(spool.retry_due(5'001).empty());  // next try in 5 s
  auto handed = spool.take(sid(8));             // the recipient appeared
  ASSERT_EQ(handed.size(), 1u);
  EXPECT_EQ(handed[0], Bytes(10, 2));
  EXPECT_EQ(spool.size(), 1u);
  EXPECT_FALSE(spool.hold(sid(9), Bytes(95, 3), 2'000));  // over max_bytes
  EXPECT_TRUE(spool.hold(sid(9), Bytes(10, 3), 2'000));
  EXPECT_TRUE(spool.hold(sid(9), Bytes(10, 4), 2'000));
  EXPECT_FALSE(spool.hold(sid(9), Bytes(10, 5), 2'000));  // over max_packets
  EXPECT_EQ(spool.expire(60'000), 1u);                    // sid(7)'s frame, held at 0
  EXPECT_EQ(spool.bytes(), 20u);
}

}  // namespace
}  // namespace hyphae::bitchat
