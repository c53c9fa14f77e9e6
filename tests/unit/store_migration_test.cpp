// Store schema migrations: every version upgrades in place and keeps every row; newer or garbage
// files are refused cleanly.
#include "store_test_support.hpp"

using namespace hyphae;
using namespace hyphae::store;
using namespace hyphae::store::test_support;
namespace fs = std::filesystem;

namespace {

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

}  // namespace
