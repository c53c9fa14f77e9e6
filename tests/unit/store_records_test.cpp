// The store's peer records (schema v7): one per peer, only a higher sequence number replaces it,
// they survive a restart, and a flood of them stays within max_peer_records.
#include "store_test_support.hpp"

using namespace hyphae;
using namespace hyphae::store;
using namespace hyphae::store::test_support;

namespace {

using StoreRecords = hyphae::store::test_support::StoreTest;

PeerRecordRow record_row(std::string_view peer, std::uint64_t seq, std::string source) {
  PeerRecordRow r;
  r.peer = peer_id(peer);
  r.seq = seq;
  r.envelope = Bytes(40, static_cast<std::uint8_t>(seq));
  r.source = std::move(source);
  r.received_ms = 1000 + seq;
  r.expires_ms = 9000;
  return r;
}

// One record per peer; only a higher sequence number replaces it (an older one replayed by a
// registry or a relay changes nothing), and the records survive a restart.
TEST_F(StoreRecords, ANewerRecordReplacesTheStoredOneAnOlderOneNeverDoes) {
  {
    auto s = open_ok();
    WriteBatch b;
    b.record_upserts = {record_row("alice", 5, "self"), record_row("bob", 1, "registry")};
    ASSERT_FALSE(s->apply(b));
    WriteBatch older;
    older.record_upserts = {record_row("alice", 4, "query:mallory"), record_row("alice", 5, "query:mallory")};
    ASSERT_FALSE(s->apply(older));
    auto alice = s->peer_record(peer_id("alice"));
    ASSERT_TRUE(alice);
    EXPECT_EQ(alice->seq, 5u);
    EXPECT_EQ(alice->source, "self");
    WriteBatch newer;
    newer.record_upserts = {record_row("alice", 7, "registry")};
    ASSERT_FALSE(s->apply(newer));
  }
  auto s = open_ok();  // after a restart
  auto all = s->peer_records();
  ASSERT_EQ(all.size(), 2u);
  auto alice = s->peer_record(peer_id("alice"));
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->seq, 7u);
  EXPECT_EQ(alice->source, "registry");
  EXPECT_EQ(alice->envelope, Bytes(40, 7));
  EXPECT_EQ(alice->expires_ms, 9000u);
  EXPECT_FALSE(s->peer_record(peer_id("carol")));
}

// A flood of records (fresh identities cost nothing) is bounded: past max_peer_records, expired
// records go first, then the least recently received; the newest ones stay.
TEST_F(StoreRecords, RecordsBeyondTheBoundDropExpiredOnesFirstThenTheOldest) {
  Options o;
  o.max_peer_records = 100;
  auto s = open_ok(o);
  WriteBatch expired;
  auto gone = record_row("expired", 1, "session");
  gone.received_ms = 5000;
  gone.expires_ms = 1;  // long expired
  expired.record_upserts.push_back(gone);
  ASSERT_FALSE(s->apply(expired));
  for (int round = 0; round < 10; ++round) {
    WriteBatch flood;
    for (int i = 0; i < 100; ++i) {
      auto r = record_row("flood-" + std::to_string(round) + "-" + std::to_string(i), 1, "session");
      r.received_ms = 10'000 + static_cast<std::uint64_t>(round * 100 + i);
      flood.record_upserts.push_back(std::move(r));
    }
    ASSERT_FALSE(s->apply(flood));
    EXPECT_LE(s->peer_records().size(), 100u);
  }
  EXPECT_EQ(s->peer_records().size(), 100u);
  EXPECT_FALSE(s->peer_record(peer_id("expired")));
  EXPECT_FALSE(s->peer_record(peer_id("flood-0-0")));
  EXPECT_TRUE(s->peer_record(peer_id("flood-9-99")));
  EXPECT_TRUE(s->peer_record(peer_id("flood-9-0")));
}

}  // namespace
