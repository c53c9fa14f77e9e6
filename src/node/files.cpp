// Node: file transfers (node/file_service.hpp). File messages are envelopes of the reserved type
// files::kFileMessageType: the node hands them to the service instead of the app, and the service
// sends its own through the ordinary send paths (durable for offers and outcomes, ephemeral at LOW
// priority for chunks and progress).
#include "core/error.hpp"
#include "files/file_messages.hpp"
#include "node/node_impl.hpp"
#include "node/sealing.hpp"

namespace hyphae {

void Node::Impl::start_files() {
  auto dir = config.download_dir.empty() ? config.data_dir / "downloads" : config.download_dir;
  files = std::make_unique<FileService>(strand, static_cast<FileHost&>(*this), *store, identity.peer_id(),
                                        dir, config.file_limits, log);
  files->start(clock->wall_ms());
  replay_file_messages();
}

void Node::Impl::replay_file_messages() {
  for_each_unacked_inbox([&](Envelope& env) {
    if (env.type != files::kFileMessageType) return;
    files->on_message(env.from, env.payload);
    app_acked(env.id);
  });
}

void Node::Impl::send_file_message(const PeerId& to, Bytes payload, bool durable,
                                   std::function<void(std::error_code)> done) {
  SendOptions options;
  options.type = files::kFileMessageType;
  options.ephemeral = !durable;
  options.priority = durable ? Priority::normal : Priority::low;
  if (durable) {
    std::vector<Bytes> one;
    one.push_back(std::move(payload));
    send_many(to, std::move(one), options,
              [done = std::move(done)](std::expected<std::vector<MessageId>, std::error_code> r) {
                if (done) done(r ? std::error_code{} : r.error());
              });
    return;
  }
  send_ephemeral(to, std::move(payload), options,
                 [done = std::move(done)](std::expected<MessageId, std::error_code> r) {
                   if (done) done(r ? std::error_code{} : r.error());
                 });
}

std::size_t Node::Impl::file_link_backlog(const PeerId& peer) const {
  auto ps = peers.find(peer);
  if (ps == peers.end() || ps->second.sessions.empty()) return 0;
  std::size_t most = 0;
  for (std::size_t i = 0; i < transports.size(); ++i)
    if (ps->second.sessions.contains(TransportIndex(i)))
      most = std::max(most, transports[i].transport->backlog(peer));
  return most;
}

// ---- the public face (node.hpp)

void Node::offer_file(const PeerId& to, std::filesystem::path path, std::string name, std::string media_type,
                      std::function<void(std::expected<files::TransferId, std::string>)> done) {
  impl_->assert_on_strand();
  if (to == impl_->identity.peer_id())
    return done(std::unexpected("a file cannot be sent to this node itself"));
  impl_->files->offer(to, std::move(path), std::move(name), std::move(media_type), std::move(done));
}

std::error_code Node::accept_file(const files::TransferId& id) {
  return impl_->files->accept(id);
}
std::error_code Node::decline_file(const files::TransferId& id, const std::string& reason) {
  return impl_->files->decline(id, reason);
}
std::error_code Node::cancel_file(const files::TransferId& id, const std::string& reason) {
  return impl_->files->cancel(id, reason);
}

std::vector<FileTransferView> Node::file_transfers() const {
  std::vector<FileTransferView> out;
  for (const auto& [id, t] : impl_->files->core().transfers())
    out.push_back(FileTransferView{&t, impl_->files->rate_bps(id)});
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.transfer->created_ms < b.transfer->created_ms; });
  return out;
}

std::optional<FileTransferView> Node::file_transfer(const files::TransferId& id) const {
  const auto* t = impl_->files->core().find(id);
  if (!t) return std::nullopt;
  return FileTransferView{t, impl_->files->rate_bps(id)};
}

const files::TransferCounters& Node::file_counters() const {
  return impl_->files->core().counters();
}

std::filesystem::path Node::download_dir() const {
  return impl_->files->download_dir();
}

void Node::on_file_event(std::function<void(const FileTransferView&)> watcher) {
  if (!watcher) return impl_->files->on_event(nullptr);
  impl_->files->on_event([watcher = std::move(watcher)](const FileEvent& e) {
    watcher(FileTransferView{e.transfer, e.rate_bps});
  });
}

}  // namespace hyphae
