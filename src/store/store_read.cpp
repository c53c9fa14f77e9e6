// Read side of the store: statements on the read connection, each call under read_mu. Every
// statement is reset on scope exit so no read snapshot outlives the call (that would hold back
// WAL checkpoints).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "core/error.hpp"
#include "store/store_impl.hpp"

namespace hyphae::store {
namespace {

// A delivered message's envelope may linger in its generation table until that is emptied; it is
// never returned.
constexpr const char* kOutboxSelect =
    "SELECT o.id, o.to_peer, CASE WHEN o.state = 2 THEN NULL ELSE coalesce(e0.envelope, e1.envelope) END,"
    " o.priority, o.created_ms, o.expires_ms, o.state, o.transport, o.reason, o.attempts, o.updated_ms,"
    " o.transport_reason, o.preference, o.redundancy, o.privacy FROM outbox o"
    " LEFT JOIN outbox_envelopes_0 e0 ON e0.seq = o.seq"
    " LEFT JOIN outbox_envelopes_1 e1 ON e1.seq = o.seq ";
// Undelivered messages all have an envelope row: start from those (bounded) tables.
constexpr const char* kEnvelopeRows =
    "(SELECT seq, envelope FROM outbox_envelopes_0 UNION ALL SELECT seq, envelope FROM outbox_envelopes_1) e";
const std::string kPendingSelect =
    std::string(
        "SELECT o.id, o.to_peer, e.envelope, o.priority, o.created_ms, o.expires_ms, o.state, o.transport,"
        " o.reason, o.attempts, o.updated_ms, o.transport_reason, o.preference, o.redundancy, o.privacy "
        "FROM ") +
    kEnvelopeRows + " CROSS JOIN outbox o ON o.seq = e.seq ";
constexpr const char* kInboxSelect =
    "SELECT i.seq, i.id, i.from_peer, i.received_ms, e.envelope, i.app_acked"
    " FROM inbox i LEFT JOIN inbox_envelopes e ON e.seq = i.seq ";

std::int64_t sql_limit(std::size_t limit) {
  constexpr auto max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return limit >= max ? -1 : static_cast<std::int64_t>(limit);  // LIMIT -1: no limit
}

OutboxRow outbox_row(const sql::Stmt& s) {
  OutboxRow r;
  s.col_array(0, r.id);
  r.to = s.col_bytes(1);
  r.envelope = s.col_bytes(2);
  r.priority = static_cast<int>(s.col_i64(3));
  r.created_ms = s.col_u64(4);
  r.expires_ms = s.col_u64(5);
  r.state = static_cast<OutboxState>(s.col_i64(6));
  r.transport = s.col_text(7);
  r.reason = s.col_text(8);
  r.attempts = static_cast<std::uint32_t>(s.col_i64(9));
  r.updated_ms = s.col_u64(10);
  r.transport_reason = s.col_text(11);
  r.preference = s.col_text(12);
  r.redundancy = static_cast<int>(s.col_i64(13));
  r.privacy = static_cast<int>(s.col_i64(14));
  return r;
}

InboxRow inbox_row(const sql::Stmt& s) {
  InboxRow r;
  r.seq = s.col_u64(0);
  s.col_array(1, r.id);
  r.from = s.col_bytes(2);
  r.received_ms = s.col_u64(3);
  r.envelope = s.col_bytes(4);
  r.app_acked = s.col_i64(5) != 0;
  return r;
}

PeerRecordRow record_row(const sql::Stmt& s) {
  PeerRecordRow r;
  r.peer = s.col_bytes(0);
  r.seq = s.col_u64(1);
  r.envelope = s.col_bytes(2);
  r.source = s.col_text(3);
  r.received_ms = s.col_u64(4);
  r.expires_ms = s.col_u64(5);
  return r;
}

RouteRow route_row(const sql::Stmt& s) {
  RouteRow r;
  r.destination = s.col_bytes(0);
  r.next_hop = s.col_bytes(1);
  r.transport = s.col_text(2);
  r.hops = static_cast<int>(s.col_i64(3));
  r.updated_ms = s.col_u64(4);
  r.expires_ms = s.col_u64(5);
  return r;
}

// Steps s to the end, calling f(s) per row. Logs and returns false on error.
template <class F>
bool for_each_row(sql::Db& db, sql::Stmt& s, std::string_view what, F&& f) {
  for (;;) {
    int rc = s.step();
    if (rc == SQLITE_ROW) {
      f(s);
      continue;
    }
    if (rc == SQLITE_DONE) return true;
    spdlog::error("store: read {} failed: {}", what, db.errmsg());
    return false;
  }
}

}  // namespace

std::error_code Store::Impl::prepare_read() {
  using std::string;
  const string outbox_select = kOutboxSelect;
  const string inbox_select = kInboxSelect;
  struct Def {
    sql::Stmt* stmt;
    string text;
  };
  const Def defs[] = {
      {&r.pending_to,
       string(kPendingSelect) +
           "WHERE o.to_peer = ?1 AND o.state IN (0, 1) ORDER BY o.priority, o.created_ms LIMIT ?2"},
      {&r.pending_all,
       string(kPendingSelect) + "WHERE o.state IN (0, 1) ORDER BY o.priority, o.created_ms LIMIT ?1"},
      {&r.outbox_get, outbox_select + "WHERE o.id = ?1"},
      // Pending states count from the envelope table; delivered/failed scan the status rows.
      {&r.outbox_count_pending, std::string("SELECT count(*) FROM ") + kEnvelopeRows +
                                    " CROSS JOIN outbox o ON o.seq = e.seq WHERE o.state = ?1"},
      {&r.outbox_count, "SELECT count(*) FROM outbox WHERE state = ?1"},
      {&r.inbox_after_all, inbox_select + "WHERE i.seq > ?1 ORDER BY i.seq LIMIT ?2"},
      {&r.inbox_after_unacked, inbox_select + "WHERE i.app_acked = 0 AND i.seq > ?1 ORDER BY i.seq LIMIT ?2"},
      {&r.inbox_get, inbox_select + "WHERE i.id = ?1"},
      {&r.inbox_max_seq, "SELECT coalesce(max(seq), 0) FROM inbox"},
      {&r.inbox_unacked_floor,
       "SELECT coalesce((SELECT min(seq) FROM inbox WHERE app_acked = 0) - 1, (SELECT max(seq) FROM inbox), "
       "0)"},
      {&r.read_begin, "BEGIN"},
      {&r.read_end, "COMMIT"},
      {&r.seen_since, "SELECT id, received_ms, from_peer FROM inbox ORDER BY seq DESC"},
      {&r.unacked_senders, "SELECT id, from_peer FROM inbox WHERE app_acked = 0 ORDER BY seq"},
      {&r.seen_one, "SELECT 1 FROM inbox WHERE id = ?1"},
      {&r.peers_all,
       "SELECT p.id, p.last_seen_ms, a.address FROM peers p"
       " LEFT JOIN peer_addresses a ON a.peer = p.id ORDER BY p.id, a.address"},
      {&r.peer_one,
       "SELECT p.id, p.last_seen_ms, a.address FROM peers p"
       " LEFT JOIN peer_addresses a ON a.peer = p.id WHERE p.id = ?1 ORDER BY a.address"},
      {&r.routes_all,
       "SELECT destination, next_hop, transport, hops, updated_ms, expires_ms FROM peer_routes"
       " ORDER BY destination, hops, updated_ms DESC"},
      {&r.records_all,
       "SELECT peer, seq, envelope, source, received_ms, expires_ms FROM peer_records ORDER BY peer"},
      {&r.record_one,
       "SELECT peer, seq, envelope, source, received_ms, expires_ms FROM peer_records WHERE peer = ?1"},
      {&r.held_for,
       "SELECT recipient, id, sender, envelope, stored_ms, expires_ms FROM held_messages"
       " WHERE recipient = ?1 ORDER BY stored_ms LIMIT ?2"},
      {&r.held_counts,
       "SELECT recipient, count(*), sum(length(envelope)) FROM held_messages GROUP BY recipient"},
      {&r.files_all,
       "SELECT id, peer, direction, name, media_type, size, chunk_size, sha256, state, path, error, "
       "done_bytes,"
       " created_ms, updated_ms FROM file_transfers ORDER BY created_ms"},
  };
  for (const Def& d : defs) {
    if (rdb.prepare(d.text, *d.stmt) != SQLITE_OK) {
      spdlog::error("store: cannot prepare \"{}\": {}", d.text, rdb.errmsg());
      return Errc::store_failed;
    }
  }
  // One scan at open; afterwards the floor follows the reads.
  sql::ResetGuard reset(r.inbox_unacked_floor);
  if (r.inbox_unacked_floor.step() != SQLITE_ROW) {
    spdlog::error("store: cannot read the inbox's unacked floor: {}", rdb.errmsg());
    return Errc::store_failed;
  }
  unacked_floor = r.inbox_unacked_floor.col_u64(0);
  return {};
}

std::vector<OutboxRow> Store::pending_outbox(const Bytes& to, std::size_t limit) {
  std::vector<OutboxRow> out;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.pending_to;
  sql::ResetGuard reset(s);
  s.bind_blob(1, to);
  s.bind_i64(2, sql_limit(limit));
  for_each_row(impl_->rdb, s, "pending_outbox", [&](const sql::Stmt& st) { out.push_back(outbox_row(st)); });
  return out;
}

std::vector<OutboxRow> Store::pending_outbox_all(std::size_t limit) {
  std::vector<OutboxRow> out;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.pending_all;
  sql::ResetGuard reset(s);
  s.bind_i64(1, sql_limit(limit));
  for_each_row(impl_->rdb, s, "pending_outbox_all",
               [&](const sql::Stmt& st) { out.push_back(outbox_row(st)); });
  return out;
}

std::optional<OutboxRow> Store::outbox_get(const MessageKey& id) {
  std::optional<OutboxRow> out;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.outbox_get;
  sql::ResetGuard reset(s);
  s.bind_blob(1, id);
  for_each_row(impl_->rdb, s, "outbox_get", [&](const sql::Stmt& st) { out = outbox_row(st); });
  return out;
}

std::size_t Store::outbox_count(OutboxState state) {
  std::size_t n = 0;
  std::lock_guard lk(impl_->read_mu);
  const bool pending = state == OutboxState::queued || state == OutboxState::sent;
  sql::Stmt& s = pending ? impl_->r.outbox_count_pending : impl_->r.outbox_count;
  sql::ResetGuard reset(s);
  s.bind_i64(1, static_cast<int>(state));
  for_each_row(impl_->rdb, s, "outbox_count",
               [&](const sql::Stmt& st) { n = static_cast<std::size_t>(st.col_i64(0)); });
  return n;
}

std::vector<InboxRow> Store::inbox_after(std::uint64_t after_seq, bool only_unacked, std::size_t limit) {
  std::vector<InboxRow> out;
  std::lock_guard lk(impl_->read_mu);
  if (!only_unacked) {
    sql::Stmt& s = impl_->r.inbox_after_all;
    sql::ResetGuard reset(s);
    s.bind_u64(1, after_seq);
    s.bind_i64(2, sql_limit(limit));
    for_each_row(impl_->rdb, s, "inbox_after", [&](const sql::Stmt& st) { out.push_back(inbox_row(st)); });
    return out;
  }
  // Scan forward from the floor; both reads in one snapshot, so the floor never passes a row
  // committed between them.
  const bool from_floor = after_seq <= impl_->unacked_floor;
  const std::uint64_t start = std::max(after_seq, impl_->unacked_floor);
  if (run(impl_->r.read_begin) != SQLITE_OK) {
    spdlog::error("store: read inbox_after failed: {}", impl_->rdb.errmsg());
    return out;
  }
  bool ok;
  {
    sql::Stmt& s = impl_->r.inbox_after_unacked;
    sql::ResetGuard reset(s);
    s.bind_u64(1, start);
    s.bind_i64(2, sql_limit(limit));
    ok = for_each_row(impl_->rdb, s, "inbox_after",
                      [&](const sql::Stmt& st) { out.push_back(inbox_row(st)); });
  }
  if (ok && from_floor && limit > 0) {
    if (!out.empty()) {
      impl_->unacked_floor = out.front().seq - 1;
    } else {
      sql::Stmt& m = impl_->r.inbox_max_seq;
      sql::ResetGuard reset(m);
      if (m.step() == SQLITE_ROW) impl_->unacked_floor = std::max(impl_->unacked_floor, m.col_u64(0));
    }
  }
  run(impl_->r.read_end);
  return out;
}

std::optional<InboxRow> Store::inbox_get(const MessageKey& id) {
  std::optional<InboxRow> out;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.inbox_get;
  sql::ResetGuard reset(s);
  s.bind_blob(1, id);
  for_each_row(impl_->rdb, s, "inbox_get", [&](const sql::Stmt& st) { out = inbox_row(st); });
  return out;
}

std::vector<Store::SeenKey> Store::seen_since(std::uint64_t since_ms) {
  std::vector<SeenKey> out;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.seen_since;
  sql::ResetGuard reset(s);
  // Newest first; stop once rows are older than since_ms by more than a slack that absorbs a wall
  // clock that stepped back (received_ms follows seq only as far as the clock does).
  constexpr std::uint64_t kClockSlackMs = 60 * 60 * 1000;
  const std::uint64_t stop_below = since_ms > kClockSlackMs ? since_ms - kClockSlackMs : 0;
  for (;;) {
    int rc = s.step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      spdlog::error("store: read seen_since failed: {}", impl_->rdb.errmsg());
      break;
    }
    const std::uint64_t received = s.col_u64(1);
    if (received < stop_below) break;
    SeenKey k;
    if (received >= since_ms && s.col_array(0, k.id)) {
      ByteView from = s.col_blob(2);
      k.from.assign(from.begin(), from.end());
      out.push_back(std::move(k));
    }
  }
  return out;
}

std::vector<Store::SeenKey> Store::inbox_unacked_senders() {
  std::vector<SeenKey> out;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.unacked_senders;
  sql::ResetGuard reset(s);
  for_each_row(impl_->rdb, s, "inbox_unacked_senders", [&](const sql::Stmt& row) {
    SeenKey k;
    if (!row.col_array(0, k.id)) return;
    ByteView from = row.col_blob(1);
    k.from.assign(from.begin(), from.end());
    out.push_back(std::move(k));
  });
  return out;
}

bool Store::seen(const MessageKey& id) {
  bool found = false;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.seen_one;
  sql::ResetGuard reset(s);
  s.bind_blob(1, id);
  for_each_row(impl_->rdb, s, "seen", [&](const sql::Stmt&) { found = true; });
  return found;
}

namespace {
// Folds (id, last_seen, address) join rows into PeerRows; rows arrive grouped by id.
void fold_peer_rows(sql::Db& db, sql::Stmt& s, std::vector<PeerRow>& out) {
  for_each_row(db, s, "peers", [&](const sql::Stmt& st) {
    ByteView id = st.col_blob(0);
    if (out.empty() || !std::equal(id.begin(), id.end(), out.back().id.begin(), out.back().id.end())) {
      PeerRow p;
      p.id.assign(id.begin(), id.end());
      p.last_seen_ms = st.col_u64(1);
      out.push_back(std::move(p));
    }
    if (!st.col_is_null(2)) out.back().addresses.push_back(st.col_text(2));
  });
}
}  // namespace

std::vector<PeerRow> Store::peers() {
  std::vector<PeerRow> out;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.peers_all;
  sql::ResetGuard reset(s);
  fold_peer_rows(impl_->rdb, s, out);
  return out;
}

std::optional<PeerRow> Store::peer(const Bytes& id) {
  std::vector<PeerRow> out;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.peer_one;
  sql::ResetGuard reset(s);
  s.bind_blob(1, id);
  fold_peer_rows(impl_->rdb, s, out);
  if (out.empty()) return std::nullopt;
  return std::move(out.front());
}

std::optional<PeerRecordRow> Store::peer_record(const Bytes& peer) {
  std::vector<PeerRecordRow> out;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.record_one;
  sql::ResetGuard reset(s);
  s.bind_blob(1, peer);
  for_each_row(impl_->rdb, s, "peer record", [&](const sql::Stmt& st) { out.push_back(record_row(st)); });
  if (out.empty()) return std::nullopt;
  return std::move(out.front());
}

std::vector<PeerRecordRow> Store::peer_records() {
  std::vector<PeerRecordRow> out;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.records_all;
  sql::ResetGuard reset(s);
  for_each_row(impl_->rdb, s, "peer records", [&](const sql::Stmt& st) { out.push_back(record_row(st)); });
  return out;
}

std::vector<FileTransferRow> Store::file_transfers() {
  std::vector<FileTransferRow> out;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.files_all;
  sql::ResetGuard reset(s);
  for_each_row(impl_->rdb, s, "file transfers", [&](const sql::Stmt& st) {
    FileTransferRow r;
    r.id = st.col_bytes(0);
    r.peer = st.col_bytes(1);
    r.direction = static_cast<int>(st.col_u64(2));
    r.name = st.col_text(3);
    r.media_type = st.col_text(4);
    r.size = st.col_u64(5);
    r.chunk_size = static_cast<std::uint32_t>(st.col_u64(6));
    r.sha256 = st.col_bytes(7);
    r.state = static_cast<int>(st.col_u64(8));
    r.path = st.col_text(9);
    r.error = st.col_text(10);
    r.done_bytes = st.col_u64(11);
    r.created_ms = st.col_u64(12);
    r.updated_ms = st.col_u64(13);
    out.push_back(std::move(r));
  });
  return out;
}

std::vector<HeldRow> Store::held_for(const Bytes& recipient, std::size_t limit) {
  std::vector<HeldRow> out;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.held_for;
  sql::ResetGuard reset(s);
  s.bind_blob(1, recipient);
  s.bind_i64(2, sql_limit(limit));
  for_each_row(impl_->rdb, s, "held messages", [&](const sql::Stmt& st) {
    HeldRow r;
    r.recipient = st.col_bytes(0);
    r.id = st.col_bytes(1);
    r.sender = st.col_bytes(2);
    r.envelope = st.col_bytes(3);
    r.stored_ms = st.col_u64(4);
    r.expires_ms = st.col_u64(5);
    out.push_back(std::move(r));
  });
  return out;
}

std::vector<Store::HeldCount> Store::held_counts() {
  std::vector<HeldCount> out;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.held_counts;
  sql::ResetGuard reset(s);
  for_each_row(impl_->rdb, s, "held counts", [&](const sql::Stmt& st) {
    out.push_back(HeldCount{st.col_bytes(0), st.col_u64(1), st.col_u64(2)});
  });
  return out;
}

std::vector<RouteRow> Store::routes() {
  std::vector<RouteRow> out;
  std::lock_guard lk(impl_->read_mu);
  sql::Stmt& s = impl_->r.routes_all;
  sql::ResetGuard reset(s);
  for_each_row(impl_->rdb, s, "routes", [&](const sql::Stmt& st) { out.push_back(route_row(st)); });
  return out;
}

}  // namespace hyphae::store
