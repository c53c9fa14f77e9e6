#include "store/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "store/schema.hpp"
#include "store/sqlite.hpp"

using namespace hyphae;
using namespace hyphae::store;
namespace fs = std::filesystem;

namespace {

MessageKey key(std::uint32_t n, std::uint8_t tag = 0) {
  MessageKey k{};
  k[0] = tag;
  k[12] = static_cast<std::uint8_t>(n >> 24);
  k[13] = static_cast<std::uint8_t>(n >> 16);
  k[14] = static_cast<std::uint8_t>(n >> 8);
  k[15] = static_cast<std::uint8_t>(n);
  return k;
}

Bytes peer_id(std::string_view name) {
  Bytes b{0x00, 0x24};  // identity multihash prefix; the store treats ids as opaque bytes
  append(b, as_bytes(name));
  return b;
}

// Envelope rows in both outbox generation tables of a closed store file (-1 on error).
std::int64_t stored_outbox_envelopes(const fs::path& file) {
  sql::Db db;
  std::int64_t n = -1;
  if (db.open(file, SQLITE_OPEN_READONLY) != SQLITE_OK ||
      db.query_int(
          "SELECT (SELECT count(*) FROM outbox_envelopes_0) + (SELECT count(*) FROM outbox_envelopes_1)",
          n) != SQLITE_OK)
    return -1;
  return n;
}

OutboxRow outbox(std::uint32_t n, const Bytes& to, int priority = 2, std::uint64_t created = 1000) {
  OutboxRow r;
  r.id = key(n);
  r.to = to;
  r.envelope = Bytes(256, static_cast<std::uint8_t>(n));
  r.priority = priority;
  r.created_ms = created;
  r.updated_ms = created;
  return r;
}

InboxRow inbox(std::uint32_t n, std::uint64_t received = 5000) {
  InboxRow r;
  r.id = key(n, 0x11);
  r.from = peer_id("alice");
  r.received_ms = received;
  r.envelope = Bytes(64, static_cast<std::uint8_t>(n));
  return r;
}

// Holds the writer thread inside a callback until release(), so that every batch submitted
// meanwhile lands in the same group commit (deterministic grouping, no sleeps).
class WriterGate {
 public:
  explicit WriterGate(Store& s) {
    s.submit(WriteBatch{}, [this](std::error_code) {
      entered_.set_value();
      open_.get_future().wait();
    });
    entered_.get_future().wait();
  }
  void release() { open_.set_value(); }

 private:
  std::promise<void> entered_, open_;
};

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("hyphae_store_" + std::to_string(::getpid()) + "_" +
                                        info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = dir_ / "node.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Store> open_ok(Options o = {}) {
    auto s = Store::open(db_, o);
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message());
    return s ? std::move(*s) : nullptr;
  }

  fs::path dir_, db_;
};

using StoreMigration = StoreTest;
using StoreOutbox = StoreTest;
using StoreInbox = StoreTest;
using StorePeers = StoreTest;
using StoreGroupCommit = StoreTest;
using StoreCrash = StoreTest;

TEST_F(StoreMigration, FromEmptyThenReopenKeepsDataAndVersion) {
  {
    auto s = open_ok();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->schema_version(), Store::latest_schema_version());
    EXPECT_GE(Store::latest_schema_version(), 2);
    WriteBatch b;
    b.outbox_inserts.push_back(outbox(1, peer_id("bob")));
    b.inbox_inserts.push_back(inbox(1));
    ASSERT_FALSE(s->apply(b));
  }
  auto s = open_ok();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->schema_version(), Store::latest_schema_version());
  EXPECT_TRUE(s->outbox_get(key(1)).has_value());
  EXPECT_TRUE(s->inbox_get(key(1, 0x11)).has_value());

  // One audit row per step, and WAL is on.
  sql::Db db;
  ASSERT_EQ(db.open(db_, SQLITE_OPEN_READONLY), SQLITE_OK);
  std::int64_t n = 0;
  ASSERT_EQ(db.query_int("SELECT count(*) FROM schema_migrations", n), SQLITE_OK);
  EXPECT_EQ(n, Store::latest_schema_version());
  std::string mode;
  ASSERT_EQ(db.query_text("PRAGMA journal_mode", mode), SQLITE_OK);
  EXPECT_EQ(mode, "wal");
}

TEST_F(StoreMigration, StepwiseUpgradeKeepsOlderData) {
  {
    sql::Db db;
    ASSERT_EQ(db.open(db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE), SQLITE_OK);
    ASSERT_FALSE(schema::migrate(db, 1));
    EXPECT_EQ(schema::current_version(db), 1);
    ASSERT_EQ(db.exec("INSERT INTO outbox(id, to_peer, envelope, priority, created_ms, state)"
                      " VALUES(zeroblob(16), x'00', x'aa', 2, 7, 0)"),
              SQLITE_OK);
  }
  auto s = open_ok();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->schema_version(), Store::latest_schema_version());
  auto row = s->outbox_get(MessageKey{});
  ASSERT_TRUE(row);
  EXPECT_EQ(row->created_ms, 7u);
  EXPECT_EQ(row->envelope, Bytes{0xaa});
  EXPECT_TRUE(s->peers().empty());  // v2 tables exist
}

TEST_F(StoreMigration, V2ToV3MovesEnvelopesApartAndKeepsSeqsAndStates) {
  {
    sql::Db db;
    ASSERT_EQ(db.open(db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE), SQLITE_OK);
    ASSERT_FALSE(schema::migrate(db, 2));
    // v2 rows: one queued and one delivered outbox message, two inbox messages (one app-acked).
    ASSERT_EQ(db.exec("INSERT INTO outbox(id, to_peer, envelope, priority, created_ms, state)"
                      " VALUES(x'01000000000000000000000000000000', x'b0', x'aa', 2, 7, 0),"
                      "       (x'02000000000000000000000000000000', x'b0', NULL, 2, 8, 2)"),
              SQLITE_OK);
    ASSERT_EQ(db.exec("INSERT INTO inbox(seq, id, from_peer, received_ms, envelope, app_acked)"
                      " VALUES(5, x'11000000000000000000000000000000', x'a0', 100, x'c1', 1),"
                      "       (9, x'12000000000000000000000000000000', x'a0', 200, x'c2', 0)"),
              SQLITE_OK);
    ASSERT_EQ(
        db.exec("INSERT INTO seen_ids(id, first_seen_ms) VALUES(x'11000000000000000000000000000000', 100)"),
        SQLITE_OK);
  }
  auto s = open_ok();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->schema_version(), Store::latest_schema_version());  // through v3 (and later steps)
  MessageKey queued{}, delivered{}, first{}, second{};
  queued[0] = 0x01;
  delivered[0] = 0x02;
  first[0] = 0x11;
  second[0] = 0x12;
  auto pending = s->pending_outbox_all(SIZE_MAX);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].id, queued);
  EXPECT_EQ(pending[0].envelope, Bytes{0xaa});
  EXPECT_EQ(s->outbox_get(delivered)->state, OutboxState::delivered);
  EXPECT_TRUE(s->outbox_get(delivered)->envelope.empty());
  auto in = s->inbox_after(0, false, SIZE_MAX);
  ASSERT_EQ(in.size(), 2u);
  EXPECT_EQ(in[0].seq, 5u);
  EXPECT_EQ(in[0].envelope, Bytes{0xc1});
  EXPECT_TRUE(in[0].app_acked);
  EXPECT_EQ(in[1].seq, 9u);
  EXPECT_EQ(s->inbox_after(0, true, SIZE_MAX).size(), 1u);
  EXPECT_TRUE(s->seen(first));
  EXPECT_TRUE(s->seen(second));
  EXPECT_EQ(s->seen_since(150).size(), 1u);
  // New rows continue after the migrated seqs.
  WriteBatch more;
  more.inbox_inserts.push_back(inbox(40));
  ASSERT_FALSE(s->apply(more));
  EXPECT_GT(s->inbox_get(key(40, 0x11))->seq, 9u);
}

TEST_F(StoreMigration, V3ToV4AddsTransportReasonAndKeepsEveryRow) {
  {
    sql::Db db;
    ASSERT_EQ(db.open(db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE), SQLITE_OK);
    ASSERT_FALSE(schema::migrate(db, 3));
    EXPECT_EQ(schema::current_version(db), 3);
    // v3 rows: a sent message (envelope in generation 0), a delivered and a failed one (its envelope
    // kept), and an inbox message.
    ASSERT_EQ(
        db.exec("INSERT INTO outbox(seq, id, to_peer, priority, created_ms, expires_ms, state,"
                " transport, reason, attempts, updated_ms)"
                " VALUES(3, x'01000000000000000000000000000000', x'b0', 1, 7, 70, 1, 'tcp', '', 2, 9),"
                "       (4, x'02000000000000000000000000000000', x'b0', 2, 8, 0, 2, 'mesh', '', 1, 10),"
                "       (6, x'03000000000000000000000000000000', x'b1', 3, 9, 0, 3, '', 'expired', 0, 11)"),
        SQLITE_OK);
    ASSERT_EQ(db.exec("INSERT INTO outbox_envelopes_0(seq, envelope) VALUES(3, x'aa'), (6, x'cc')"),
              SQLITE_OK);
    ASSERT_EQ(db.exec("INSERT INTO inbox(seq, id, from_peer, received_ms, app_acked)"
                      " VALUES(5, x'11000000000000000000000000000000', x'a0', 100, 0)"),
              SQLITE_OK);
    ASSERT_EQ(db.exec("INSERT INTO inbox_envelopes(seq, envelope) VALUES(5, x'c1')"), SQLITE_OK);
  }
  MessageKey sent{}, delivered{}, failed{}, received{};
  sent[0] = 0x01;
  delivered[0] = 0x02;
  failed[0] = 0x03;
  received[0] = 0x11;
  {
    auto s = open_ok();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->schema_version(), Store::latest_schema_version());  // v4, then v5
    auto pending = s->pending_outbox_all(SIZE_MAX);
    ASSERT_EQ(pending.size(), 1u);
    EXPECT_EQ(pending[0].id, sent);
    EXPECT_EQ(pending[0].envelope, Bytes{0xaa});
    EXPECT_EQ(pending[0].state, OutboxState::sent);
    EXPECT_EQ(pending[0].priority, 1);
    EXPECT_EQ(pending[0].created_ms, 7u);
    EXPECT_EQ(pending[0].expires_ms, 70u);
    EXPECT_EQ(pending[0].transport, "tcp");
    EXPECT_EQ(pending[0].transport_reason, "");  // rows from before v4 have no reason
    EXPECT_EQ(pending[0].preference, "");        // nor (v5) a preference
    EXPECT_EQ(pending[0].redundancy, 1);
    EXPECT_EQ(pending[0].attempts, 2u);
    EXPECT_EQ(pending[0].updated_ms, 9u);
    auto d = s->outbox_get(delivered);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->state, OutboxState::delivered);
    EXPECT_EQ(d->transport, "mesh");
    EXPECT_EQ(d->transport_reason, "");
    EXPECT_TRUE(d->envelope.empty());
    auto f = s->outbox_get(failed);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->state, OutboxState::failed);
    EXPECT_EQ(f->reason, "expired");
    EXPECT_EQ(f->envelope, Bytes{0xcc});
    EXPECT_EQ(f->to, Bytes{0xb1});
    EXPECT_EQ(s->outbox_count(OutboxState::sent), 1u);
    EXPECT_EQ(s->outbox_count(OutboxState::delivered), 1u);
    EXPECT_EQ(s->outbox_count(OutboxState::failed), 1u);
    auto in = s->inbox_get(received);
    ASSERT_TRUE(in);
    EXPECT_EQ(in->seq, 5u);
    EXPECT_EQ(in->envelope, Bytes{0xc1});

    // A migrated row takes a reason with its next transport; new rows get one on insert.
    WriteBatch b;
    b.outbox_updates.push_back(
        OutboxUpdate{sent, OutboxState::sent, "mesh", "", 12, true, "failover: tcp timed out"});
    OutboxRow fresh = outbox(40, peer_id("bob"));
    fresh.transport = "tcp";
    fresh.transport_reason = "direct link to the recipient";
    b.outbox_inserts.push_back(fresh);
    ASSERT_FALSE(s->apply(b));
    EXPECT_EQ(s->outbox_get(sent)->transport_reason, "failover: tcp timed out");
    EXPECT_EQ(s->outbox_get(key(40))->transport_reason, "direct link to the recipient");
  }
  sql::Db db;
  ASSERT_EQ(db.open(db_, SQLITE_OPEN_READONLY), SQLITE_OK);
  std::int64_t n = 0;
  ASSERT_EQ(db.query_int("SELECT count(*) FROM outbox", n), SQLITE_OK);
  EXPECT_EQ(n, 4);
  ASSERT_EQ(db.query_int("SELECT count(*) FROM outbox WHERE seq IN (3, 4, 6)", n), SQLITE_OK);
  EXPECT_EQ(n, 3);  // migrated seqs are kept
  ASSERT_EQ(db.query_int("SELECT seq FROM outbox WHERE transport_reason = 'direct link to the recipient'", n),
            SQLITE_OK);
  EXPECT_GT(n, 6);  // and new rows continue after them
  ASSERT_EQ(db.query_int("SELECT count(*) FROM schema_migrations WHERE version = 4"
                         " AND name = 'outbox_transport_reason'",
                         n),
            SQLITE_OK);
  EXPECT_EQ(n, 1);
}

TEST_F(StoreOutbox, TransportReasonRoundTripsAndFollowsTheTransport) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  const Bytes bob = peer_id("bob");
  WriteBatch b;
  OutboxRow direct = outbox(1, bob);
  direct.transport = "tcp";
  direct.transport_reason = "direct link to the recipient";
  b.outbox_inserts.push_back(direct);
  b.outbox_inserts.push_back(outbox(2, bob));  // no transport yet
  ASSERT_FALSE(s->apply(b));
  // Every read path fills it.
  EXPECT_EQ(s->outbox_get(key(1))->transport_reason, "direct link to the recipient");
  EXPECT_EQ(s->outbox_get(key(2))->transport_reason, "");
  auto to_bob = s->pending_outbox(bob, SIZE_MAX);
  ASSERT_EQ(to_bob.size(), 2u);
  EXPECT_EQ(to_bob[0].transport_reason, "direct link to the recipient");
  auto all = s->pending_outbox_all(SIZE_MAX);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].transport_reason, "direct link to the recipient");

  // A non-empty transport replaces both.
  WriteBatch failover;
  OutboxUpdate u{key(1), OutboxState::sent, "mesh", "", 2000, true};
  u.transport_reason = "failover: tcp timed out";
  failover.outbox_updates.push_back(u);
  failover.outbox_updates.push_back(
      OutboxUpdate{key(2), OutboxState::sent, "tcp", "", 2000, true, "direct link to the recipient"});
  ASSERT_FALSE(s->apply(failover));
  auto row = s->outbox_get(key(1));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->transport, "mesh");
  EXPECT_EQ(row->transport_reason, "failover: tcp timed out");
  EXPECT_EQ(s->outbox_get(key(2))->transport_reason, "direct link to the recipient");

  // An empty transport keeps both, whatever transport_reason the update carries.
  WriteBatch keep;
  keep.outbox_updates.push_back({key(1), OutboxState::sent, "", "retry", 2100, true});
  OutboxUpdate stray{key(2), OutboxState::delivered, "", "", 2200, false};
  stray.transport_reason = "ignored without a transport";
  keep.outbox_updates.push_back(stray);
  ASSERT_FALSE(s->apply(keep));
  row = s->outbox_get(key(1));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->transport, "mesh");
  EXPECT_EQ(row->transport_reason, "failover: tcp timed out");
  EXPECT_EQ(row->reason, "retry");
  EXPECT_EQ(row->attempts, 2u);
  row = s->outbox_get(key(2));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, OutboxState::delivered);
  EXPECT_EQ(row->transport, "tcp");
  EXPECT_EQ(row->transport_reason, "direct link to the recipient");

  // And it survives a reopen.
  s.reset();
  s = open_ok();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->outbox_get(key(1))->transport_reason, "failover: tcp timed out");
}

TEST_F(StoreOutbox, AckBeforeCommitWritesNoEnvelope) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  // Insert and delivered mark in one group: the message never needs its envelope on disk.
  WriteBatch b;
  b.outbox_inserts.push_back(outbox(1, peer_id("bob")));
  b.outbox_inserts.push_back(outbox(2, peer_id("bob")));
  b.outbox_updates.push_back(OutboxUpdate{key(1), OutboxState::delivered, "tcp", "", 2000, false});
  std::promise<std::error_code> done;
  s->submit(std::move(b), [&](std::error_code ec) { done.set_value(ec); });
  ASSERT_FALSE(done.get_future().get());
  EXPECT_EQ(s->outbox_get(key(1))->state, OutboxState::delivered);
  EXPECT_EQ(s->outbox_get(key(1))->transport, "tcp");
  EXPECT_EQ(s->pending_outbox_all(SIZE_MAX).size(), 1u);
  s.reset();
  EXPECT_EQ(stored_outbox_envelopes(db_), 1);  // only message 2's
}

TEST_F(StoreOutbox, EnvelopeGenerationsRotateAndKeepEveryUndeliveredEnvelope) {
  Options small;
  small.envelope_generation_rows = 4;
  auto s = Store::open(db_, small);
  ASSERT_TRUE(s);
  auto insert = [&](std::initializer_list<std::uint32_t> ns) {
    WriteBatch b;
    for (auto n : ns) b.outbox_inserts.push_back(outbox(n, peer_id("bob")));
    ASSERT_FALSE((*s)->apply(b));
  };
  auto deliver = [&](std::initializer_list<std::uint32_t> ns) {
    WriteBatch b;
    for (auto n : ns)
      b.outbox_updates.push_back(OutboxUpdate{key(n), OutboxState::delivered, "tcp", "", 9, false});
    ASSERT_FALSE((*s)->apply(b));
  };
  insert({1, 2, 3});
  deliver({1, 2});
  insert({4, 5});  // generation 0 now holds 5 envelopes: the next transaction switches
  insert({6});
  insert({7, 8, 9, 10});
  WriteBatch fail;
  fail.outbox_updates.push_back(OutboxUpdate{key(3), OutboxState::failed, "", "expired", 9, false});
  ASSERT_FALSE((*s)->apply(fail));
  deliver({6});
  insert({11});  // switches back: 3 (failed), 4 and 5 move over, generation 0 is emptied
  insert({12, 13, 14, 15});
  insert({16});  // and again: 7..10 move, 6 (delivered) is dropped
  auto check = [&](Store& st) {
    std::set<std::uint32_t> pending;
    for (const auto& r : st.pending_outbox_all(SIZE_MAX)) {
      pending.insert(r.id[15]);
      EXPECT_EQ(r.envelope, outbox(r.id[15], peer_id("bob")).envelope);
    }
    EXPECT_EQ(pending, (std::set<std::uint32_t>{4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}));
    EXPECT_EQ(st.outbox_get(key(3))->envelope, outbox(3, peer_id("bob")).envelope);  // failed keeps it
    EXPECT_TRUE(st.outbox_get(key(1))->envelope.empty());
    EXPECT_TRUE(st.outbox_get(key(6))->envelope.empty());
    EXPECT_EQ(st.outbox_count(OutboxState::queued), 12u);
  };
  check(**s);
  s->reset();
  s = Store::open(db_, small);  // the generations are found again
  ASSERT_TRUE(s);
  check(**s);
  insert({17});
  s->reset();
  EXPECT_LE(stored_outbox_envelopes(db_), 14);  // delivered envelopes do not pile up
}

TEST_F(StoreMigration, NewerVersionIsRefused) {
  { ASSERT_TRUE(open_ok()); }
  {
    sql::Db db;
    ASSERT_EQ(db.open(db_, SQLITE_OPEN_READWRITE), SQLITE_OK);
    std::string sql = "PRAGMA user_version = " + std::to_string(Store::latest_schema_version() + 1);
    ASSERT_EQ(db.exec(sql.c_str()), SQLITE_OK);
  }
  auto s = Store::open(db_);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error(), make_error_code(Errc::unsupported));
}

TEST_F(StoreMigration, GarbageFileFailsCleanly) {
  {
    std::FILE* f = std::fopen(db_.c_str(), "wb");
    ASSERT_TRUE(f);
    std::string junk(8192, 'x');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
  }
  auto s = Store::open(db_);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error(), make_error_code(Errc::store_failed));
}

TEST_F(StoreOutbox, QueuedSentDeliveredDropsEnvelopeKeepsStatus) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  const Bytes bob = peer_id("bob"), carol = peer_id("carol");
  WriteBatch b;
  b.outbox_inserts.push_back(outbox(1, bob, 2, 1000));
  b.outbox_inserts.push_back(outbox(2, bob, 0, 3000));  // more urgent, later
  b.outbox_inserts.push_back(outbox(3, bob, 2, 500));   // same priority, earlier
  b.outbox_inserts.push_back(outbox(4, carol));
  ASSERT_FALSE(s->apply(b));

  auto pending = s->pending_outbox(bob, 10);
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].id, key(2));
  EXPECT_EQ(pending[1].id, key(3));
  EXPECT_EQ(pending[2].id, key(1));
  EXPECT_EQ(pending[0].envelope, Bytes(256, 2));
  EXPECT_EQ(s->pending_outbox(bob, 1).size(), 1u);
  EXPECT_EQ(s->pending_outbox_all(SIZE_MAX).size(), 4u);
  EXPECT_EQ(s->outbox_count(OutboxState::queued), 4u);

  WriteBatch sent;
  sent.outbox_updates.push_back({key(1), OutboxState::sent, "mesh", "", 2000, true});
  ASSERT_FALSE(s->apply(sent));
  auto row = s->outbox_get(key(1));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, OutboxState::sent);
  EXPECT_EQ(row->transport, "mesh");
  EXPECT_EQ(row->attempts, 1u);
  EXPECT_EQ(row->updated_ms, 2000u);
  EXPECT_EQ(s->pending_outbox(bob, 10).size(), 3u);  // sent is still pending (until delivered)

  WriteBatch delivered;
  delivered.outbox_updates.push_back({key(1), OutboxState::delivered, "", "", 2500, false});
  ASSERT_FALSE(s->apply(delivered));
  row = s->outbox_get(key(1));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, OutboxState::delivered);
  EXPECT_TRUE(row->envelope.empty());
  EXPECT_EQ(row->transport, "mesh");  // empty transport keeps the stored one
  EXPECT_EQ(row->to, bob);
  EXPECT_EQ(row->attempts, 1u);
  EXPECT_EQ(s->pending_outbox(bob, 10).size(), 2u);
  EXPECT_EQ(s->outbox_count(OutboxState::delivered), 1u);

  // Delivered is final: a late "sent" does not resurrect a row without its envelope.
  WriteBatch late;
  late.outbox_updates.push_back({key(1), OutboxState::sent, "bitchat", "", 2600, true});
  ASSERT_FALSE(s->apply(late));
  EXPECT_EQ(s->outbox_get(key(1))->state, OutboxState::delivered);

  WriteBatch failed;
  failed.outbox_updates.push_back({key(4), OutboxState::failed, "", "expired", 9000, false});
  ASSERT_FALSE(s->apply(failed));
  EXPECT_EQ(s->outbox_get(key(4))->reason, "expired");
  EXPECT_EQ(s->outbox_get(key(4))->envelope, Bytes(256, 4));  // kept for a manual retry
  EXPECT_TRUE(s->pending_outbox(carol, 10).empty());
  EXPECT_FALSE(s->outbox_get(key(99)).has_value());
  EXPECT_EQ(to_string(OutboxState::delivered), "delivered");
}

TEST_F(StoreOutbox, DuplicateInsertFailsAndRollsBackTheWholeBatch) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  WriteBatch a;
  a.outbox_inserts.push_back(outbox(1, peer_id("bob")));
  ASSERT_FALSE(s->apply(a));
  WriteBatch b;
  b.inbox_inserts.push_back(inbox(7));
  b.outbox_inserts.push_back(outbox(1, peer_id("bob")));
  EXPECT_EQ(s->apply(b), make_error_code(Errc::store_failed));
  EXPECT_FALSE(s->inbox_get(key(7, 0x11)).has_value());
  EXPECT_EQ(s->stats().transactions, 1u);
}

TEST_F(StoreInbox, InsertIsIdempotentAndSeqIsMonotonic) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  WriteBatch b;
  for (std::uint32_t i = 0; i < 5; ++i) b.inbox_inserts.push_back(inbox(i, 100 + i));
  ASSERT_FALSE(s->apply(b));
  WriteBatch again;  // duplicates are harmless and keep the first copy
  again.inbox_inserts.push_back(inbox(2, 999));
  again.inbox_inserts.push_back(inbox(5, 105));
  ASSERT_FALSE(s->apply(again));

  auto all = s->inbox_after(0, false, SIZE_MAX);
  ASSERT_EQ(all.size(), 6u);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_GT(all[i].seq, all[i - 1].seq);
  EXPECT_EQ(all[2].id, key(2, 0x11));
  EXPECT_EQ(all[2].received_ms, 102u);
  EXPECT_EQ(all[5].id, key(5, 0x11));
  EXPECT_EQ(all[0].from, peer_id("alice"));
  EXPECT_EQ(all[0].envelope, Bytes(64, 0));

  auto tail = s->inbox_after(all[3].seq, false, 10);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].seq, all[4].seq);
  EXPECT_EQ(s->inbox_after(0, false, 2).size(), 2u);

  // Every inserted id is a seen id, seen since it was received.
  EXPECT_TRUE(s->seen(key(2, 0x11)));
  EXPECT_FALSE(s->seen(key(2, 0x22)));
  EXPECT_EQ(s->seen_since(0).size(), 6u);
  EXPECT_EQ(s->seen_since(103).size(), 3u);
  EXPECT_EQ(s->seen_since(103).front(), key(5, 0x11));  // newest first
  EXPECT_TRUE(s->seen_since(1000).empty());

  // A later insert after re-open still gets a larger seq.
  const std::uint64_t last = all.back().seq;
  s.reset();
  s = open_ok();
  WriteBatch more;
  more.inbox_inserts.push_back(inbox(6));
  ASSERT_FALSE(s->apply(more));
  EXPECT_GT(s->inbox_get(key(6, 0x11))->seq, last);
}

TEST_F(StoreInbox, AppAcks) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  WriteBatch b;
  for (std::uint32_t i = 0; i < 4; ++i) b.inbox_inserts.push_back(inbox(i));
  ASSERT_FALSE(s->apply(b));
  WriteBatch acks;
  acks.inbox_app_acks = {key(0, 0x11), key(2, 0x11), key(42, 0x11)};  // unknown ids are ignored
  ASSERT_FALSE(s->apply(acks));

  auto unacked = s->inbox_after(0, true, SIZE_MAX);
  ASSERT_EQ(unacked.size(), 2u);
  EXPECT_EQ(unacked[0].id, key(1, 0x11));
  EXPECT_EQ(unacked[1].id, key(3, 0x11));
  EXPECT_FALSE(unacked[0].app_acked);
  EXPECT_TRUE(s->inbox_get(key(0, 0x11))->app_acked);
  EXPECT_EQ(s->inbox_after(0, false, SIZE_MAX).size(), 4u);
  EXPECT_EQ(s->inbox_after(unacked[0].seq, true, SIZE_MAX).size(), 1u);
}

TEST_F(StoreInbox, UnackedReadsFollowAcksInAnyOrderAndAcrossReopen) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  auto ack = [&](std::initializer_list<std::uint32_t> ns) {
    WriteBatch b;
    for (auto n : ns) b.inbox_app_acks.push_back(key(n, 0x11));
    ASSERT_FALSE(s->apply(b));
  };
  auto unacked_ids = [&](std::uint64_t after) {
    std::vector<MessageKey> ids;
    for (const auto& r : s->inbox_after(after, true, SIZE_MAX)) ids.push_back(r.id);
    return ids;
  };
  WriteBatch b;
  for (std::uint32_t i = 0; i < 6; ++i) b.inbox_inserts.push_back(inbox(i));
  ASSERT_FALSE(s->apply(b));
  ack({1, 2});
  EXPECT_EQ(unacked_ids(0),
            (std::vector<MessageKey>{key(0, 0x11), key(3, 0x11), key(4, 0x11), key(5, 0x11)}));
  ack({0});  // the oldest goes last: later reads must not miss 3..5
  EXPECT_EQ(unacked_ids(0), (std::vector<MessageKey>{key(3, 0x11), key(4, 0x11), key(5, 0x11)}));
  ack({3, 4, 5});
  EXPECT_TRUE(unacked_ids(0).empty());
  // Rows arriving after everything was acked are found, also with a limit and after a reopen.
  WriteBatch more;
  more.inbox_inserts.push_back(inbox(6));
  more.inbox_inserts.push_back(inbox(7));
  ASSERT_FALSE(s->apply(more));
  auto first = s->inbox_after(0, true, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].id, key(6, 0x11));
  EXPECT_EQ(unacked_ids(0), (std::vector<MessageKey>{key(6, 0x11), key(7, 0x11)}));
  ack({7});
  s.reset();
  s = open_ok();
  ASSERT_TRUE(s);
  EXPECT_EQ(unacked_ids(0), (std::vector<MessageKey>{key(6, 0x11)}));
  EXPECT_TRUE(unacked_ids(s->inbox_get(key(6, 0x11))->seq).empty());
}

TEST_F(StorePeers, UpsertMergesAddressesAndKeepsNewestLastSeen) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  const Bytes bob = peer_id("bob");
  WriteBatch a;
  a.peer_upserts.push_back({bob, {"/ip4/10.0.0.2/tcp/4001", "/ip4/10.0.0.2/udp/4001/quic"}, 500});
  a.peer_upserts.push_back({peer_id("carol"), {}, 10});
  ASSERT_FALSE(s->apply(a));
  WriteBatch b;
  b.peer_upserts.push_back({bob, {"/ip4/10.0.0.2/tcp/4001", "/dns4/bob.example/tcp/443/wss"}, 300});
  ASSERT_FALSE(s->apply(b));

  auto p = s->peer(bob);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->last_seen_ms, 500u);  // an older sighting does not move last_seen back
  EXPECT_EQ(p->addresses, (std::vector<std::string>{"/dns4/bob.example/tcp/443/wss", "/ip4/10.0.0.2/tcp/4001",
                                                    "/ip4/10.0.0.2/udp/4001/quic"}));
  WriteBatch c;
  c.peer_upserts.push_back({bob, {}, 800});
  ASSERT_FALSE(s->apply(c));
  EXPECT_EQ(s->peer(bob)->last_seen_ms, 800u);
  EXPECT_EQ(s->peer(bob)->addresses.size(), 3u);

  auto all = s->peers();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_TRUE(all[1].addresses.empty() || all[0].addresses.empty());
  EXPECT_FALSE(s->peer(peer_id("dave")).has_value());
}

TEST_F(StorePeers, RoutesUpsertIgnoresOlderUpdates) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  const Bytes carol = peer_id("carol"), bob = peer_id("bob"), eve = peer_id("eve");
  WriteBatch a;
  a.route_upserts.push_back({carol, bob, "webrtc", 2, 100, 60100});
  a.route_upserts.push_back({carol, eve, "mesh", 1, 100, 0});
  ASSERT_FALSE(s->apply(a));
  WriteBatch b;
  b.route_upserts.push_back({carol, bob, "webrtc", 1, 200, 60200});  // newer: replaces
  b.route_upserts.push_back({carol, eve, "mesh", 5, 50, 0});         // older: ignored
  ASSERT_FALSE(s->apply(b));

  auto r = s->routes();
  ASSERT_EQ(r.size(), 2u);
  for (const auto& row : r) {
    EXPECT_EQ(row.destination, carol);
    EXPECT_EQ(row.hops, 1);
    if (row.next_hop == bob) {
      EXPECT_EQ(row.transport, "webrtc");
      EXPECT_EQ(row.updated_ms, 200u);
      EXPECT_EQ(row.expires_ms, 60200u);
    } else {
      EXPECT_EQ(row.next_hop, eve);
      EXPECT_EQ(row.updated_ms, 100u);
    }
  }
}

TEST_F(StoreGroupCommit, TwoThreadsTenThousandBatchesAreGrouped) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  constexpr std::uint32_t kPerThread = 5000;
  std::vector<std::atomic<int>> calls(2 * kPerThread);
  std::atomic<int> errors{0};
  std::mutex order_mu;
  std::vector<std::uint32_t> order[2];
  std::thread::id callback_thread;
  auto producer = [&](int t) {
    const Bytes to = peer_id(t == 0 ? "bob" : "carol");
    for (std::uint32_t i = 0; i < kPerThread; ++i) {
      const std::uint32_t n = t * kPerThread + i;
      WriteBatch b;
      b.outbox_inserts.push_back(outbox(n, to, 2, n));
      if (i % 2 == 0) b.inbox_inserts.push_back(inbox(n));
      s->submit(std::move(b), [&, n, t](std::error_code ec) {
        calls[n].fetch_add(1);
        if (ec) errors.fetch_add(1);
        std::lock_guard lk(order_mu);
        callback_thread = std::this_thread::get_id();
        order[t].push_back(n);
      });
    }
  };
  std::thread t0(producer, 0), t1(producer, 1);
  t0.join();
  t1.join();
  s->flush();

  for (auto& c : calls) ASSERT_EQ(c.load(), 1);
  EXPECT_EQ(errors.load(), 0);
  for (int t = 0; t < 2; ++t) {
    ASSERT_EQ(order[t].size(), kPerThread);
    for (std::size_t i = 1; i < order[t].size(); ++i) ASSERT_LT(order[t][i - 1], order[t][i]);
  }
  EXPECT_NE(callback_thread, std::this_thread::get_id());

  EXPECT_EQ(s->outbox_count(OutboxState::queued), 2 * kPerThread);
  EXPECT_EQ(s->pending_outbox(peer_id("bob"), SIZE_MAX).size(), kPerThread);
  EXPECT_EQ(s->inbox_after(0, false, SIZE_MAX).size(), kPerThread);
  for (std::uint32_t n = 0; n < 2 * kPerThread; n += 997) EXPECT_TRUE(s->outbox_get(key(n))) << n;

  const Stats st = s->stats();
  std::printf("[ stats    ] %llu batches, %llu rows in %llu transactions\n",
              static_cast<unsigned long long>(st.batches), static_cast<unsigned long long>(st.rows),
              static_cast<unsigned long long>(st.transactions));
  EXPECT_EQ(st.batches, 2 * kPerThread);
  EXPECT_EQ(st.rows, 3 * kPerThread);
  EXPECT_LT(st.transactions, st.batches / 2) << "group commit did not group";
  EXPECT_GE(st.transactions, 1u);
}

TEST_F(StoreGroupCommit, InjectedFailureReachesEveryCallbackAndAppliesNothing) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  WriterGate gate(*s);                  // the gate's own empty batch has already committed
  s->inject_write_failure_for_test(1);  // so the next group, all 50 batches, is the one that fails
  std::vector<std::error_code> results(50);
  std::atomic<int> calls{0};
  for (std::uint32_t n = 0; n < results.size(); ++n) {
    WriteBatch b;
    b.outbox_inserts.push_back(outbox(n, peer_id("bob")));
    b.inbox_inserts.push_back(inbox(n));
    s->submit(std::move(b), [&, n](std::error_code ec) {
      results[n] = ec;
      calls.fetch_add(1);
    });
  }
  gate.release();
  s->flush();
  ASSERT_EQ(calls.load(), 50);
  for (std::uint32_t n = 0; n < results.size(); ++n) {
    EXPECT_EQ(results[n], make_error_code(Errc::store_failed)) << n;
    EXPECT_FALSE(s->outbox_get(key(n)).has_value()) << n;
    EXPECT_FALSE(s->inbox_get(key(n, 0x11)).has_value()) << n;
    EXPECT_FALSE(s->seen(key(n, 0x11))) << n;
  }
  EXPECT_EQ(s->outbox_count(OutboxState::queued), 0u);

  // The hook is spent: the same rows now commit.
  WriteBatch again;
  again.outbox_inserts.push_back(outbox(0, peer_id("bob")));
  std::promise<std::error_code> done;
  s->submit(std::move(again), [&](std::error_code ec) { done.set_value(ec); });
  EXPECT_FALSE(done.get_future().get());
  EXPECT_TRUE(s->outbox_get(key(0)).has_value());

  // apply() honours the hook too.
  s->inject_write_failure_for_test(1);
  WriteBatch b;
  b.outbox_inserts.push_back(outbox(1000, peer_id("bob")));
  EXPECT_EQ(s->apply(b), make_error_code(Errc::store_failed));
  EXPECT_FALSE(s->outbox_get(key(1000)));
  EXPECT_FALSE(s->apply(b));
  EXPECT_TRUE(s->outbox_get(key(1000)));
}

TEST_F(StoreGroupCommit, ConstraintViolationFailsOnlyTheOffendingBatch) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  WriteBatch first;
  first.outbox_inserts.push_back(outbox(1, peer_id("bob")));
  ASSERT_FALSE(s->apply(first));

  WriterGate gate(*s);
  std::vector<std::error_code> results(20);
  std::atomic<int> calls{0};
  for (std::uint32_t n = 0; n < results.size(); ++n) {
    WriteBatch b;
    // Batch 10 repeats outbox id 1 (already stored) alongside a fresh inbox row.
    b.outbox_inserts.push_back(outbox(n == 10 ? 1 : 100 + n, peer_id("bob")));
    b.inbox_inserts.push_back(inbox(n));
    s->submit(std::move(b), [&, n](std::error_code ec) {
      results[n] = ec;
      calls.fetch_add(1);
    });
  }
  const std::uint64_t transactions_before = s->stats().transactions;
  gate.release();
  s->flush();
  ASSERT_EQ(calls.load(), 20);
  // All 20 were one group: one transaction (savepoint retry) committed the 19 good batches.
  EXPECT_EQ(s->stats().transactions - transactions_before, 1u);
  for (std::uint32_t n = 0; n < results.size(); ++n) {
    if (n == 10) {
      EXPECT_EQ(results[n], make_error_code(Errc::store_failed));
      EXPECT_FALSE(s->inbox_get(key(n, 0x11)).has_value());
    } else {
      EXPECT_FALSE(results[n]) << n;
      EXPECT_TRUE(s->inbox_get(key(n, 0x11)).has_value()) << n;
    }
  }
}

TEST_F(StoreGroupCommit, DestructorDrainsQueuedBatches) {
  std::atomic<int> calls{0};
  {
    auto s = open_ok();
    ASSERT_TRUE(s);
    for (std::uint32_t n = 0; n < 1000; ++n) {
      WriteBatch b;
      b.inbox_inserts.push_back(inbox(n));
      s->submit(std::move(b), [&](std::error_code ec) {
        EXPECT_FALSE(ec);
        calls.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(calls.load(), 1000);
  auto s = open_ok();
  EXPECT_EQ(s->inbox_after(0, false, SIZE_MAX).size(), 1000u);
}

// Child: fresh Store, submit, flush, _exit without destructors. Parent: every flushed row is there.
void crash_round_trip(const fs::path& db_, Options options,
                      std::unique_ptr<Store> (*reopen)(const fs::path&)) {
  constexpr std::uint32_t kRows = 3000;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: a fresh Store (connections are never carried across fork).
    auto opened = Store::open(db_, options);
    if (!opened) ::_exit(2);
    Store* s = opened->release();  // never destroyed: the process dies with the writer running
    std::atomic<int> errors{0};
    for (std::uint32_t n = 0; n < kRows; ++n) {
      WriteBatch b;
      b.outbox_inserts.push_back(outbox(n, peer_id("bob")));
      if (n % 3 == 0) b.inbox_inserts.push_back(inbox(n));
      s->submit(std::move(b), [&](std::error_code ec) {
        if (ec) errors.fetch_add(1);
      });
    }
    s->flush();
    ::_exit(errors.load() == 0 ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  auto s = reopen(db_);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->outbox_count(OutboxState::queued), kRows);
  for (std::uint32_t n = 0; n < kRows; ++n) ASSERT_TRUE(s->outbox_get(key(n)).has_value()) << n;
  EXPECT_EQ(s->inbox_after(0, false, SIZE_MAX).size(), (kRows + 2) / 3);
}

std::unique_ptr<Store> reopen(const fs::path& db) {
  auto s = Store::open(db);
  return s ? std::move(*s) : nullptr;
}

TEST_F(StoreCrash, ForkedChildExitsWithoutDestructorAndFlushedRowsSurvive) {
  crash_round_trip(db_, {}, reopen);
}

TEST_F(StoreCrash, SameWithSynchronousFull) {
  crash_round_trip(db_, Options{.synchronous_full = true}, reopen);
}

TEST(StoreBatch, SizeEmptyMerge) {
  WriteBatch a, b;
  EXPECT_TRUE(a.empty());
  a.outbox_inserts.resize(2);
  b.outbox_inserts.resize(1);
  b.inbox_app_acks.resize(3);
  b.route_upserts.resize(1);
  EXPECT_EQ(b.size(), 5u);
  a.merge(std::move(b));
  EXPECT_EQ(a.size(), 7u);
  EXPECT_EQ(a.outbox_inserts.size(), 3u);
  EXPECT_TRUE(b.empty());
}

}  // namespace

namespace hyphae::store {
namespace {

TEST(StoreFastPath, IdleSubmitCommitsOnTheCallerThreadAndKeepsOrder) {
  auto dir = fs::temp_directory_path() / ("hyphae_store_fast_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    auto opened = Store::open(dir / "node.db", Options{.commit_inline_when_idle = true});
    ASSERT_TRUE(opened);
    auto& store = **opened;
    store.flush();
    // Wait until the writer thread sleeps, so the next submit takes the inline path.
    std::thread::id ran_on;
    for (int attempt = 0; attempt < 200 && ran_on != std::this_thread::get_id(); ++attempt) {
      WriteBatch b;
      b.outbox_inserts.push_back(outbox(static_cast<std::uint32_t>(attempt), peer_id("bob")));
      store.submit(std::move(b), [&](std::error_code ec) {
        EXPECT_FALSE(ec);
        ran_on = std::this_thread::get_id();
      });
      store.flush();
      // flush() returns once the callback ran; give the writer a moment to go back to sleep.
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    EXPECT_EQ(ran_on, std::this_thread::get_id()) << "an idle writer should let the caller commit";
    // Mixed inline and queued submissions still apply in submission order.
    std::vector<int> order;
    std::mutex mu;
    for (int i = 0; i < 200; ++i) {
      WriteBatch b;
      b.outbox_inserts.push_back(outbox(static_cast<std::uint32_t>(1000 + i), peer_id("bob")));
      store.submit(std::move(b), [&, i](std::error_code ec) {
        EXPECT_FALSE(ec);
        std::lock_guard lk(mu);
        order.push_back(i);
      });
    }
    store.flush();
    ASSERT_EQ(order.size(), 200u);
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
    EXPECT_TRUE(store.outbox_get(key(1199)).has_value());
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hyphae::store

namespace hyphae::store {
namespace {
TEST(StoreOutboxV5, PreferenceAndRedundancySurviveAReopen) {
  auto dir = std::filesystem::temp_directory_path() / ("hyphae_store_pref_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  MessageKey id{};
  id[0] = 0x42;
  {
    auto s = Store::open(dir / "h.db");
    ASSERT_TRUE(s);
    WriteBatch b;
    OutboxRow row;
    row.id = id;
    row.to = Bytes{1, 2, 3};
    row.envelope = Bytes{0xee};
    row.preference = "lan";
    row.redundancy = 2;
    b.outbox_inserts.push_back(row);
    ASSERT_FALSE((*s)->apply(b));
  }
  auto s = Store::open(dir / "h.db");
  ASSERT_TRUE(s);
  auto pending = (*s)->pending_outbox_all(SIZE_MAX);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].preference, "lan");
  EXPECT_EQ(pending[0].redundancy, 2);
  auto got = (*s)->outbox_get(id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->preference, "lan");
  std::filesystem::remove_all(dir);
}
}  // namespace
}  // namespace hyphae::store
