// TransferCore: the sans-IO state machine of file transfers, both directions. An offer goes out as a
// durable message; the receiver accepts (by hand or automatically) and says where to resume; the
// sender reads chunks (through the adapter), sends each with its SHA-256 as an ephemeral message, at
// most `window_bytes` ahead of what the receiver reports written; the receiver checks each chunk's
// hash, writes it in order (through the adapter) and reports progress; a gap, a stall, a lost session
// or a restart on either side resumes from the last reported offset; at the end the receiver checks
// the whole file's SHA-256 and answers with the outcome.
// Input: messages, adapter results and `now` (ms); output: an Out of actions for the adapter (sends,
// reads, writes, verifications, rows to persist). No files, sockets or clocks here.
// Thread-safety: none; owned by the node (its strand).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "core/peer_id.hpp"
#include "files/file_messages.hpp"
#include "files/transfer_limits.hpp"

namespace hyphae::files {

enum class Direction : std::uint8_t { out = 0, in = 1 };
enum class TransferState : std::uint8_t {
  offered = 0,    // out: waiting for the answer; in: waiting for the user
  active = 1,     // bytes moving
  verifying = 2,  // in: every byte written, the file's hash being checked
  complete = 3,
  declined = 4,
  cancelled = 5,
  failed = 6,
};
std::string_view to_string(TransferState state);
std::string_view to_string(Direction direction);
inline bool finished(TransferState s) {
  return s >= TransferState::complete;
}

struct Transfer {
  TransferId id{};
  PeerId peer;
  Direction direction = Direction::out;
  std::string name, media_type;
  std::uint64_t size = 0;
  std::uint32_t chunk_size = 0;
  Sha256 sha256{};
  TransferState state = TransferState::offered;
  std::string path;              // out: the file sent; in: where the finished file is
  std::string error;             // why it failed, was declined or cancelled
  std::uint64_t done_bytes = 0;  // out: reported written by the receiver; in: written here
  std::uint64_t created_ms = 0, updated_ms = 0, active_since_ms = 0;
  // Runtime (not persisted).
  std::uint64_t epoch = 1;        // bumped on every rewind: older reads and writes are dropped
  std::uint64_t next_offset = 0;  // out: next chunk to read; in: next chunk accepted for writing
  std::size_t reads = 0;          // out: chunk reads in flight
  std::uint64_t last_report_ms = 0, rewind_offset = UINT64_MAX, rewind_ms = 0;
  std::uint64_t reported = 0, persisted = 0, gap_report_ms = 0;
  std::uint32_t bad_chunks = 0;
};

struct TransferCounters {
  std::uint64_t offers_refused = 0, chunks_unexpected = 0, chunks_bad_hash = 0, chunks_duplicate = 0,
                chunks_sent = 0, chunks_written = 0, rewinds = 0, malformed = 0;
};

class TransferCore {
 public:
  struct Send {
    PeerId peer;
    Bytes bytes;
    bool durable = false;
  };
  struct Read {
    TransferId id;
    std::uint64_t epoch = 0, offset = 0;
    std::uint32_t length = 0;
    std::string path;
  };
  struct Write {
    TransferId id;
    std::uint64_t epoch = 0, offset = 0;
    Bytes data;  // a whole chunk message; the data starts at data_at
    std::size_t data_at = 0;
    bool hash_matches = false;  // the chunk matched the SHA-256 its message carries
  };
  struct Out {
    std::vector<Send> sends;
    std::vector<Read> reads;
    std::vector<Write> writes;
    std::vector<TransferId> verify;     // in: hash the part file; then finalize it
    std::vector<TransferId> prepare;    // in: create (or cut back to done_bytes) the part file
    std::vector<TransferId> discard;    // in: delete the part file
    std::vector<TransferId> changed;    // persist the row and tell watchers
    std::vector<TransferId> forgotten;  // finished transfers past max_finished: delete their rows
  };

  TransferCore(PeerId self, TransferLimits limits) : self_(self), limits_(limits) {}

  // A new outgoing transfer of the file at `path` (size and hash already known).
  const Transfer& offer(const PeerId& to, const TransferId& id, std::string name, std::string media_type,
                        std::string path, std::uint64_t size, const Sha256& sha256, std::uint64_t now,
                        Out& out);
  // Restores a persisted transfer after a restart: an active incoming one asks again to resume.
  void restore(Transfer transfer, std::uint64_t now, Out& out);
  // The user's answer to an incoming offer. Errors: not_found, invalid_argument (not offered to us).
  std::error_code accept(const TransferId& id, std::uint64_t now, Out& out);
  std::error_code decline(const TransferId& id, const std::string& reason, std::uint64_t now, Out& out);
  // Either side stops a transfer that has not finished.
  std::error_code cancel(const TransferId& id, const std::string& reason, std::uint64_t now, Out& out);
  // Ends a transfer here (disk full, unreadable file): it fails and the peer hears why.
  void fail(const TransferId& id, const std::string& reason, std::uint64_t now, Out& out);

  // A file message from `from` (already authenticated by the node).
  void on_message(const PeerId& from, const FileMessage& message, std::uint64_t now, Out& out);
  // Adapter results.
  void on_read(const TransferId& id, std::uint64_t epoch, std::uint64_t offset, Bytes chunk_message,
               std::uint64_t now, Out& out);
  void on_read_failed(const TransferId& id, std::uint64_t epoch, const std::string& reason, std::uint64_t now,
                      Out& out);
  enum class WriteResult { written, bad_hash, io_error };
  void on_written(const TransferId& id, std::uint64_t epoch, std::uint64_t offset, std::uint32_t length,
                  WriteResult result, const std::string& error, std::uint64_t now, Out& out);
  // The part file's hash matched (final path given) or not.
  void on_verified(const TransferId& id, bool ok, const std::string& final_path, std::uint64_t now, Out& out);
  // An ephemeral send found no session: the transfer waits for one and resumes from the report.
  void on_send_failed(const TransferId& id, std::uint64_t now, Out& out);
  void on_session(const PeerId& peer, bool up, std::uint64_t now, Out& out);
  // Issues reads for outgoing transfers to `peer` that have room (the link has room for more).
  void pump(const PeerId& peer, std::uint64_t now, Out& out);
  // Stalled transfers resend from the last report.
  void tick(std::uint64_t now, Out& out);

  const Transfer* find(const TransferId& id) const;
  const std::map<TransferId, Transfer>& transfers() const { return transfers_; }
  const TransferCounters& counters() const { return counters_; }
  const TransferLimits& limits() const { return limits_; }

 private:
  Transfer* get(const TransferId& id);
  void on_offer(const PeerId& from, const FileMessage& m, std::uint64_t now, Out& out);
  void on_chunk(Transfer& t, const FileMessage& m, std::uint64_t now, Out& out);
  void on_progress(Transfer& t, const FileMessage& m, std::uint64_t now, Out& out);
  // Sends again from `offset`; `asked`: the receiver asked for it (a gap or a bad chunk).
  void rewind(Transfer& t, std::uint64_t offset, std::uint64_t now, bool asked = false);
  void finish(Transfer& t, TransferState state, std::string error, std::uint64_t now, Out& out);
  void forget_oldest_finished(Out& out);  // keeps at most limits_.max_finished finished transfers
  void report(Transfer& t, bool resend, Out& out);
  void changed(Transfer& t, std::uint64_t now, Out& out, bool force);
  void send_durable(const Transfer& t, const FileMessage& m, Out& out);
  std::size_t unfinished_incoming(const PeerId* peer) const;

  PeerId self_;
  TransferLimits limits_;
  std::map<TransferId, Transfer> transfers_;
  TransferCounters counters_;
};

}  // namespace hyphae::files
