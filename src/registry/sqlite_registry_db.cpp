// RegistryDb on SQLite: one file, WAL, a busy timeout so several worker connections can share it.
#include <sqlite3.h>

#include "registry/registry_db.hpp"
#include "store/sqlite.hpp"

namespace hyphae::registry {

std::unique_ptr<RegistryDb> open_postgresql_registry_db(const std::string& url);

namespace {

using store::sql::Db;
using store::sql::ResetGuard;
using store::sql::Stmt;

class SqliteRegistryDb final : public RegistryDb {
 public:
  explicit SqliteRegistryDb(const std::string& path) {
    if (db_.open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX) != SQLITE_OK)
      throw RegistryDbError("cannot open " + path + ": " + db_.errmsg());
    sqlite3_busy_timeout(db_.get(), 5000);
    std::string mode;
    db_.query_text("PRAGMA journal_mode=WAL", mode);
    check(db_.exec("PRAGMA synchronous=NORMAL"), "synchronous");
  }

  void migrate() override {
    check(db_.exec(kRegistrySchema), "schema");
    prepare(token_insert_, "INSERT INTO tokens(hash, network, created_ms) VALUES(?1, ?2, ?3)");
    prepare(token_select_, "SELECT network FROM tokens WHERE hash = ?1");
    prepare(peer_seq_, "SELECT seq FROM peers WHERE network = ?1 AND peer = ?2");
    prepare(peer_upsert_,
            "INSERT INTO peers(network, peer, seq, envelope, role, coordinators, record_json, expires_ms, "
            "last_seen_ms)"
            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?9, ?7, ?8) ON CONFLICT(network, peer) DO UPDATE SET"
            " seq = excluded.seq, envelope = excluded.envelope, role = excluded.role,"
            " coordinators = excluded.coordinators, record_json = excluded.record_json, expires_ms = "
            "excluded.expires_ms,"
            " last_seen_ms = excluded.last_seen_ms WHERE excluded.seq > peers.seq");
    prepare(peer_touch_,
            "UPDATE peers SET last_seen_ms = max(last_seen_ms, ?3) WHERE network = ?1 AND peer = ?2");
    prepare(peer_select_,
            "SELECT peer, seq, envelope, role, coordinators, expires_ms, last_seen_ms, record_json FROM peers"
            " WHERE network = ?1 AND peer = ?2 AND expires_ms > ?3");
    prepare(active_select_,
            "SELECT peer, seq, envelope, role, coordinators, expires_ms, last_seen_ms, record_json FROM peers"
            " WHERE network = ?1 AND expires_ms > ?2 AND peer > ?3 ORDER BY peer LIMIT ?4");
    prepare(heartbeat_upsert_,
            "INSERT INTO coordinators(network, peer, last_seen_ms, envelope) VALUES(?1, ?2, ?3, ?4)"
            " ON CONFLICT(network, peer) DO UPDATE SET last_seen_ms = excluded.last_seen_ms,"
            " envelope = excluded.envelope");
    prepare(coordinator_select_,
            "SELECT last_seen_ms, envelope FROM coordinators WHERE network = ?1 AND peer = ?2");
    prepare(expire_, "DELETE FROM peers WHERE expires_ms <= ?1");
  }

  void add_token(const std::string& network, const std::string& hash, std::uint64_t now) override {
    ResetGuard g(token_insert_);
    token_insert_.bind_text(1, hash);
    token_insert_.bind_text(2, network);
    token_insert_.bind_u64(3, now);
    step_done(token_insert_, "token insert");
  }

  std::optional<std::string> token_network(const std::string& hash) override {
    ResetGuard g(token_select_);
    token_select_.bind_text(1, hash);
    if (step_row(token_select_, "token select")) return token_select_.col_text(0);
    return std::nullopt;
  }

  AnnounceResult announce(const PeerRow& r) override {
    check(db_.exec("BEGIN IMMEDIATE"), "begin");
    try {
      std::optional<std::uint64_t> held;
      {
        ResetGuard g(peer_seq_);
        peer_seq_.bind_text(1, r.network);
        peer_seq_.bind_text(2, r.peer);
        if (step_row(peer_seq_, "peer seq")) held = peer_seq_.col_u64(0);
      }
      AnnounceResult result = AnnounceResult::stored;
      if (held && *held > r.seq) {
        result = AnnounceResult::replay;
      } else if (held && *held == r.seq) {
        ResetGuard g(peer_touch_);
        peer_touch_.bind_text(1, r.network);
        peer_touch_.bind_text(2, r.peer);
        peer_touch_.bind_u64(3, r.last_seen_ms);
        step_done(peer_touch_, "peer touch");
        result = AnnounceResult::repeat;
      } else {
        ResetGuard g(peer_upsert_);
        peer_upsert_.bind_text(1, r.network);
        peer_upsert_.bind_text(2, r.peer);
        peer_upsert_.bind_u64(3, r.seq);
        peer_upsert_.bind_text(4, r.envelope_base64);
        peer_upsert_.bind_text(5, r.role);
        peer_upsert_.bind_text(6, r.coordinators);
        peer_upsert_.bind_u64(7, r.expires_ms);
        peer_upsert_.bind_u64(8, r.last_seen_ms);
        peer_upsert_.bind_text(9, r.record_json);
        step_done(peer_upsert_, "peer upsert");
      }
      check(db_.exec("COMMIT"), "commit");
      return result;
    } catch (...) {
      db_.exec("ROLLBACK");
      throw;
    }
  }

  std::optional<PeerRow> peer(const std::string& network, const std::string& peer,
                              std::uint64_t now) override {
    ResetGuard g(peer_select_);
    peer_select_.bind_text(1, network);
    peer_select_.bind_text(2, peer);
    peer_select_.bind_u64(3, now);
    if (!step_row(peer_select_, "peer select")) return std::nullopt;
    return row_of(peer_select_, network);
  }

  std::vector<PeerRow> active_peers(const std::string& network, std::uint64_t now, const std::string& after,
                                    std::size_t limit) override {
    ResetGuard g(active_select_);
    active_select_.bind_text(1, network);
    active_select_.bind_u64(2, now);
    active_select_.bind_text(3, after);
    active_select_.bind_u64(4, limit);
    std::vector<PeerRow> out;
    while (step_row(active_select_, "active peers")) out.push_back(row_of(active_select_, network));
    return out;
  }

  void heartbeat(const std::string& network, const CoordinatorRow& row) override {
    ResetGuard g(heartbeat_upsert_);
    heartbeat_upsert_.bind_text(1, network);
    heartbeat_upsert_.bind_text(2, row.peer);
    heartbeat_upsert_.bind_u64(3, row.last_seen_ms);
    heartbeat_upsert_.bind_text(4, row.envelope_base64);
    step_done(heartbeat_upsert_, "heartbeat");
  }

  std::optional<CoordinatorRow> coordinator(const std::string& network, const std::string& peer) override {
    ResetGuard g(coordinator_select_);
    coordinator_select_.bind_text(1, network);
    coordinator_select_.bind_text(2, peer);
    if (!step_row(coordinator_select_, "coordinator")) return std::nullopt;
    return CoordinatorRow{peer, coordinator_select_.col_u64(0), coordinator_select_.col_text(1)};
  }

  std::uint64_t expire(std::uint64_t now) override {
    ResetGuard g(expire_);
    expire_.bind_u64(1, now);
    step_done(expire_, "expire");
    return static_cast<std::uint64_t>(sqlite3_changes(db_.get()));
  }

  std::string backend() const override { return "sqlite"; }

 private:
  static PeerRow row_of(const Stmt& s, const std::string& network) {
    PeerRow r;
    r.network = network;
    r.peer = s.col_text(0);
    r.seq = s.col_u64(1);
    r.envelope_base64 = s.col_text(2);
    r.role = s.col_text(3);
    r.coordinators = s.col_text(4);
    r.expires_ms = s.col_u64(5);
    r.last_seen_ms = s.col_u64(6);
    r.record_json = s.col_text(7);
    return r;
  }
  void check(int rc, const char* what) {
    if (rc != SQLITE_OK) throw RegistryDbError(std::string("sqlite ") + what + ": " + db_.errmsg());
  }
  void prepare(Stmt& s, const char* sql) { check(db_.prepare(sql, s), sql); }
  bool step_row(Stmt& s, const char* what) {
    const int rc = s.step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw RegistryDbError(std::string("sqlite ") + what + ": " + db_.errmsg());
  }
  void step_done(Stmt& s, const char* what) {
    const int rc = s.step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
      throw RegistryDbError(std::string("sqlite ") + what + ": " + db_.errmsg());
  }

  Db db_;
  Stmt token_insert_, token_select_, peer_seq_, peer_upsert_, peer_touch_, peer_select_, active_select_,
      heartbeat_upsert_, coordinator_select_, expire_;
};

}  // namespace

const char* const kRegistrySchema = R"sql(
CREATE TABLE IF NOT EXISTS tokens(
  hash TEXT PRIMARY KEY, network TEXT NOT NULL, created_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS peers(
  network TEXT NOT NULL, peer TEXT NOT NULL, seq BIGINT NOT NULL, envelope TEXT NOT NULL,
  role TEXT NOT NULL, coordinators TEXT NOT NULL, record_json TEXT NOT NULL, expires_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL, PRIMARY KEY(network, peer));
CREATE INDEX IF NOT EXISTS peers_expiry ON peers(expires_ms);
CREATE TABLE IF NOT EXISTS coordinators(
  network TEXT NOT NULL, peer TEXT NOT NULL, last_seen_ms BIGINT NOT NULL, envelope TEXT NOT NULL,
  PRIMARY KEY(network, peer));
)sql";

bool is_postgresql_url(const std::string& url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

std::unique_ptr<RegistryDb> open_registry_db(const std::string& url) {
  std::unique_ptr<RegistryDb> db;
  if (is_postgresql_url(url))
    db = open_postgresql_registry_db(url);
  else
    db = std::make_unique<SqliteRegistryDb>(url.starts_with("sqlite:") ? url.substr(7) : url);
  db->migrate();
  return db;
}

}  // namespace hyphae::registry
