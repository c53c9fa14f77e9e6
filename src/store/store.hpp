// The node's durable store: one component in front of SQLite holding the outbox, the inbox, seen
// message ids (replay protection), peers and the route cache. Writes go through WriteBatch, either
// synchronously (apply) or by group commit (submit: a writer thread merges every batch queued
// meanwhile into one transaction). Reads use a second connection and run beside the writer (WAL).
// Thread-safety: every public member may be called from any thread. Callbacks passed to submit()
// run on the store's writer thread. Ownership: Store owns both SQLite connections and the writer
// thread; open() hands out the only owner. Values passed in are copied or moved; nothing returned
// refers into the store. Schema, migrations and durability: docs/store.md.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"

namespace hyphae::store {

using MessageKey = std::array<std::uint8_t, 16>;

enum class OutboxState : int { queued = 0, sent = 1, delivered = 2, failed = 3 };
std::string_view to_string(OutboxState);

// One outgoing message. priority: lower value is more urgent (0 emergency, 1 high, 2 normal, 3 low);
// pending reads order by priority, then created_ms.
struct OutboxRow {
  MessageKey id{};
  Bytes to;
  Bytes envelope;  // empty once delivered (the blob is dropped, the status row kept)
  int priority = 2;
  std::uint64_t created_ms = 0;
  std::uint64_t expires_ms = 0;  // 0 = never
  OutboxState state = OutboxState::queued;
  std::string transport;
  // Why that transport was chosen, e.g. "direct link to the recipient" or "failover: tcp timed out".
  std::string transport_reason;
  std::string reason;
  std::uint32_t attempts = 0;
  std::uint64_t updated_ms = 0;
  std::string preference;  // SendOptions::transport: the forced transport, empty for none
  int redundancy = 1;      // transports that carry it at once
  // SendOptions' privacy: the level (0 standard, 1 private, 2 anonymous) + 4 x the mixnet mode
  // (0 default, 1 strict, 2 balanced, 3 performance).
  int privacy = 0;
};

// A state change of an outbox row. An empty transport keeps the stored transport and
// transport_reason; a non-empty one replaces both. reason is replaced. add_attempts is added to
// attempts (the sends made since the row was written). Updates of a delivered row are ignored (delivered is
// final: its envelope is gone), as are updates of unknown ids.
struct OutboxUpdate {
  MessageKey id{};
  OutboxState state = OutboxState::queued;
  std::string transport;
  std::string reason;
  std::uint64_t updated_ms = 0;
  std::uint32_t add_attempts = 0;
  // Why that transport was chosen, e.g. "direct link to the recipient" or "failover: tcp timed out".
  std::string transport_reason{};
};

struct InboxRow {
  std::uint64_t seq = 0;  // assigned by the store: strictly increasing, never reused, gaps possible
  MessageKey id{};
  Bytes from;
  std::uint64_t received_ms = 0;
  Bytes envelope;
  bool app_acked = false;
};

struct PeerRow {
  Bytes id;                            // opaque multihash bytes
  std::vector<std::string> addresses;  // returned sorted
  std::uint64_t last_seen_ms = 0;
};

// A cached route (the peer route cache, peer_routes): reach destination through next_hop over
// transport. Keyed by (destination, next_hop, transport); an upsert older than the stored updated_ms
// is ignored.
struct RouteRow {
  Bytes destination;
  Bytes next_hop;
  std::string transport;
  int hops = 0;
  std::uint64_t updated_ms = 0;
  std::uint64_t expires_ms = 0;
};

// A signed peer record as received (discovery/peer_record.hpp): the envelope as it came, its
// sequence number and expiry, and where it came from ("self", "query:<PeerId>", "registry", ...).
// An upsert with a sequence number not above the stored one is ignored (no replay of an older record).
struct PeerRecordRow {
  Bytes peer;
  std::uint64_t seq = 0;
  Bytes envelope;
  std::string source;
  std::uint64_t received_ms = 0;
  std::uint64_t expires_ms = 0;
};

// A message a relay holds for `recipient` (an envelope signed by `sender` and sealed to the
// recipient), until the recipient acks it or it expires.
struct HeldRow {
  Bytes recipient;
  Bytes id;  // 16 bytes
  Bytes sender;
  Bytes envelope;
  std::uint64_t stored_ms = 0;
  std::uint64_t expires_ms = 0;
};
struct HeldKey {
  Bytes recipient;
  Bytes id;
};

// A file transfer as it stands (files/transfer_core.hpp): written on every state change and every
// few MiB of progress, read back at start so a transfer resumes after a restart.
struct FileTransferRow {
  Bytes id;  // 16 bytes
  Bytes peer;
  int direction = 0;  // 0 out, 1 in
  std::string name, media_type;
  std::uint64_t size = 0;
  std::uint32_t chunk_size = 0;
  Bytes sha256;  // 32 bytes
  int state = 0;
  std::string path, error;
  std::uint64_t done_bytes = 0;
  std::uint64_t created_ms = 0, updated_ms = 0;
};

// Everything one logical operation writes; applied atomically. Within a batch the kinds apply in
// field order (outbox inserts, outbox updates, inbox inserts, inbox acks, peers, routes), each in
// vector order. Batches of one group commit apply in submission order.
struct WriteBatch {
  std::vector<OutboxRow> outbox_inserts;     // new messages (a duplicate id is an error)
  std::vector<OutboxUpdate> outbox_updates;  // state changes; on delivered, the envelope blob is dropped
  std::vector<InboxRow> inbox_inserts;       // INSERT OR IGNORE by (id, from): a known pair is skipped
  std::vector<MessageKey> inbox_app_acks;    // app consumed these
  std::vector<PeerRow> peer_upserts;         // merge addresses (union), max last_seen
  std::vector<RouteRow> route_upserts;
  std::vector<PeerRecordRow> record_upserts;
  std::vector<HeldRow> held_inserts;  // INSERT OR IGNORE by (recipient, id)
  std::vector<HeldKey> held_deletes;
  std::vector<FileTransferRow> file_upserts;  // INSERT OR REPLACE by id
  std::vector<Bytes> file_deletes;            // by id
  // When set: held messages that expired before this time (ms) are deleted.
  std::uint64_t held_expire_before_ms = 0;
  // When set: app-acked inbox rows received before this time (ms) are deleted, last in the batch.
  std::uint64_t inbox_prune_acked_before_ms = 0;

  bool empty() const;
  std::size_t size() const;  // rows in all vectors
  // Appends other's rows kind by kind. Note: the merged batch applies all inserts of a kind before
  // the updates of the next kind, which can differ from applying the two batches one after other.
  void merge(WriteBatch&& other);
};

// Fault injection for drills and tests: the next n commits (group commits and apply()) roll back
// and fail with Errc::store_failed, as a full disk would. Shared by the store and whoever arms it;
// safe from any thread.
class WriteFaults {
 public:
  void fail_next(int commits) { remaining_.store(commits < 0 ? 0 : commits); }
  bool take() {  // true (and one fewer left) if this commit must fail
    int n = remaining_.load();
    while (n > 0 && !remaining_.compare_exchange_weak(n, n - 1)) {
    }
    return n > 0;
  }

 private:
  std::atomic<int> remaining_{0};
};

struct Options {
  // Armed by a drill or a test; null: the store makes its own (never armed unless write_faults()).
  std::shared_ptr<WriteFaults> write_faults;
  bool synchronous_full = false;  // PRAGMA synchronous=FULL (survives power loss) instead of NORMAL
  // When the writer is idle and nothing is queued, submit() commits a small batch on the calling
  // thread and runs its callback there before returning (saves two thread wake-ups per commit).
  // Callers must then not block inside the callback. Ignored with synchronous_full.
  bool commit_inline_when_idle = false;
  // Outbox envelopes per generation table before the writer switches tables (docs/store.md).
  std::uint64_t envelope_generation_rows = 65536;
  // Drills and tests: the writer waits this long before each commit, as on a slow disk. Turns off
  // commit_inline_when_idle (the wait belongs on the writer thread). 0 (no wait) in production.
  std::uint32_t commit_delay_ms = 0;
  // Peer records kept (peer_records): past this, a commit that adds records drops expired ones
  // and then the least recently received, so strangers' records cannot fill the disk.
  std::uint64_t max_peer_records = 10'000;
};

struct Stats {
  std::uint64_t transactions = 0;  // committed write transactions (group commits + apply())
  std::uint64_t batches = 0;       // batches in those transactions
  std::uint64_t rows = 0;          // WriteBatch::size() summed over those batches
};

class Store {
 public:
  // Opens or creates db_file (a file path; ":memory:" is not supported), sets WAL, synchronous,
  // foreign_keys and busy_timeout, applies pending migrations (one transaction each) and starts the
  // writer thread. Errors: Errc::unsupported if the file's schema is newer than this build knows,
  // Errc::store_failed if SQLite cannot open, configure or migrate it (details are logged).
  static std::expected<std::unique_ptr<Store>, std::error_code> open(const std::filesystem::path& db_file,
                                                                     Options = {});
  ~Store();  // drains pending writes (their callbacks run), stops the writer thread
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version() const;
  static int latest_schema_version();

  // Synchronous write of one batch in one transaction (tests, start-up). Not ordered against
  // batches still queued by submit(); call flush() first if that matters.
  // Errors: Errc::store_failed (the transaction is rolled back, nothing is applied).
  std::error_code apply(const WriteBatch&);

  // Group commit: queues the batch for the writer thread, which puts every batch queued meanwhile
  // into ONE transaction (BEGIN IMMEDIATE ... COMMIT; very large groups are split), commits, then
  // calls each done(ec) on the writer thread, in submission order. If the commit fails (disk full,
  // I/O error, injected failure) every batch of that transaction gets Errc::store_failed and nothing
  // of it is applied. If one batch's rows violate a constraint (e.g. duplicate outbox id), the group
  // is retried with one savepoint per batch: only the offending batches fail; the others commit.
  // Never blocks on I/O. done may be empty. done may call submit() and apply(), not flush().
  void submit(WriteBatch batch, std::function<void(std::error_code)> done);

  // Blocks until everything submitted so far is committed (or failed) and its callbacks ran.
  // Returns at once when called on the writer thread (from a callback).
  void flush();

  // Reads: thread-safe, on a separate connection guarded by a mutex; they see committed data only.
  // On a read error the error is logged and the result is empty. limit: SIZE_MAX for no limit.
  std::vector<OutboxRow> pending_outbox(const Bytes& to, std::size_t limit);  // queued or sent
  std::vector<OutboxRow> pending_outbox_all(std::size_t limit);
  std::optional<OutboxRow> outbox_get(const MessageKey&);  // any state; envelope empty once delivered
  std::size_t outbox_count(OutboxState);
  std::vector<InboxRow> inbox_after(std::uint64_t after_seq, bool only_unacked, std::size_t limit);
  std::optional<InboxRow> inbox_get(const MessageKey&);
  // Seen ids (replay protection) are the inbox's (sender, id) pairs: a received message keeps its
  // inbox row at least as long as a replay of it could pass the time check.
  // seen_since: pairs received at or after since_ms, newest first (received_ms follows the wall clock;
  // it scans back from the newest row and tolerates a clock that stepped back by up to an hour).
  struct SeenKey {
    Bytes from;
    MessageKey id;
  };
  std::vector<SeenKey> seen_since(std::uint64_t since_ms);
  bool seen(const MessageKey&);  // from any sender
  // Every inbox message the app has not acknowledged: (id, sender), oldest first (quotas at start).
  std::vector<SeenKey> inbox_unacked_senders();
  std::vector<PeerRow> peers();
  std::optional<PeerRow> peer(const Bytes& id);
  std::vector<RouteRow> routes();  // ordered by destination, hops, newest first
  std::optional<PeerRecordRow> peer_record(const Bytes& peer);
  std::vector<PeerRecordRow> peer_records();      // ordered by peer
  std::vector<FileTransferRow> file_transfers();  // ordered by created_ms
  // Held messages for a recipient, oldest first, at most `limit`.
  std::vector<HeldRow> held_for(const Bytes& recipient, std::size_t limit);
  // Per recipient: how many messages are held and their bytes (for the quotas at start).
  struct HeldCount {
    Bytes recipient;
    std::uint64_t messages = 0, bytes = 0;
  };
  std::vector<HeldCount> held_counts();

  Stats stats() const;

  // The store's fault switch (Options::write_faults).
  WriteFaults& write_faults();

  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hyphae::store
