// FileService: the node's file transfers. It runs the TransferCore (files/transfer_core.hpp) on the
// node's strand and does its file work (chunk reads and writes, hashing, finalizing) on a worker
// thread of its own, so a large file never stalls the node. It persists each transfer in the store,
// sends the messages through its host (the node), paces chunks by the link's unsent bytes so other
// traffic overtakes a transfer, and tells watchers (the API's event stream) about progress.
// Thread-safety: every member runs on the node's strand; worker results are posted back to it.
// Ownership: owned by Node::Impl; the worker thread is joined in stop() and in the destructor.
#pragma once

#include <spdlog/logger.h>

#include <boost/asio/any_io_executor.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <system_error>

#include "files/transfer_core.hpp"
#include "store/store.hpp"

namespace boost::asio {
class thread_pool;
}

namespace hyphae {

// What the service needs from the node. Called on the strand.
class FileHost {
 public:
  virtual ~FileHost() = default;
  // A durable or an ephemeral (low priority) message of the file type to `to`; `done` gets the outcome
  // of handing it over (an ephemeral send without a session fails at once).
  virtual void send_file_message(const PeerId& to, Bytes payload, bool durable,
                                 std::function<void(std::error_code)> done) = 0;
  // Bytes queued on the link to `peer` and not yet written (0 without a link).
  virtual std::size_t file_link_backlog(const PeerId& peer) const = 0;
};

struct FileEvent {
  const files::Transfer* transfer;  // valid during the call
  double rate_bps = 0;              // recent bytes per second
};

class FileService {
 public:
  FileService(boost::asio::any_io_executor strand, FileHost& host, store::Store& store, PeerId self,
              std::filesystem::path download_dir, files::TransferLimits limits,
              std::shared_ptr<spdlog::logger> log);
  ~FileService();

  // Loads the transfers from the store and resumes the unfinished ones.
  void start(std::uint64_t now);
  void stop();

  // Offers the file at `path` to `to` (its size and SHA-256 are read first, on the worker). `done`
  // gets the transfer id or why not (not_found, invalid_argument for a bad name or a directory...).
  void offer(const PeerId& to, std::filesystem::path path, std::string name, std::string media_type,
             std::function<void(std::expected<files::TransferId, std::string>)> done);
  std::error_code accept(const files::TransferId& id);
  std::error_code decline(const files::TransferId& id, const std::string& reason);
  std::error_code cancel(const files::TransferId& id, const std::string& reason);

  // A file message from `from` (envelope type files::kFileMessageType).
  void on_message(const PeerId& from, ByteView payload);
  void on_session(const PeerId& peer, bool up);
  void on_drained(const PeerId& peer);
  void tick(std::uint64_t now);

  const files::TransferCore& core() const { return core_; }
  double rate_bps(const files::TransferId& id) const;
  const std::filesystem::path& download_dir() const { return download_dir_; }
  // Progress and state changes, at most ~4 a second per transfer while bytes move.
  void on_event(std::function<void(const FileEvent&)> watcher) { watcher_ = std::move(watcher); }

 private:
  struct Rate {
    std::uint64_t bytes = 0, at_ms = 0, last_event_ms = 0;
    double bps = 0;
  };
  void run(files::TransferCore::Out& out);
  void persist(const files::Transfer& t);
  std::filesystem::path part_path(const files::TransferId& id) const;
  template <typename F>
  void on_worker(F work);
  void pump(const PeerId& peer);
  void event(const files::Transfer& t, bool force);

  boost::asio::any_io_executor strand_;
  FileHost& host_;
  store::Store& store_;
  std::filesystem::path download_dir_;
  files::TransferCore core_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<boost::asio::thread_pool> worker_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::function<void(const FileEvent&)> watcher_;
  std::map<files::TransferId, Rate> rates_;
  std::uint64_t now_ = 0;
};

}  // namespace hyphae
