// Internal to src/store: the state behind Store (connections, cached statements, the group-commit
// queue and the writer thread). Not part of the public API; include only from src/store/*.cpp.
// Thread-safety: members are grouped by the mutex that guards them (see the comments below).
// Ownership: Impl owns both connections; statements are declared after their connection so they
// are finalized first.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <vector>

#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace hyphae::store {

// Message ids are time-ordered in their first bytes (core/message_id.hpp): hash the tail.
struct KeyHash {
  std::size_t operator()(const MessageKey& k) const noexcept {
    std::size_t v;
    std::memcpy(&v, k.data() + k.size() - sizeof v, sizeof v);
    return v;
  }
};

// Prepared once per write connection.
struct WriteStmts {
  sql::Stmt begin, commit, rollback;
  sql::Stmt savepoint, release, rollback_to;
  sql::Stmt outbox_insert, outbox_update;
  // Per envelope generation g (outbox_envelopes_g): insert, move g's undelivered envelopes into
  // the other generation, empty g.
  sql::Stmt envelope_insert[2], envelope_move_out[2], envelope_clear[2];
  sql::Stmt inbox_insert, inbox_envelope_insert, inbox_ack, inbox_prune_envelopes, inbox_prune;
  sql::Stmt peer_upsert, peer_address;
  sql::Stmt route_upsert;
  sql::Stmt record_upsert;
  sql::Stmt record_prune;
  sql::Stmt held_insert, held_delete, held_expire;
  sql::Stmt file_upsert, file_delete;
};

// Prepared once per read connection.
struct ReadStmts {
  sql::Stmt pending_to, pending_all, outbox_get, outbox_count, outbox_count_pending;
  sql::Stmt inbox_after_all, inbox_after_unacked, inbox_get, inbox_max_seq, inbox_unacked_floor;
  sql::Stmt read_begin, read_end;
  sql::Stmt seen_since, seen_one, unacked_senders;
  sql::Stmt peers_all, peer_one;
  sql::Stmt routes_all;
  sql::Stmt records_all, record_one;
  sql::Stmt held_for, held_counts;
  sql::Stmt files_all;
};

// A submitted batch waiting for (or in) a group commit.
struct Pending {
  WriteBatch batch;
  std::function<void(std::error_code)> done;
  std::error_code ec;
};

struct Store::Impl {
  Options options;
  int version = 0;

  // Write side, guarded by write_mu (held by the writer thread for a whole group, by apply()
  // and commit_inline()).
  std::mutex write_mu;
  sql::Db wdb;
  WriteStmts w;
  // Outbox envelope generations (schema v3): the committed state, and the one the transaction in
  // progress works with (adopted by commit(), dropped by rollback()).
  struct Generations {
    int active = 0;
    std::uint64_t active_rows = 0;  // envelopes inserted into the active table
  } generations, txn_generations;
  std::error_code load_generations();
  int rotate_generations_if_full();  // at the start of a write transaction

  // Read side, guarded by read_mu.
  std::mutex read_mu;
  sql::Db rdb;
  ReadStmts r;
  // Every inbox row with seq <= unacked_floor is app-acked (acks never revert and new rows get
  // larger seqs, so it only moves up); unacked reads start above it.
  std::uint64_t unacked_floor = 0;

  // Group-commit queue, guarded by q_mu.
  std::mutex q_mu;
  std::condition_variable q_cv;     // writer waits for work
  std::condition_variable done_cv;  // flush() waits for completed
  std::vector<Pending> queue;
  bool stop = false;
  bool writer_waiting = false;
  std::uint64_t submitted = 0;  // batches ever queued
  std::uint64_t completed = 0;  // batches whose callbacks have run
  std::thread writer;
  std::thread::id writer_id;

  std::atomic<std::uint64_t> stat_transactions{0}, stat_batches{0}, stat_rows{0};

  ~Impl();

  // Opening (store.cpp).
  std::error_code open(const std::filesystem::path& file);
  std::error_code prepare_write();
  std::error_code prepare_read();

  // Writer thread (store.cpp).
  void writer_main();
  void commit_group(std::span<Pending> group);         // sets each Pending::ec
  void commit_group_locked(std::span<Pending> group);  // same, with write_mu held by the caller
  // Commits one batch on the calling thread (submit's fast path) and runs its callback.
  void commit_inline(Pending& pending, std::unique_lock<std::mutex> write_lock);
  std::error_code apply_one(const WriteBatch& b);

  // Write helpers; write_mu held (store_write.cpp).
  // SQLITE_OK or the first failing statement's code. delivered_later: ids that a later statement
  // of the same transaction marks delivered; their outbox inserts skip the envelope (it would be
  // written only to be dropped again). Only for transactions that commit or fail as a whole.
  int write_batch(const WriteBatch& b,
                  const std::unordered_set<MessageKey, KeyHash>* delivered_later = nullptr);
  int begin();
  int commit();  // honours inject_failures; rolls back on failure
  void rollback();
  int savepoint();
  int release();
  int rollback_to();
  void count_commit(std::uint64_t batches, std::uint64_t rows);
  bool take_injected_failure();
};

// The result code commit() returns for a failure injected by inject_write_failure_for_test (an
// extended I/O error code SQLite itself never returns).
inline constexpr int kInjectedFailure = SQLITE_IOERR | (255 << 8);

// "<SQLite's text for rc>: <connection's last message>", or the injected-failure note.
std::string describe(const sql::Db& db, int rc);

// Runs a statement that returns no rows (or ignores them) and resets it.
// Returns SQLITE_OK or the error code.
int run(sql::Stmt& s);

// True for errors caused by the rows of one batch (constraint, type, size), as opposed to errors
// of the database or disk, which doom the whole transaction.
bool batch_local_error(int rc);

}  // namespace hyphae::store
