#include "node/file_service.hpp"

#include <sys/stat.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstring>

#include "core/error.hpp"
#include "core/message_id.hpp"
#include "files/file_io.hpp"

namespace hyphae {

namespace asio = boost::asio;
using files::Transfer;
using files::TransferCore;
using files::TransferId;

namespace {
// Chunks are read only while the link holds less than this unsent: other messages to the same peer
// wait behind at most this much (plus the reads in flight).
constexpr std::size_t kPaceBacklogBytes = 1u << 20;
constexpr std::uint64_t kEventEveryMs = 250;

std::uint64_t steady_now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

std::uint64_t wall_now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

Transfer from_row(const store::FileTransferRow& r) {
  Transfer t;
  std::copy_n(r.id.begin(), std::min<std::size_t>(16, r.id.size()), t.id.begin());
  if (auto peer = PeerId::from_bytes(r.peer)) t.peer = *peer;
  t.direction = r.direction == 1 ? files::Direction::in : files::Direction::out;
  t.name = r.name;
  t.media_type = r.media_type;
  t.size = r.size;
  t.chunk_size = r.chunk_size;
  std::copy_n(r.sha256.begin(), std::min<std::size_t>(32, r.sha256.size()), t.sha256.begin());
  t.state = static_cast<files::TransferState>(std::clamp(r.state, 0, 6));
  t.path = r.path;
  t.error = r.error;
  t.done_bytes = r.done_bytes;
  t.created_ms = r.created_ms;
  t.updated_ms = r.updated_ms;
  return t;
}

}  // namespace

FileService::FileService(asio::any_io_executor strand, FileHost& host, store::Store& store, PeerId self,
                         std::filesystem::path download_dir, files::TransferLimits limits,
                         std::shared_ptr<spdlog::logger> log)
    : strand_(std::move(strand)),
      host_(host),
      store_(store),
      download_dir_(std::move(download_dir)),
      core_(self, limits),
      log_(std::move(log)),
      worker_(std::make_unique<asio::thread_pool>(1)) {}

FileService::~FileService() {
  *alive_ = false;
  stop();
}

void FileService::stop() {
  if (!worker_) return;
  worker_->join();
  worker_.reset();
}

template <typename F>
void FileService::on_worker(F work) {
  if (!worker_) return;
  asio::post(*worker_, std::move(work));
}

std::filesystem::path FileService::part_path(const TransferId& id) const {
  return download_dir_ / (".hyphae-" + files::to_hex(id) + ".part");
}

void FileService::start(std::uint64_t) {
  now_ = steady_now_ms();
  TransferCore::Out out;
  const auto rows = store_.file_transfers();
  std::size_t finished_rows = 0;
  for (const auto& r : rows)
    if (files::finished(static_cast<files::TransferState>(std::clamp(r.state, 0, 6)))) ++finished_rows;
  store::WriteBatch prune;
  for (const auto& r : rows) {
    auto t = from_row(r);
    if (files::finished(t.state) && finished_rows > core_.limits().max_finished) {
      --finished_rows;
      prune.file_deletes.push_back(r.id);
      continue;
    }
    core_.restore(std::move(t), now_, out);
  }
  if (!prune.file_deletes.empty()) store_.submit(std::move(prune), nullptr);
  run(out);
}

void FileService::persist(const Transfer& t) {
  store::WriteBatch batch;
  auto& r = batch.file_upserts.emplace_back();
  r.id.assign(t.id.begin(), t.id.end());
  r.peer.assign(t.peer.bytes().begin(), t.peer.bytes().end());
  r.direction = t.direction == files::Direction::in ? 1 : 0;
  r.name = t.name;
  r.media_type = t.media_type;
  r.size = t.size;
  r.chunk_size = t.chunk_size;
  r.sha256.assign(t.sha256.begin(), t.sha256.end());
  r.state = static_cast<int>(t.state);
  r.path = t.path;
  r.error = t.error;
  r.done_bytes = t.done_bytes;
  r.created_ms = t.created_ms;
  r.updated_ms = wall_now_ms();
  store_.submit(std::move(batch), nullptr);
}

double FileService::rate_bps(const TransferId& id) const {
  auto it = rates_.find(id);
  return it == rates_.end() ? 0 : it->second.bps;
}

void FileService::event(const Transfer& t, bool force) {
  auto& rate = rates_[t.id];
  if (rate.at_ms == 0) {
    rate.at_ms = now_;
    rate.bytes = t.done_bytes;
  } else if (now_ >= rate.at_ms + 200) {
    const double instant = static_cast<double>(t.done_bytes - std::min(t.done_bytes, rate.bytes)) * 1000.0 /
                           static_cast<double>(now_ - rate.at_ms);
    rate.bps = rate.bps == 0 ? instant : 0.6 * rate.bps + 0.4 * instant;
    rate.at_ms = now_;
    rate.bytes = t.done_bytes;
  }
  if (files::finished(t.state)) rate.bps = 0;
  if (!watcher_ || (!force && now_ < rate.last_event_ms + kEventEveryMs)) return;
  rate.last_event_ms = now_;
  watcher_(FileEvent{&t, rate.bps});
}

void FileService::run(TransferCore::Out& out) {
  for (auto& send : out.sends) {
    std::optional<TransferId> id;
    if (send.bytes.size() >= 17) {
      id.emplace();
      std::copy_n(send.bytes.begin() + 1, 16, id->begin());
    }
    const bool durable = send.durable;
    host_.send_file_message(send.peer, std::move(send.bytes), durable,
                            [this, alive = alive_, id, durable](std::error_code ec) {
                              if (!*alive || !ec || durable || !id) return;
                              TransferCore::Out again;
                              core_.on_send_failed(*id, now_, again);
                              run(again);
                            });
  }
  for (auto& read : out.reads) {
    on_worker([this, alive = alive_, read = std::move(read)] {
      auto chunk = files::read_chunk(read.id, read.path, read.offset, read.length);
      asio::post(strand_, [this, alive, read, chunk = std::move(chunk)]() mutable {
        if (!*alive) return;
        now_ = steady_now_ms();
        TransferCore::Out next;
        if (chunk) {
          core_.on_read(read.id, read.epoch, read.offset, std::move(*chunk), now_, next);
        } else {
          core_.on_read_failed(read.id, read.epoch, chunk.error(), now_, next);
        }
        run(next);
        if (auto* t = core_.find(read.id)) pump(t->peer);
      });
    });
  }
  for (auto& write : out.writes) {
    on_worker([this, alive = alive_, write = std::move(write), path = part_path(write.id)] {
      std::string error;
      const ByteView data(write.data.data() + write.data_at, write.data.size() - write.data_at);
      const auto outcome = write.hash_matches ? files::write_chunk(path, write.offset, data, error)
                                              : files::WriteOutcome::bad_hash;
      const auto length = static_cast<std::uint32_t>(data.size());
      asio::post(strand_, [this, alive, id = write.id, epoch = write.epoch, offset = write.offset, length,
                           outcome, error = std::move(error)] {
        if (!*alive) return;
        now_ = steady_now_ms();
        TransferCore::Out next;
        using R = TransferCore::WriteResult;
        const auto result = outcome == files::WriteOutcome::written    ? R::written
                            : outcome == files::WriteOutcome::bad_hash ? R::bad_hash
                                                                       : R::io_error;
        if (result == R::bad_hash)
          log_->warn("file transfer {}: the chunk at {} does not match its hash", files::to_hex(id), offset);
        if (result == R::io_error) log_->error("file transfer {}: {}", files::to_hex(id), error);
        core_.on_written(id, epoch, offset, length, result, error, now_, next);
        run(next);
      });
    });
  }
  for (const auto& id : out.prepare) {
    const auto* t = core_.find(id);
    if (!t) continue;
    const std::uint64_t keep = t->done_bytes;
    on_worker([this, alive = alive_, id, keep, path = part_path(id)] {
      auto ok = files::prepare_part(path, keep);
      if (ok) return;
      asio::post(strand_, [this, alive, id, error = ok.error()] {
        if (!*alive) return;
        TransferCore::Out next;
        core_.fail(id, "cannot write the file: " + error, now_, next);
        run(next);
      });
    });
  }
  for (const auto& id : out.verify) {
    const auto* t = core_.find(id);
    if (!t) continue;
    on_worker([this, alive = alive_, id, part = part_path(id), sha = t->sha256, dir = download_dir_,
               name = t->name] {
      auto final_path = files::verify_and_finalize(part, sha, dir, name);
      asio::post(strand_, [this, alive, id, final_path = std::move(final_path)] {
        if (!*alive) return;
        now_ = steady_now_ms();
        TransferCore::Out next;
        if (!final_path && final_path.error() != "mismatch") {
          core_.fail(id, "cannot finish the file: " + final_path.error(), now_, next);
        } else {
          core_.on_verified(id, final_path.has_value(), final_path ? final_path->string() : std::string(),
                            now_, next);
        }
        run(next);
      });
    });
  }
  for (const auto& id : out.discard) {
    on_worker([path = part_path(id)] {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    });
  }
  if (!out.forgotten.empty()) {
    store::WriteBatch batch;
    for (const auto& id : out.forgotten) {
      batch.file_deletes.emplace_back(id.begin(), id.end());
      rates_.erase(id);
    }
    store_.submit(std::move(batch), nullptr);
  }
  for (const auto& id : out.changed) {
    const auto* t = core_.find(id);
    if (!t) continue;
    persist(*t);
    if (files::finished(t->state))
      log_->info("file transfer {} ({} {} {}): {}{}", files::to_hex(id), files::to_string(t->direction),
                 t->name, t->size, files::to_string(t->state), t->error.empty() ? "" : ": " + t->error);
    event(*t, true);
  }
}

void FileService::pump(const PeerId& peer) {
  if (host_.file_link_backlog(peer) >= kPaceBacklogBytes) return;  // on_drained() comes back
  TransferCore::Out out;
  core_.pump(peer, now_, out);
  run(out);
}

void FileService::offer(const PeerId& to, std::filesystem::path path, std::string name,
                        std::string media_type,
                        std::function<void(std::expected<TransferId, std::string>)> done) {
  if (name.empty()) name = path.filename().string();
  if (auto ok = files::check_file_name(name); !ok) return done(std::unexpected(ok.error()));
  on_worker([this, alive = alive_, to, path, name, media_type, done] {
    struct stat st {};
    std::expected<std::pair<std::uint64_t, files::Sha256>, std::string> info;
    if (::stat(path.c_str(), &st) != 0) {
      info = std::unexpected("cannot read " + path.string() + ": " + std::strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
      info = std::unexpected(path.string() + " is not a regular file");
    } else if (auto hash = files::sha256_file(path); !hash) {
      info = std::unexpected("cannot read " + path.string() + ": " + hash.error());
    } else {
      info = std::pair{static_cast<std::uint64_t>(st.st_size), *hash};
    }
    asio::post(strand_, [this, alive, to, path, name, media_type, done, info = std::move(info)] {
      if (!*alive) return;
      if (!info) return done(std::unexpected(info.error()));
      TransferId id{};
      const auto random = MessageId::generate();
      std::copy(random.bytes.begin(), random.bytes.end(), id.begin());
      now_ = steady_now_ms();
      TransferCore::Out out;
      core_.offer(to, id, name, media_type, std::filesystem::absolute(path).string(), info->first,
                  info->second, wall_now_ms(), out);
      run(out);
      done(id);
    });
  });
}

std::error_code FileService::accept(const TransferId& id) {
  const auto* t = core_.find(id);
  if (t && t->direction == files::Direction::in && t->state == files::TransferState::offered) {
    const auto free =
        files::free_bytes(download_dir_.has_parent_path() ? download_dir_.parent_path() : download_dir_);
    if (free != 0 && free < t->size) {
      TransferCore::Out out;
      core_.decline(id,
                    "not enough disk space (" + std::to_string(t->size) + " bytes needed, " +
                        std::to_string(free) + " free)",
                    now_, out);
      run(out);
      return make_error_code(Errc::too_large);
    }
  }
  TransferCore::Out out;
  auto ec = core_.accept(id, now_, out);
  run(out);
  return ec;
}

std::error_code FileService::decline(const TransferId& id, const std::string& reason) {
  TransferCore::Out out;
  auto ec = core_.decline(id, reason, now_, out);
  run(out);
  return ec;
}

std::error_code FileService::cancel(const TransferId& id, const std::string& reason) {
  TransferCore::Out out;
  auto ec = core_.cancel(id, reason, now_, out);
  run(out);
  return ec;
}

void FileService::on_message(const PeerId& from, ByteView payload) {
  now_ = steady_now_ms();
  auto message = files::decode_file_message(payload);
  if (!message) {
    log_->warn("a malformed file message from {} ({} bytes): dropped", from.to_string(), payload.size());
    return;
  }
  TransferCore::Out out;
  core_.on_message(from, *message, now_, out);
  run(out);
  if (message->kind == files::FileMessageKind::progress) pump(from);
  if (message->kind == files::FileMessageKind::chunk)
    if (const auto* t = core_.find(message->id)) event(*t, false);
}

void FileService::on_session(const PeerId& peer, bool up) {
  now_ = steady_now_ms();
  TransferCore::Out out;
  core_.on_session(peer, up, now_, out);
  run(out);
  if (up) pump(peer);
}

void FileService::on_drained(const PeerId& peer) {
  pump(peer);
}

void FileService::tick(std::uint64_t) {
  now_ = steady_now_ms();
  TransferCore::Out out;
  core_.tick(now_, out);
  run(out);
  for (const auto& [id, t] : core_.transfers())
    if (t.state == files::TransferState::active) event(t, false);
}

}  // namespace hyphae
