// Write side of the store: batch value helpers, the write statements and how a WriteBatch turns
// into statements. Every function here except the WriteBatch members runs with write_mu held.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/error.hpp"
#include "store/store_impl.hpp"

namespace hyphae::store {

std::string_view to_string(OutboxState s) {
  switch (s) {
    case OutboxState::queued:
      return "queued";
    case OutboxState::sent:
      return "sent";
    case OutboxState::delivered:
      return "delivered";
    case OutboxState::failed:
      return "failed";
  }
  return "unknown";
}

bool WriteBatch::empty() const {
  return size() == 0;
}

std::size_t WriteBatch::size() const {
  return outbox_inserts.size() + outbox_updates.size() + inbox_inserts.size() + inbox_app_acks.size() +
         peer_upserts.size() + route_upserts.size() + record_upserts.size() + held_inserts.size() +
         held_deletes.size() + file_upserts.size() + file_deletes.size() +
         (inbox_prune_acked_before_ms ? 1 : 0) + (held_expire_before_ms ? 1 : 0);
}

namespace {
template <class T>
void move_append(std::vector<T>& to, std::vector<T>& from) {
  if (to.empty()) {
    to = std::move(from);
  } else {
    // Grow geometrically: an exact reserve here would reallocate on every one-row merge (O(n^2)).
    if (to.capacity() < to.size() + from.size())
      to.reserve(std::max(to.size() + from.size(), 2 * to.capacity()));
    std::move(from.begin(), from.end(), std::back_inserter(to));
  }
  from.clear();
}
}  // namespace

void WriteBatch::merge(WriteBatch&& o) {
  move_append(outbox_inserts, o.outbox_inserts);
  move_append(outbox_updates, o.outbox_updates);
  move_append(inbox_inserts, o.inbox_inserts);
  move_append(inbox_app_acks, o.inbox_app_acks);
  move_append(peer_upserts, o.peer_upserts);
  move_append(route_upserts, o.route_upserts);
  move_append(record_upserts, o.record_upserts);
  move_append(held_inserts, o.held_inserts);
  move_append(held_deletes, o.held_deletes);
  move_append(file_upserts, o.file_upserts);
  move_append(file_deletes, o.file_deletes);
  held_expire_before_ms = std::max(held_expire_before_ms, o.held_expire_before_ms);
  o.held_expire_before_ms = 0;
  inbox_prune_acked_before_ms = std::max(inbox_prune_acked_before_ms, o.inbox_prune_acked_before_ms);
  o.inbox_prune_acked_before_ms = 0;
}

int run(sql::Stmt& s) {
  int rc = s.step();
  s.reset();
  return (rc == SQLITE_DONE || rc == SQLITE_ROW) ? SQLITE_OK : rc;
}

std::string describe(const sql::Db& db, int rc) {
  if (rc == kInjectedFailure) return "injected failure (test hook)";
  return std::string(sqlite3_errstr(rc)) + ": " + db.errmsg();
}

bool batch_local_error(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      return true;
    default:
      return false;
  }
}

std::error_code Store::Impl::prepare_write() {
  struct Def {
    sql::Stmt* stmt;
    std::string_view text;
  };
  const Def defs[] = {
      {&w.begin, "BEGIN IMMEDIATE"},
      {&w.commit, "COMMIT"},
      {&w.rollback, "ROLLBACK"},
      {&w.savepoint, "SAVEPOINT batch"},
      {&w.release, "RELEASE batch"},
      {&w.rollback_to, "ROLLBACK TO batch"},
      {&w.outbox_insert,
       "INSERT INTO outbox(id, to_peer, priority, created_ms, expires_ms, state, transport, reason,"
       " attempts, updated_ms, transport_reason, preference, redundancy, privacy)"
       " VALUES(?1, ?2, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"},
      {&w.envelope_insert[0],
       "INSERT INTO outbox_envelopes_0(seq, envelope) VALUES(last_insert_rowid(), ?1)"},
      {&w.envelope_insert[1],
       "INSERT INTO outbox_envelopes_1(seq, envelope) VALUES(last_insert_rowid(), ?1)"},
      {&w.envelope_move_out[0],
       "INSERT INTO outbox_envelopes_1(seq, envelope) SELECT e.seq, e.envelope FROM outbox_envelopes_0 e"
       " CROSS JOIN outbox o ON o.seq = e.seq WHERE o.state <> 2"},
      {&w.envelope_move_out[1],
       "INSERT INTO outbox_envelopes_0(seq, envelope) SELECT e.seq, e.envelope FROM outbox_envelopes_1 e"
       " CROSS JOIN outbox o ON o.seq = e.seq WHERE o.state <> 2"},
      {&w.envelope_clear[0], "DELETE FROM outbox_envelopes_0"},
      {&w.envelope_clear[1], "DELETE FROM outbox_envelopes_1"},
      {&w.outbox_update,
       "UPDATE outbox SET state = ?2,"
       " transport = CASE WHEN ?3 = '' THEN transport ELSE ?3 END,"
       " transport_reason = CASE WHEN ?3 = '' THEN transport_reason ELSE ?7 END,"
       " reason = ?4, updated_ms = ?5, attempts = attempts + ?6"
       " WHERE id = ?1 AND state <> 2"},
      {&w.inbox_insert,
       "INSERT OR IGNORE INTO inbox(id, from_peer, received_ms, app_acked) VALUES(?1, ?2, ?3, ?5)"},
      {&w.inbox_envelope_insert,
       "INSERT INTO inbox_envelopes(seq, envelope) VALUES(last_insert_rowid(), ?1)"},
      {&w.inbox_ack, "UPDATE inbox SET app_acked = 1 WHERE id = ?1 AND app_acked = 0"},
      {&w.inbox_prune_envelopes,
       "DELETE FROM inbox_envelopes WHERE seq IN"
       " (SELECT seq FROM inbox WHERE app_acked = 1 AND received_ms < ?1"
       " AND seq < (SELECT max(seq) FROM inbox))"},
      // The newest row always stays, so max(seq) + 1 never hands out a seq twice.
      {&w.inbox_prune,
       "DELETE FROM inbox WHERE app_acked = 1 AND received_ms < ?1 AND seq < (SELECT max(seq) FROM inbox)"},
      {&w.peer_upsert,
       "INSERT INTO peers(id, last_seen_ms) VALUES(?1, ?2)"
       " ON CONFLICT(id) DO UPDATE SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)"},
      {&w.peer_address, "INSERT OR IGNORE INTO peer_addresses(peer, address) VALUES(?1, ?2)"},
      {&w.route_upsert,
       "INSERT INTO peer_routes(destination, next_hop, transport, hops, updated_ms, expires_ms)"
       " VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
       " ON CONFLICT(destination, next_hop, transport) DO UPDATE SET hops = excluded.hops,"
       " updated_ms = excluded.updated_ms, expires_ms = excluded.expires_ms"
       " WHERE excluded.updated_ms >= peer_routes.updated_ms"},
      {&w.record_upsert,
       "INSERT INTO peer_records(peer, seq, envelope, source, received_ms, expires_ms)"
       " VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
       " ON CONFLICT(peer) DO UPDATE SET seq = excluded.seq, envelope = excluded.envelope,"
       " source = excluded.source, received_ms = excluded.received_ms, expires_ms = excluded.expires_ms"
       " WHERE excluded.seq > peer_records.seq"},
      {&w.held_insert,
       "INSERT OR IGNORE INTO held_messages(recipient, id, sender, envelope, stored_ms, expires_ms)"
       " VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
      {&w.held_delete, "DELETE FROM held_messages WHERE recipient = ?1 AND id = ?2"},
      {&w.held_expire, "DELETE FROM held_messages WHERE expires_ms < ?1"},
      {&w.file_upsert,
       "INSERT OR REPLACE INTO file_transfers(id, peer, direction, name, media_type, size, chunk_size, "
       "sha256,"
       " state, path, error, done_bytes, created_ms, updated_ms)"
       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"},
      {&w.file_delete, "DELETE FROM file_transfers WHERE id = ?1"},
      // Over the bound: expired records go first, then the least recently received.
      {&w.record_prune,
       "DELETE FROM peer_records WHERE peer IN (SELECT peer FROM peer_records"
       " ORDER BY (expires_ms != 0 AND expires_ms <= ?1) DESC, received_ms ASC"
       " LIMIT max(0, (SELECT count(*) FROM peer_records) - ?2))"},
  };
  for (const Def& d : defs) {
    if (wdb.prepare(d.text, *d.stmt) != SQLITE_OK) {
      spdlog::error("store: cannot prepare \"{}\": {}", d.text, wdb.errmsg());
      return Errc::store_failed;
    }
  }
  return {};
}

int Store::Impl::write_batch(const WriteBatch& b,
                             const std::unordered_set<MessageKey, KeyHash>* delivered_later) {
  for (const OutboxRow& row : b.outbox_inserts) {
    sql::Stmt& s = w.outbox_insert;
    s.bind_blob(1, row.id);
    s.bind_blob(2, row.to);
    s.bind_i64(4, row.priority);
    s.bind_u64(5, row.created_ms);
    s.bind_u64(6, row.expires_ms);
    s.bind_i64(7, static_cast<int>(row.state));
    s.bind_text(8, row.transport);
    s.bind_text(9, row.reason);
    s.bind_i64(10, row.attempts);
    s.bind_u64(11, row.updated_ms);
    s.bind_text(12, row.transport_reason);
    s.bind_text(13, row.preference);
    s.bind_i64(14, row.redundancy);
    s.bind_i64(15, row.privacy);
    if (int rc = run(s)) return rc;
    const bool keep_envelope =
        row.state != OutboxState::delivered && !(delivered_later && delivered_later->contains(row.id));
    if (keep_envelope) {
      sql::Stmt& e = w.envelope_insert[txn_generations.active];
      e.bind_blob(1, row.envelope);
      if (int rc = run(e)) return rc;
      ++txn_generations.active_rows;
    }
  }
  for (const OutboxUpdate& u : b.outbox_updates) {
    sql::Stmt& s = w.outbox_update;
    s.bind_blob(1, u.id);
    s.bind_i64(2, static_cast<int>(u.state));
    s.bind_text(3, u.transport);
    s.bind_text(4, u.reason);
    s.bind_u64(5, u.updated_ms);
    s.bind_i64(6, u.add_attempts);
    s.bind_text(7, u.transport_reason);
    if (int rc = run(s)) return rc;
  }
  for (const InboxRow& row : b.inbox_inserts) {
    sql::Stmt& s = w.inbox_insert;
    s.bind_blob(1, row.id);
    s.bind_blob(2, row.from);
    s.bind_u64(3, row.received_ms);
    s.bind_i64(5, row.app_acked ? 1 : 0);
    if (int rc = run(s)) return rc;
    if (sqlite3_changes(wdb.get()) > 0) {  // not a duplicate id (INSERT OR IGNORE)
      w.inbox_envelope_insert.bind_blob(1, row.envelope);
      if (int rc = run(w.inbox_envelope_insert)) return rc;
    }
  }
  for (const MessageKey& id : b.inbox_app_acks) {
    w.inbox_ack.bind_blob(1, id);
    if (int rc = run(w.inbox_ack)) return rc;
  }
  for (const PeerRow& p : b.peer_upserts) {
    w.peer_upsert.bind_blob(1, p.id);
    w.peer_upsert.bind_u64(2, p.last_seen_ms);
    if (int rc = run(w.peer_upsert)) return rc;
    for (const std::string& a : p.addresses) {
      w.peer_address.bind_blob(1, p.id);
      w.peer_address.bind_text(2, a);
      if (int rc = run(w.peer_address)) return rc;
    }
  }
  for (const RouteRow& r : b.route_upserts) {
    sql::Stmt& s = w.route_upsert;
    s.bind_blob(1, r.destination);
    s.bind_blob(2, r.next_hop);
    s.bind_text(3, r.transport);
    s.bind_i64(4, r.hops);
    s.bind_u64(5, r.updated_ms);
    s.bind_u64(6, r.expires_ms);
    if (int rc = run(s)) return rc;
  }
  for (const PeerRecordRow& r : b.record_upserts) {
    sql::Stmt& s = w.record_upsert;
    s.bind_blob(1, r.peer);
    s.bind_u64(2, r.seq);
    s.bind_blob(3, r.envelope);
    s.bind_text(4, r.source);
    s.bind_u64(5, r.received_ms);
    s.bind_u64(6, r.expires_ms);
    if (int rc = run(s)) return rc;
  }
  if (!b.record_upserts.empty()) {
    w.record_prune.bind_u64(1, b.record_upserts.back().received_ms);
    w.record_prune.bind_u64(2, options.max_peer_records);
    if (int rc = run(w.record_prune)) return rc;
  }
  for (const HeldRow& r : b.held_inserts) {
    sql::Stmt& s = w.held_insert;
    s.bind_blob(1, r.recipient);
    s.bind_blob(2, r.id);
    s.bind_blob(3, r.sender);
    s.bind_blob(4, r.envelope);
    s.bind_u64(5, r.stored_ms);
    s.bind_u64(6, r.expires_ms);
    if (int rc = run(s)) return rc;
  }
  for (const HeldKey& k : b.held_deletes) {
    sql::Stmt& s = w.held_delete;
    s.bind_blob(1, k.recipient);
    s.bind_blob(2, k.id);
    if (int rc = run(s)) return rc;
  }
  for (const FileTransferRow& r : b.file_upserts) {
    sql::Stmt& s = w.file_upsert;
    s.bind_blob(1, r.id);
    s.bind_blob(2, r.peer);
    s.bind_i64(3, r.direction);
    s.bind_text(4, r.name);
    s.bind_text(5, r.media_type);
    s.bind_u64(6, r.size);
    s.bind_u64(7, r.chunk_size);
    s.bind_blob(8, r.sha256);
    s.bind_i64(9, r.state);
    s.bind_text(10, r.path);
    s.bind_text(11, r.error);
    s.bind_u64(12, r.done_bytes);
    s.bind_u64(13, r.created_ms);
    s.bind_u64(14, r.updated_ms);
    if (int rc = run(s)) return rc;
  }
  for (const Bytes& id : b.file_deletes) {
    w.file_delete.bind_blob(1, id);
    if (int rc = run(w.file_delete)) return rc;
  }
  if (b.held_expire_before_ms) {
    w.held_expire.bind_u64(1, b.held_expire_before_ms);
    if (int rc = run(w.held_expire)) return rc;
  }
  if (b.inbox_prune_acked_before_ms) {
    w.inbox_prune_envelopes.bind_u64(1, b.inbox_prune_acked_before_ms);
    if (int rc = run(w.inbox_prune_envelopes)) return rc;
    w.inbox_prune.bind_u64(1, b.inbox_prune_acked_before_ms);
    if (int rc = run(w.inbox_prune)) return rc;
  }
  return SQLITE_OK;
}

int Store::Impl::begin() {
  txn_generations = generations;
  int rc = run(w.begin);
  if (rc != SQLITE_OK) return rc;
  return rotate_generations_if_full();
}

int Store::Impl::rotate_generations_if_full() {
  if (txn_generations.active_rows < options.envelope_generation_rows) return SQLITE_OK;
  const int full = txn_generations.active, other = 1 - full;
  // The other generation's stragglers (undelivered or failed) join the full one; then the other
  // is emptied and takes the new envelopes.
  if (int rc = run(w.envelope_move_out[other])) return rc;
  if (int rc = run(w.envelope_clear[other])) return rc;
  txn_generations.active = other;
  txn_generations.active_rows = 0;
  return SQLITE_OK;
}

std::error_code Store::Impl::load_generations() {
  std::int64_t max0 = 0, max1 = 0, rows = 0;
  if (wdb.query_int("SELECT coalesce(max(seq), 0) FROM outbox_envelopes_0", max0) != SQLITE_OK ||
      wdb.query_int("SELECT coalesce(max(seq), 0) FROM outbox_envelopes_1", max1) != SQLITE_OK)
    return Errc::store_failed;
  generations.active = max1 > max0 ? 1 : 0;
  const char* count = generations.active ? "SELECT count(*) FROM outbox_envelopes_1"
                                         : "SELECT count(*) FROM outbox_envelopes_0";
  if (wdb.query_int(count, rows) != SQLITE_OK) return Errc::store_failed;
  generations.active_rows = static_cast<std::uint64_t>(rows);
  txn_generations = generations;
  return {};
}

bool Store::Impl::take_injected_failure() {
  return options.write_faults->take();
}

int Store::Impl::commit() {
  if (take_injected_failure()) {
    spdlog::warn("store: injected commit failure (write_faults); rolling back");
    rollback();
    return kInjectedFailure;
  }
  int rc = run(w.commit);
  if (rc != SQLITE_OK) {
    rollback();
  } else {
    generations = txn_generations;
  }
  return rc;
}

void Store::Impl::rollback() {
  // A failed statement may already have rolled the transaction back (e.g. SQLITE_FULL).
  if (wdb.in_transaction()) run(w.rollback);
  txn_generations = generations;
}

int Store::Impl::savepoint() {
  return run(w.savepoint);
}
int Store::Impl::release() {
  return run(w.release);
}
int Store::Impl::rollback_to() {
  return run(w.rollback_to);
}

void Store::Impl::count_commit(std::uint64_t batches, std::uint64_t rows) {
  stat_transactions.fetch_add(1, std::memory_order_relaxed);
  stat_batches.fetch_add(batches, std::memory_order_relaxed);
  stat_rows.fetch_add(rows, std::memory_order_relaxed);
}

}  // namespace hyphae::store
