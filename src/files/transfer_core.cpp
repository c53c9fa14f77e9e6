#include "files/transfer_core.hpp"

#include "core/error.hpp"
#include "files/file_io.hpp"

namespace hyphae::files {

namespace {
constexpr std::uint64_t kPersistEveryBytes = std::uint64_t{4} << 20;
constexpr std::uint64_t kGapReportMs = 200;    // at most one "resend from" per transfer this often
constexpr std::uint64_t kRewindHoldMs = 1000;  // a repeated "resend from X" within this is the same one
}  // namespace

std::string_view to_string(TransferState state) {
  switch (state) {
    case TransferState::offered:
      return "offered";
    case TransferState::active:
      return "active";
    case TransferState::verifying:
      return "verifying";
    case TransferState::complete:
      return "complete";
    case TransferState::declined:
      return "declined";
    case TransferState::cancelled:
      return "cancelled";
    case TransferState::failed:
      return "failed";
  }
  return "unknown";
}

std::string_view to_string(Direction direction) {
  return direction == Direction::out ? "out" : "in";
}

Transfer* TransferCore::get(const TransferId& id) {
  auto it = transfers_.find(id);
  return it == transfers_.end() ? nullptr : &it->second;
}

const Transfer* TransferCore::find(const TransferId& id) const {
  auto it = transfers_.find(id);
  return it == transfers_.end() ? nullptr : &it->second;
}

void TransferCore::changed(Transfer& t, std::uint64_t now, Out& out, bool force) {
  t.updated_ms = now;
  if (!force && t.done_bytes < t.persisted + kPersistEveryBytes) return;
  t.persisted = t.done_bytes;
  out.changed.push_back(t.id);
}

void TransferCore::send_durable(const Transfer& t, const FileMessage& m, Out& out) {
  out.sends.push_back(Send{t.peer, encode_file_message(m), true});
}

const Transfer& TransferCore::offer(const PeerId& to, const TransferId& id, std::string name,
                                    std::string media_type, std::string path, std::uint64_t size,
                                    const Sha256& sha256, std::uint64_t now, Out& out) {
  Transfer t;
  t.id = id;
  t.peer = to;
  t.direction = Direction::out;
  t.name = std::move(name);
  t.media_type = std::move(media_type);
  t.path = std::move(path);
  t.size = size;
  t.chunk_size = limits_.chunk_size;
  t.sha256 = sha256;
  t.created_ms = now;
  auto& stored = transfers_[id] = std::move(t);
  FileMessage m;
  m.kind = FileMessageKind::offer;
  m.id = id;
  m.size = stored.size;
  m.chunk_size = stored.chunk_size;
  m.sha256 = stored.sha256;
  m.name = stored.name;
  m.media_type = stored.media_type;
  send_durable(stored, m, out);
  changed(stored, now, out, true);
  return stored;
}

void TransferCore::restore(Transfer t, std::uint64_t now, Out& out) {
  t.epoch = 1;
  t.reads = 0;
  t.next_offset = t.done_bytes;
  t.reported = t.persisted = t.done_bytes;
  t.last_report_ms = now;
  auto& stored = transfers_[t.id] = std::move(t);
  if (stored.direction == Direction::in && stored.state == TransferState::active) {
    // Where the file stands on disk after the restart: cut back to the last persisted offset, then
    // ask the sender to resume from there.
    out.prepare.push_back(stored.id);
    FileMessage m;
    m.kind = FileMessageKind::accept;
    m.id = stored.id;
    m.offset = stored.done_bytes;
    send_durable(stored, m, out);
  }
  if (stored.direction == Direction::in && stored.state == TransferState::verifying)
    out.verify.push_back(stored.id);
}

std::size_t TransferCore::unfinished_incoming(const PeerId* peer) const {
  std::size_t n = 0;
  for (const auto& [id, t] : transfers_)
    if (t.direction == Direction::in && !finished(t.state) && (!peer || t.peer == *peer)) ++n;
  return n;
}

std::error_code TransferCore::accept(const TransferId& id, std::uint64_t now, Out& out) {
  auto* t = get(id);
  if (!t) return Errc::not_found;
  if (t->direction != Direction::in || t->state != TransferState::offered) return Errc::invalid_argument;
  t->state = TransferState::active;
  t->active_since_ms = now;
  t->done_bytes = t->next_offset = t->reported = 0;
  t->last_report_ms = now;
  out.prepare.push_back(id);
  if (t->size == 0) {  // nothing to move: straight to the check
    t->state = TransferState::verifying;
    out.verify.push_back(id);
  }
  FileMessage m;
  m.kind = FileMessageKind::accept;
  m.id = id;
  m.offset = 0;
  send_durable(*t, m, out);
  changed(*t, now, out, true);
  return {};
}

std::error_code TransferCore::decline(const TransferId& id, const std::string& reason, std::uint64_t now,
                                      Out& out) {
  auto* t = get(id);
  if (!t) return Errc::not_found;
  if (t->direction != Direction::in || t->state != TransferState::offered) return Errc::invalid_argument;
  FileMessage m;
  m.kind = FileMessageKind::decline;
  m.id = id;
  m.reason = reason;
  send_durable(*t, m, out);
  t->state = TransferState::declined;
  t->error = reason;
  changed(*t, now, out, true);
  return {};
}

std::error_code TransferCore::cancel(const TransferId& id, const std::string& reason, std::uint64_t now,
                                     Out& out) {
  auto* t = get(id);
  if (!t) return Errc::not_found;
  if (finished(t->state)) return Errc::invalid_argument;
  FileMessage m;
  m.kind = FileMessageKind::cancel;
  m.id = id;
  m.reason = reason;
  send_durable(*t, m, out);
  finish(*t, TransferState::cancelled, reason, now, out);
  return {};
}

void TransferCore::fail(const TransferId& id, const std::string& reason, std::uint64_t now, Out& out) {
  auto* t = get(id);
  if (!t || finished(t->state)) return;
  FileMessage m;
  m.kind = t->direction == Direction::in && t->state == TransferState::verifying ? FileMessageKind::complete
                                                                                 : FileMessageKind::cancel;
  m.id = id;
  m.ok = false;
  m.reason = reason;
  send_durable(*t, m, out);
  finish(*t, TransferState::failed, reason, now, out);
}

void TransferCore::finish(Transfer& t, TransferState state, std::string error, std::uint64_t now, Out& out) {
  t.state = state;
  t.error = std::move(error);
  ++t.epoch;  // reads and writes still out are dropped
  t.reads = 0;
  if (t.direction == Direction::in && state != TransferState::complete) out.discard.push_back(t.id);
  changed(t, now, out, true);
  forget_oldest_finished(out);
}

void TransferCore::forget_oldest_finished(Out& out) {
  std::size_t finished_count = 0;
  for (const auto& [id, t] : transfers_)
    if (finished(t.state)) ++finished_count;
  while (finished_count > limits_.max_finished) {
    auto oldest = transfers_.end();
    for (auto it = transfers_.begin(); it != transfers_.end(); ++it)
      if (finished(it->second.state) &&
          (oldest == transfers_.end() || it->second.updated_ms < oldest->second.updated_ms))
        oldest = it;
    out.forgotten.push_back(oldest->first);
    transfers_.erase(oldest);
    --finished_count;
  }
}

void TransferCore::on_message(const PeerId& from, const FileMessage& m, std::uint64_t now, Out& out) {
  if (m.kind == FileMessageKind::offer) return on_offer(from, m, now, out);
  auto* t = get(m.id);
  if (!t || !(t->peer == from)) {
    if (m.kind == FileMessageKind::chunk) ++counters_.chunks_unexpected;
    return;  // not a transfer with this peer: ignored (a stale or forged message)
  }
  const bool out_dir = t->direction == Direction::out;
  switch (m.kind) {
    case FileMessageKind::offer:
      break;
    case FileMessageKind::accept:
      if (!out_dir || finished(t->state)) return;
      if (m.offset > t->size || m.offset % t->chunk_size != 0)
        return fail(t->id, "the receiver asked to resume at a bad offset", now, out);
      if (t->state == TransferState::offered) t->active_since_ms = now;
      t->state = TransferState::active;
      t->done_bytes = m.offset;  // the receiver's word: it may have restarted with less
      t->reported = m.offset;
      rewind(*t, m.offset, now);
      changed(*t, now, out, true);
      return pump(t->peer, now, out);
    case FileMessageKind::decline:
      if (!out_dir || t->state != TransferState::offered) return;
      return finish(*t, TransferState::declined, std::string(m.reason), now, out);
    case FileMessageKind::cancel:
      if (finished(t->state)) return;
      return finish(*t, TransferState::cancelled, "cancelled by the peer: " + std::string(m.reason), now,
                    out);
    case FileMessageKind::complete:
      if (!out_dir || finished(t->state)) return;
      if (m.ok) t->done_bytes = t->size;
      return finish(*t, m.ok ? TransferState::complete : TransferState::failed, std::string(m.reason), now,
                    out);
    case FileMessageKind::chunk:
      if (out_dir) return;
      return on_chunk(*t, m, now, out);
    case FileMessageKind::progress:
      if (!out_dir) return;
      return on_progress(*t, m, now, out);
  }
}

void TransferCore::on_offer(const PeerId& from, const FileMessage& m, std::uint64_t now, Out& out) {
  if (transfers_.contains(m.id)) return;  // a repeat
  auto refuse = [&](const std::string& why) {
    ++counters_.offers_refused;
    FileMessage d;
    d.kind = FileMessageKind::decline;
    d.id = m.id;
    d.reason = why;
    out.sends.push_back(Send{from, encode_file_message(d), true});
  };
  if (auto name = check_file_name(m.name); !name) return refuse(name.error());
  if (m.size > limits_.max_file_bytes)
    return refuse("the file is larger than this node takes (" + std::to_string(m.size) +
                  " bytes; max_file_bytes " + std::to_string(limits_.max_file_bytes) + ")");
  if (unfinished_incoming(&from) >= limits_.max_offers_per_peer)
    return refuse("too many transfers from you at once (max " + std::to_string(limits_.max_offers_per_peer) +
                  ")");
  if (unfinished_incoming(nullptr) >= limits_.max_incoming)
    return refuse("too many incoming transfers at once (max " + std::to_string(limits_.max_incoming) + ")");
  Transfer t;
  t.id = m.id;
  t.peer = from;
  t.direction = Direction::in;
  t.name = std::string(m.name);
  t.media_type = std::string(m.media_type);
  t.size = m.size;
  t.chunk_size = m.chunk_size;
  t.sha256 = m.sha256;
  t.created_ms = now;
  auto& stored = transfers_[m.id] = std::move(t);
  changed(stored, now, out, true);
  if (limits_.auto_accept) accept(m.id, now, out);
}

void TransferCore::report(Transfer& t, bool resend, Out& out) {
  FileMessage m;
  m.kind = FileMessageKind::progress;
  m.id = t.id;
  m.offset = t.done_bytes;
  m.resend = resend;
  t.reported = t.done_bytes;
  out.sends.push_back(Send{t.peer, encode_file_message(m), false});
}

void TransferCore::on_chunk(Transfer& t, const FileMessage& m, std::uint64_t now, Out& out) {
  if (t.state != TransferState::active) {
    ++counters_.chunks_unexpected;
    return;
  }
  const std::uint64_t expected_size =
      std::min<std::uint64_t>(t.chunk_size, t.size - std::min(t.size, m.offset));
  if (m.offset >= t.size || m.data.size() != expected_size || m.offset % t.chunk_size != 0) {
    ++counters_.chunks_unexpected;
    return;
  }
  if (m.offset != t.next_offset) {
    // Behind: a duplicate (the sender resent); ahead: a gap (a chunk was lost). Either way the sender
    // hears where this side stands, at most every kGapReportMs.
    if (m.offset < t.next_offset)
      ++counters_.chunks_duplicate;
    else
      ++counters_.chunks_unexpected;
    if (now >= t.gap_report_ms + kGapReportMs) {
      t.gap_report_ms = now;
      report(t, m.offset > t.next_offset, out);
    }
    return;
  }
  t.next_offset += m.data.size();
  Write w;
  w.id = t.id;
  w.epoch = t.epoch;
  w.offset = m.offset;
  // Hashed here, while the decrypted chunk is still in this core's cache: on the worker, after a
  // hand-over between cores, the same hash cost several times as much.
  w.hash_matches = sha256_of(m.data) == m.sha256;
  w.data.assign(m.data.begin(), m.data.end());
  out.writes.push_back(std::move(w));
}

void TransferCore::on_written(const TransferId& id, std::uint64_t epoch, std::uint64_t offset,
                              std::uint32_t length, WriteResult result, const std::string& error,
                              std::uint64_t now, Out& out) {
  auto* t = get(id);
  if (!t || t->epoch != epoch || t->state != TransferState::active || offset != t->done_bytes) return;
  if (result == WriteResult::io_error) return fail(id, error, now, out);
  if (result == WriteResult::bad_hash) {
    ++counters_.chunks_bad_hash;
    if (++t->bad_chunks >= limits_.max_bad_chunks)
      return fail(id,
                  "the chunk at offset " + std::to_string(offset) + " did not match its SHA-256 (" +
                      std::to_string(t->bad_chunks) + " bad chunks)",
                  now, out);
    ++t->epoch;  // writes queued after the bad one are dropped; the sender resends from here
    t->next_offset = t->done_bytes;
    t->gap_report_ms = now;
    return report(*t, true, out);
  }
  ++counters_.chunks_written;
  t->done_bytes += length;
  if (t->done_bytes == t->size) {
    t->state = TransferState::verifying;
    report(*t, false, out);
    out.verify.push_back(id);
    return changed(*t, now, out, true);
  }
  if (t->done_bytes >= t->reported + limits_.progress_every_bytes) report(*t, false, out);
  changed(*t, now, out, false);
}

void TransferCore::on_verified(const TransferId& id, bool ok, const std::string& final_path,
                               std::uint64_t now, Out& out) {
  auto* t = get(id);
  if (!t || t->state != TransferState::verifying) return;
  FileMessage m;
  m.kind = FileMessageKind::complete;
  m.id = id;
  m.ok = ok;
  m.reason = ok ? "" : "the file's SHA-256 does not match the offer";
  send_durable(*t, m, out);
  if (ok) t->path = final_path;
  finish(*t, ok ? TransferState::complete : TransferState::failed, ok ? "" : std::string(m.reason), now, out);
}

void TransferCore::rewind(Transfer& t, std::uint64_t offset, std::uint64_t now, bool asked) {
  ++counters_.rewinds;
  ++t.epoch;
  t.reads = 0;
  t.next_offset = offset;
  // A request to resend from X is honoured once: the chunks already on the way past X make the
  // receiver ask again, and that repeat must not start a second resend of the whole window.
  t.rewind_offset = asked ? offset : UINT64_MAX;
  t.rewind_ms = now;
  t.last_report_ms = now;
}

void TransferCore::on_progress(Transfer& t, const FileMessage& m, std::uint64_t now, Out& out) {
  if (t.state != TransferState::active || m.offset > t.size ||
      (m.offset % t.chunk_size != 0 && m.offset != t.size))
    return;
  if (m.offset > t.done_bytes) {
    t.done_bytes = m.offset;
    t.last_report_ms = now;
    changed(t, now, out, false);
  }
  if (m.resend && m.offset >= t.done_bytes &&
      !(m.offset == t.rewind_offset && now < t.rewind_ms + kRewindHoldMs))
    rewind(t, m.offset, now);
  if (t.next_offset < t.done_bytes)
    rewind(t, t.done_bytes, now);  // the receiver is ahead (it restarted less far back)
  pump(t.peer, now, out);
}

void TransferCore::pump(const PeerId& peer, std::uint64_t now, Out& out) {
  for (auto& [id, t] : transfers_) {
    if (t.direction != Direction::out || t.state != TransferState::active || !(t.peer == peer)) continue;
    while (t.reads < limits_.read_ahead && t.next_offset < t.size &&
           t.next_offset < t.done_bytes + limits_.window_bytes) {
      const auto length =
          static_cast<std::uint32_t>(std::min<std::uint64_t>(t.chunk_size, t.size - t.next_offset));
      out.reads.push_back(Read{id, t.epoch, t.next_offset, length, t.path});
      t.next_offset += length;
      ++t.reads;
    }
  }
}

void TransferCore::on_read(const TransferId& id, std::uint64_t epoch, std::uint64_t offset,
                           Bytes chunk_message, std::uint64_t now, Out& out) {
  auto* t = get(id);
  if (!t || t->epoch != epoch || t->state != TransferState::active) return;
  if (t->reads > 0) --t->reads;
  ++counters_.chunks_sent;
  if (t->last_report_ms == 0) t->last_report_ms = now;
  out.sends.push_back(Send{t->peer, std::move(chunk_message), false});
}

void TransferCore::on_read_failed(const TransferId& id, std::uint64_t epoch, const std::string& reason,
                                  std::uint64_t now, Out& out) {
  auto* t = get(id);
  if (!t || t->epoch != epoch) return;
  fail(id, "cannot read the file: " + reason, now, out);
}

void TransferCore::on_send_failed(const TransferId& id, std::uint64_t now, Out& out) {
  auto* t = get(id);
  if (!t || t->state != TransferState::active || t->direction != Direction::out) return;
  if (t->next_offset != t->done_bytes) rewind(*t, t->done_bytes, now);
}

void TransferCore::on_session(const PeerId& peer, bool up, std::uint64_t now, Out& out) {
  for (auto& [id, t] : transfers_) {
    if (!(t.peer == peer) || t.state != TransferState::active) continue;
    if (t.direction == Direction::out) {
      // Whatever was in flight on the old session is gone: resume from the last report.
      if (t.next_offset != t.done_bytes) rewind(t, t.done_bytes, now);
    } else if (up) {
      // The receiver expects the next chunk where it stands; tell the sender (it may have moved on).
      t.next_offset = t.done_bytes;
      ++t.epoch;
      report(t, true, out);
    }
  }
  if (up) pump(peer, now, out);
}

void TransferCore::tick(std::uint64_t now, Out& out) {
  for (auto& [id, t] : transfers_) {
    if (t.direction != Direction::out || t.state != TransferState::active) continue;
    if (t.next_offset > t.done_bytes && now >= t.last_report_ms + limits_.stall_ms) {
      rewind(t, t.done_bytes, now);
      pump(t.peer, now, out);
    }
  }
}

}  // namespace hyphae::files
