// Store life cycle and group commit: open/configure, the writer thread, submit/flush/apply.
#include "store/store.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "core/error.hpp"
#include "store/schema.hpp"
#include "store/store_impl.hpp"

namespace hyphae::store {
namespace {

// A group larger than this many rows is split into several transactions, which bounds how long
// the write lock is held and how far the WAL grows between checkpoints.
constexpr std::size_t kMaxGroupRows = 16384;
constexpr int kBusyTimeoutMs = 5000;
// Measured (docs/store.md): a 32 MiB page cache and checkpointing every 32 MiB of WAL (instead of
// SQLite's 1000 pages) cut the writer's CPU per row by about a fifth; the WAL file is truncated
// back to 64 MiB after a checkpoint.
constexpr const char* kWriterTuning = "PRAGMA cache_size = -32768; PRAGMA journal_size_limit = 67108864";
constexpr std::int64_t kCheckpointBytes = 32 << 20;
// 8 KiB pages: durable 1 KiB messages went from ~58 k to ~69 k msg/s against 4 KiB pages (fewer
// pages, frames and syscalls per message) at the same acked round trip; 16 KiB and larger pages
// made the round trip slower (every commit writes whole pages).
constexpr const char* kPageSize = "PRAGMA page_size = 8192";

std::error_code fail_open(sql::Db& db, std::string_view what, const std::filesystem::path& file) {
  spdlog::error("store: {} failed for {}: {}", what, file.string(), db.errmsg());
  return Errc::store_failed;
}

}  // namespace

Store::Impl::~Impl() = default;

// Process-wide SQLite settings, applied once before the library initializes: no memory-usage
// statistics (they take a global mutex on every allocation) and multi-thread mode (each connection
// is used under our own mutex, never by two threads at once).
static void configure_sqlite_once() {
  static const bool configured = [] {
    if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK ||
        sqlite3_config(SQLITE_CONFIG_MULTITHREAD) != SQLITE_OK)
      spdlog::debug("store: SQLite was initialized already; keeping its global settings");
    return true;
  }();
  (void)configured;
}

std::error_code Store::Impl::open(const std::filesystem::path& file) {
  if (file.empty() || file == ":memory:") return Errc::invalid_argument;
  configure_sqlite_once();
  if (wdb.open(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX) != SQLITE_OK)
    return fail_open(wdb, "open", file);
  sqlite3_busy_timeout(wdb.get(), kBusyTimeoutMs);

  // Refuse a newer schema before changing anything in the file.
  int found = schema::current_version(wdb);
  if (found < 0) return fail_open(wdb, "reading the schema version", file);
  if (found > schema::latest_version()) {
    spdlog::error("store: {} has schema version {}, newer than this build supports ({}); refusing to open it",
                  file.string(), found, schema::latest_version());
    return Errc::unsupported;
  }

  std::string mode;
  // Takes effect only while the file is new (before WAL mode is on); existing files keep theirs.
  if (wdb.exec(kPageSize) != SQLITE_OK) return fail_open(wdb, "setting the page size", file);
  if (wdb.query_text("PRAGMA journal_mode = WAL", mode) != SQLITE_OK || mode != "wal")
    return fail_open(wdb, "enabling WAL (journal_mode=" + mode + ")", file);
  const char* sync = options.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
  if (wdb.exec(sync) != SQLITE_OK || wdb.exec("PRAGMA foreign_keys = ON") != SQLITE_OK ||
      wdb.exec(kWriterTuning) != SQLITE_OK)
    return fail_open(wdb, "configuring pragmas", file);

  // Checkpoint every kCheckpointBytes of WAL, whatever the file's page size.
  std::int64_t page = 0;
  if (wdb.query_int("PRAGMA page_size", page) != SQLITE_OK || page <= 0)
    return fail_open(wdb, "reading the page size", file);
  const std::string checkpoint = "PRAGMA wal_autocheckpoint = " + std::to_string(kCheckpointBytes / page);
  if (wdb.exec(checkpoint.c_str()) != SQLITE_OK) return fail_open(wdb, "setting wal_autocheckpoint", file);
  if (auto ec = schema::migrate(wdb)) return ec;
  version = schema::current_version(wdb);
  if (auto ec = prepare_write()) return ec;
  if (auto ec = load_generations()) return fail_open(wdb, "reading the envelope generations", file);

  if (rdb.open(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX) != SQLITE_OK)
    return fail_open(rdb, "opening the read connection", file);
  sqlite3_busy_timeout(rdb.get(), kBusyTimeoutMs);
  if (rdb.exec("PRAGMA foreign_keys = ON") != SQLITE_OK || rdb.exec("PRAGMA query_only = ON") != SQLITE_OK)
    return fail_open(rdb, "configuring the read connection", file);
  return prepare_read();
}

std::expected<std::unique_ptr<Store>, std::error_code> Store::open(const std::filesystem::path& db_file,
                                                                   Options options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  if (!impl->options.write_faults) impl->options.write_faults = std::make_shared<WriteFaults>();
  if (auto ec = impl->open(db_file)) return std::unexpected(ec);
  Impl* raw = impl.get();
  raw->writer = std::thread([raw] { raw->writer_main(); });
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() {
  {
    std::lock_guard lk(impl_->q_mu);
    impl_->stop = true;
  }
  impl_->q_cv.notify_all();
  if (impl_->writer.joinable()) impl_->writer.join();
}

int Store::schema_version() const {
  return impl_->version;
}
int Store::latest_schema_version() {
  return schema::latest_version();
}

void Store::Impl::writer_main() {
  {
    std::lock_guard lk(q_mu);
    writer_id = std::this_thread::get_id();
  }
  std::vector<Pending> work;
  for (;;) {
    {
      std::unique_lock lk(q_mu);
      while (queue.empty() && !stop) {
        writer_waiting = true;
        q_cv.wait(lk);
        writer_waiting = false;
      }
      if (queue.empty()) return;  // stop requested and drained
      work.swap(queue);           // queue keeps the old buffer's capacity
    }
    std::size_t i = 0;
    while (i < work.size()) {
      std::size_t j = i, rows = 0;
      do {
        rows += work[j].batch.size();
        ++j;
      } while (j < work.size() && rows < kMaxGroupRows);
      std::span<Pending> group(work.data() + i, j - i);
      commit_group(group);
      for (Pending& p : group) {
        if (!p.done) continue;
        try {
          p.done(p.ec);
        } catch (const std::exception& e) {
          spdlog::error("store: submit callback threw: {}", e.what());
        } catch (...) {
          spdlog::error("store: submit callback threw a non-standard exception");
        }
      }
      {
        std::lock_guard lk(q_mu);
        completed += group.size();
      }
      done_cv.notify_all();
      i = j;
    }
    work.clear();
  }
}

void Store::Impl::commit_group(std::span<Pending> group) {
  if (options.commit_delay_ms > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(options.commit_delay_ms));
  std::lock_guard lk(write_mu);
  commit_group_locked(group);
}

void Store::Impl::commit_inline(Pending& pending, std::unique_lock<std::mutex> write_lock) {
  commit_group_locked(std::span<Pending>(&pending, 1));
  // The callback runs before write_mu is released, so it precedes the callbacks of later groups.
  if (pending.done) {
    try {
      pending.done(pending.ec);
    } catch (const std::exception& e) {
      spdlog::error("store: submit callback threw: {}", e.what());
    }
  }
  write_lock.unlock();
  {
    std::lock_guard lk(q_mu);
    ++completed;
  }
  done_cv.notify_all();
}

void Store::Impl::commit_group_locked(std::span<Pending> group) {
  const std::error_code failed = Errc::store_failed;
  auto fail_all = [&](std::string_view what, int rc) {
    spdlog::error("store: group commit of {} batches failed at {}: {}", group.size(), what,
                  describe(wdb, rc));
    rollback();
    for (Pending& p : group) p.ec = failed;
  };

  // Fast path: every batch in one transaction, no savepoints. A message whose ack came back before
  // its outbox insert was committed is written without its envelope (see write_batch).
  std::unordered_set<MessageKey, KeyHash> delivered;
  for (const Pending& p : group)
    for (const OutboxUpdate& u : p.batch.outbox_updates)
      if (u.state == OutboxState::delivered) delivered.insert(u.id);
  int rc = begin();
  if (rc != SQLITE_OK) return fail_all("BEGIN", rc);
  bool isolate = false;
  std::uint64_t rows = 0;
  for (Pending& p : group) {
    rc = write_batch(p.batch, delivered.empty() ? nullptr : &delivered);
    if (rc != SQLITE_OK) {
      isolate = batch_local_error(rc) && group.size() > 1;
      break;
    }
    rows += p.batch.size();
  }
  if (rc == SQLITE_OK) {
    rc = commit();
    if (rc != SQLITE_OK) return fail_all("COMMIT", rc);
    for (Pending& p : group) p.ec = {};
    count_commit(group.size(), rows);
    return;
  }
  if (!isolate) return fail_all("write", rc);

  // Slow path: one batch broke a constraint. Redo the group with a savepoint per batch so that
  // only the offending batches fail.
  spdlog::warn("store: a batch in a group of {} failed ({}); retrying batch by batch", group.size(),
               wdb.errmsg());
  rollback();
  rc = begin();
  if (rc != SQLITE_OK) return fail_all("BEGIN", rc);
  std::uint64_t ok_batches = 0;
  rows = 0;
  for (Pending& p : group) {
    if ((rc = savepoint()) != SQLITE_OK) return fail_all("SAVEPOINT", rc);
    rc = write_batch(p.batch);
    if (rc == SQLITE_OK) {
      p.ec = {};
      ++ok_batches;
      rows += p.batch.size();
    } else if (batch_local_error(rc)) {
      spdlog::warn("store: batch rejected: {}", wdb.errmsg());
      p.ec = failed;
      if ((rc = rollback_to()) != SQLITE_OK) return fail_all("ROLLBACK TO", rc);
    } else {
      return fail_all("write", rc);
    }
    if ((rc = release()) != SQLITE_OK) return fail_all("RELEASE", rc);
  }
  rc = commit();
  if (rc != SQLITE_OK) return fail_all("COMMIT", rc);
  count_commit(ok_batches, rows);
}

std::error_code Store::Impl::apply_one(const WriteBatch& b) {
  std::lock_guard lk(write_mu);
  int rc = begin();
  if (rc == SQLITE_OK) rc = write_batch(b);
  if (rc == SQLITE_OK) {
    rc = commit();
    if (rc == SQLITE_OK) {
      count_commit(1, b.size());
      return {};
    }
  }
  spdlog::error("store: apply failed: {}", describe(wdb, rc));
  rollback();
  return Errc::store_failed;
}

std::error_code Store::apply(const WriteBatch& b) {
  return impl_->apply_one(b);
}

void Store::submit(WriteBatch batch, std::function<void(std::error_code)> done) {
  bool wake;
  {
    std::unique_lock lk(impl_->q_mu);
    // Fast path: with the writer idle and nothing queued, a small batch commits right here, which
    // saves two thread wake-ups (≈50 µs each on a 2-vCPU VM) on the ack path. Taking write_mu while
    // still holding q_mu keeps the order: anything submitted after us commits after us.
    if (impl_->options.commit_inline_when_idle && impl_->writer_waiting && impl_->queue.empty() &&
        !impl_->stop && !impl_->options.synchronous_full && impl_->options.commit_delay_ms == 0 &&
        batch.size() <= 64 && std::this_thread::get_id() != impl_->writer_id) {
      std::unique_lock write_lock(impl_->write_mu, std::try_to_lock);
      if (write_lock.owns_lock()) {
        ++impl_->submitted;
        lk.unlock();
        Pending inline_batch{std::move(batch), std::move(done), {}};
        impl_->commit_inline(inline_batch, std::move(write_lock));
        return;
      }
    }
    impl_->queue.push_back(Pending{std::move(batch), std::move(done), {}});
    ++impl_->submitted;
    wake = impl_->writer_waiting;
  }
  if (wake) impl_->q_cv.notify_one();
}

void Store::flush() {
  std::unique_lock lk(impl_->q_mu);
  if (std::this_thread::get_id() == impl_->writer_id) return;
  const std::uint64_t target = impl_->submitted;
  impl_->done_cv.wait(lk, [&] { return impl_->completed >= target; });
}

Stats Store::stats() const {
  return Stats{impl_->stat_transactions.load(std::memory_order_relaxed),
               impl_->stat_batches.load(std::memory_order_relaxed),
               impl_->stat_rows.load(std::memory_order_relaxed)};
}

WriteFaults& Store::write_faults() {
  return *impl_->options.write_faults;
}

}  // namespace hyphae::store
