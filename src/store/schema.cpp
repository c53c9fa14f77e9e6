#include "store/schema.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <string>

#include "core/error.hpp"

namespace hyphae::store::schema {
namespace {

// Version 1: the message tables. Outbox rows keep their status forever; the envelope is set to
// NULL once delivered. The partial index only holds pending (queued/sent) rows, so it stays small;
// there is deliberately no index on state alone (it cost ~5% of insert throughput).
constexpr const char* kV1 = R"sql(
CREATE TABLE outbox(
  id          BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
  to_peer     BLOB    NOT NULL,
  envelope    BLOB,
  priority    INTEGER NOT NULL,
  created_ms  INTEGER NOT NULL,
  expires_ms  INTEGER NOT NULL DEFAULT 0,
  state       INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3),
  transport   TEXT    NOT NULL DEFAULT '',
  reason      TEXT    NOT NULL DEFAULT '',
  attempts    INTEGER NOT NULL DEFAULT 0,
  updated_ms  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox(to_peer, priority, created_ms, state) WHERE state IN (0, 1);

CREATE TABLE inbox(
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  id           BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
  from_peer    BLOB    NOT NULL,
  received_ms  INTEGER NOT NULL,
  envelope     BLOB    NOT NULL,
  app_acked    INTEGER NOT NULL DEFAULT 0 CHECK (app_acked IN (0, 1))
);
CREATE INDEX inbox_unacked ON inbox(seq) WHERE app_acked = 0;

CREATE TABLE seen_ids(
  id             BLOB    PRIMARY KEY CHECK (length(id) = 16),
  first_seen_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX seen_ids_by_time ON seen_ids(first_seen_ms);
)sql";

// Version 2: peers, their addresses (child table, so merging is a set union) and the peer route
// cache, peer_routes (destination -> next hop over a transport).
constexpr const char* kV2 = R"sql(
CREATE TABLE peers(
  id            BLOB    PRIMARY KEY,
  last_seen_ms  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE peer_addresses(
  peer     BLOB NOT NULL REFERENCES peers(id) ON DELETE CASCADE,
  address  TEXT NOT NULL,
  PRIMARY KEY (peer, address)
) WITHOUT ROWID;

CREATE TABLE peer_routes(
  destination  BLOB    NOT NULL,
  next_hop     BLOB    NOT NULL,
  transport    TEXT    NOT NULL,
  hops         INTEGER NOT NULL,
  updated_ms   INTEGER NOT NULL,
  expires_ms   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (destination, next_hop, transport)
) WITHOUT ROWID;
)sql";

// Version 3: envelopes move out of the status rows into tables of their own, keyed by the status
// row's seq (INTEGER PRIMARY KEY, so both grow at their right edge). A delivered mark or an app
// ack now rewrites a ~100-byte status row instead of the page holding a 1 KiB envelope.
// Outbox envelopes live in two generation tables: new envelopes go to the active one; delivery
// deletes nothing (a per-message delete cost 5-10 % of durable throughput in B-tree rebalancing).
// When the active generation is full, the other one's undelivered envelopes move into it and the
// other is emptied at once (SQLite's truncate: freed pages are not rewritten) and becomes active.
// Pending reads start from the envelope tables, which replaces v1's partial index.
// seen_ids goes: every id in it came from an inbox insert, and the inbox's unique id index is the
// replay record now (two B-tree inserts and two dirty pages less per received message).
// The partial index of unacked inbox rows goes too (a dirty page per received message and per app
// ack, ~10 us of the acked round trip): the store keeps a floor below which every row is acked and
// scans forward from it (store_read.cpp).
// AUTOINCREMENT is gone: inbox rows are never deleted, so max(seq)+1 never reuses
// a seq. Existing rows keep their ids, states and seqs.
constexpr const char* kV3 = R"sql(
CREATE TABLE outbox_v3(
  seq         INTEGER PRIMARY KEY,
  id          BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
  to_peer     BLOB    NOT NULL,
  priority    INTEGER NOT NULL,
  created_ms  INTEGER NOT NULL,
  expires_ms  INTEGER NOT NULL DEFAULT 0,
  state       INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3),
  transport   TEXT    NOT NULL DEFAULT '',
  reason      TEXT    NOT NULL DEFAULT '',
  attempts    INTEGER NOT NULL DEFAULT 0,
  updated_ms  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE outbox_envelopes_0(
  seq       INTEGER PRIMARY KEY,
  envelope  BLOB    NOT NULL
);
CREATE TABLE outbox_envelopes_1(
  seq       INTEGER PRIMARY KEY,
  envelope  BLOB    NOT NULL
);
INSERT INTO outbox_v3(seq, id, to_peer, priority, created_ms, expires_ms, state, transport, reason,
                      attempts, updated_ms)
  SELECT rowid, id, to_peer, priority, created_ms, expires_ms, state, transport, reason, attempts,
         updated_ms FROM outbox ORDER BY rowid;
INSERT INTO outbox_envelopes_0(seq, envelope)
  SELECT rowid, envelope FROM outbox WHERE envelope IS NOT NULL AND state <> 2 ORDER BY rowid;
DROP TABLE outbox;
ALTER TABLE outbox_v3 RENAME TO outbox;

CREATE TABLE inbox_v3(
  seq          INTEGER PRIMARY KEY,
  id           BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
  from_peer    BLOB    NOT NULL,
  received_ms  INTEGER NOT NULL,
  app_acked    INTEGER NOT NULL DEFAULT 0 CHECK (app_acked IN (0, 1))
);
CREATE TABLE inbox_envelopes(
  seq       INTEGER PRIMARY KEY,
  envelope  BLOB    NOT NULL
);
INSERT INTO inbox_v3(seq, id, from_peer, received_ms, app_acked)
  SELECT seq, id, from_peer, received_ms, app_acked FROM inbox ORDER BY seq;
INSERT INTO inbox_envelopes(seq, envelope) SELECT seq, envelope FROM inbox ORDER BY seq;
DROP TABLE inbox;
ALTER TABLE inbox_v3 RENAME TO inbox;

DROP TABLE seen_ids;
)sql";

// Version 4: each outbox status row records why its transport was chosen ("direct link to the
// recipient", "failover: tcp timed out"), next to the transport itself. ADD COLUMN only rewrites the
// schema entry, not the rows: existing rows read the default ''.
constexpr const char* kV4 = R"sql(
ALTER TABLE outbox ADD COLUMN transport_reason TEXT NOT NULL DEFAULT '';
)sql";

// Version 5: what the sender asked for survives a restart: the transport it forced (empty: chosen
// per message) and how many transports carry it at once.
constexpr const char* kV5 = R"sql(
ALTER TABLE outbox ADD COLUMN preference TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN redundancy INTEGER NOT NULL DEFAULT 1;
)sql";

// Version 6: a received message is known by its sender and its id together, so a peer that
// learns another's message id cannot make the node take the real message for a duplicate (it
// would be acked and never stored). The unique index (id, from_peer) keeps lookups by id.
constexpr const char* kV6 = R"sql(
CREATE TABLE inbox_v6(
  seq          INTEGER PRIMARY KEY,
  id           BLOB    NOT NULL CHECK (length(id) = 16),
  from_peer    BLOB    NOT NULL,
  received_ms  INTEGER NOT NULL,
  app_acked    INTEGER NOT NULL DEFAULT 0 CHECK (app_acked IN (0, 1)),
  UNIQUE (id, from_peer)
);
INSERT INTO inbox_v6(seq, id, from_peer, received_ms, app_acked)
  SELECT seq, id, from_peer, received_ms, app_acked FROM inbox ORDER BY seq;
DROP TABLE inbox;
ALTER TABLE inbox_v6 RENAME TO inbox;
)sql";

// Version 7: signed peer records (discovery), one per peer: the newest sequence number wins, and
// where it came from (the peer itself, a peer that answered a query, a coordinator, the registry).
constexpr const char* kV7 = R"sql(
CREATE TABLE peer_records(
  peer         BLOB    PRIMARY KEY,
  seq          INTEGER NOT NULL,
  envelope     BLOB    NOT NULL,
  source       TEXT    NOT NULL DEFAULT '',
  received_ms  INTEGER NOT NULL,
  expires_ms   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
)sql";

// Version 8: messages a relay holds for an offline peer (signed at origin, sealed to the recipient),
// handed over once when it comes back and deleted when it acks them.
constexpr const char* kV8 = R"sql(
CREATE TABLE held_messages(
  recipient   BLOB    NOT NULL,
  id          BLOB    NOT NULL,
  sender      BLOB    NOT NULL,
  envelope    BLOB    NOT NULL,
  stored_ms   INTEGER NOT NULL,
  expires_ms  INTEGER NOT NULL,
  PRIMARY KEY(recipient, id)
) WITHOUT ROWID;
CREATE INDEX held_messages_expiry ON held_messages(expires_ms);
)sql";

// Version 9: file transfers (both directions), so a transfer resumes after a restart.
constexpr const char* kV9 = R"sql(
CREATE TABLE file_transfers(
  id          BLOB    PRIMARY KEY,
  peer        BLOB    NOT NULL,
  direction   INTEGER NOT NULL,
  name        TEXT    NOT NULL,
  media_type  TEXT    NOT NULL,
  size        INTEGER NOT NULL,
  chunk_size  INTEGER NOT NULL,
  sha256      BLOB    NOT NULL,
  state       INTEGER NOT NULL,
  path        TEXT    NOT NULL,
  error       TEXT    NOT NULL,
  done_bytes  INTEGER NOT NULL,
  created_ms  INTEGER NOT NULL,
  updated_ms  INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Version 10: a message's privacy requirement survives a restart: the level (0 standard, 1 private,
// 2 anonymous) plus 4 x the mixnet mode (0 the transport's default, 1 strict, 2 balanced,
// 3 performance).
constexpr const char* kV10 = R"sql(
ALTER TABLE outbox ADD COLUMN privacy INTEGER NOT NULL DEFAULT 0;
)sql";

constexpr Migration kMigrations[] = {
    {1, "outbox_inbox_seen_ids", kV1},
    {2, "peers_routes", kV2},
    {3, "envelopes_apart", kV3},
    {4, "outbox_transport_reason", kV4},
    {5, "outbox_preference_redundancy", kV5},
    {6, "inbox_unique_per_sender", kV6},
    {7, "peer_records", kV7},
    {8, "held_messages", kV8},
    {9, "file_transfers", kV9},
    {10, "outbox_privacy", kV10},
};

constexpr const char* kAuditTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)";

std::uint64_t now_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

std::error_code fail(sql::Db& db, const Migration& m, const char* what) {
  spdlog::error("store: migration {} ({}) failed at {}: {}", m.version, m.name, what, db.errmsg());
  if (db.in_transaction()) db.exec("ROLLBACK");
  return Errc::store_failed;
}

std::error_code too_new(int found) {
  spdlog::error(
      "store: database schema version {} is newer than this build supports ({}); "
      "refusing to open it (upgrade hyphae)",
      found, latest_version());
  return Errc::unsupported;
}

std::error_code apply_step(sql::Db& db, const Migration& m) {
  if (db.exec("BEGIN IMMEDIATE") != SQLITE_OK) return fail(db, m, "BEGIN");
  // Re-read inside the write lock: another process may have migrated meanwhile.
  int v = current_version(db);
  if (v < 0) return fail(db, m, "user_version");
  if (v > latest_version()) {
    db.exec("ROLLBACK");
    return too_new(v);
  }
  if (v >= m.version) {
    db.exec("ROLLBACK");
    return {};
  }
  if (v != m.version - 1) return fail(db, m, "version gap");
  if (db.exec(kAuditTable) != SQLITE_OK) return fail(db, m, "schema_migrations");
  if (db.exec(m.sql) != SQLITE_OK) return fail(db, m, "step sql");
  sql::Stmt audit;
  if (db.prepare("INSERT INTO schema_migrations(version, name, applied_ms) VALUES(?1, ?2, ?3)", audit) !=
      SQLITE_OK)
    return fail(db, m, "audit prepare");
  audit.bind_i64(1, m.version);
  audit.bind_text(2, m.name);
  audit.bind_u64(3, now_ms());
  if (audit.step() != SQLITE_DONE) return fail(db, m, "audit insert");
  audit = sql::Stmt{};
  std::string set_version = "PRAGMA user_version = " + std::to_string(m.version);
  if (db.exec(set_version.c_str()) != SQLITE_OK) return fail(db, m, "user_version");
  if (db.exec("COMMIT") != SQLITE_OK) return fail(db, m, "COMMIT");
  spdlog::info("store: applied schema migration {} ({})", m.version, m.name);
  return {};
}

}  // namespace

std::span<const Migration> migrations() {
  return kMigrations;
}

int latest_version() {
  return kMigrations[std::size(kMigrations) - 1].version;
}

int current_version(sql::Db& db) {
  std::int64_t v = 0;
  if (db.query_int("PRAGMA user_version", v) != SQLITE_OK) return -1;
  return static_cast<int>(v);
}

std::error_code migrate(sql::Db& db, int target_version) {
  if (target_version < 0) target_version = latest_version();
  if (target_version > latest_version()) return Errc::unsupported;
  int v = current_version(db);
  if (v < 0) {
    spdlog::error("store: cannot read schema version: {}", db.errmsg());
    return Errc::store_failed;
  }
  if (v > latest_version()) return too_new(v);
  for (const Migration& m : kMigrations) {
    if (m.version <= v || m.version > target_version) continue;
    if (auto ec = apply_step(db, m)) return ec;
  }
  return {};
}

}  // namespace hyphae::store::schema
