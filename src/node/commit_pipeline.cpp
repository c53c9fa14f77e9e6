// Node::Impl's commit pipeline: writes are staged in chunks of at most kMaxStagedRows rows, two
// chunks at a time are with the store (one committing, the next queued), app acks ride along with
// the next commit (stage_lazily), and each commit's callbacks run back on the strand.
#include <boost/asio/post.hpp>

#include "node/node_impl.hpp"

namespace hyphae {

namespace asio = boost::asio;

namespace {
// The longest an app ack waits for a commit to ride along with (stage_lazily()).
constexpr int kLazyCommitMs = 5;
// Store submissions a node keeps in flight (see StagedChunk).
constexpr int kMaxCommitsInFlight = 2;
// Rows staged for one store submission before a new one starts (see stage()).
constexpr std::size_t kMaxStagedRows = 2048;
}  // namespace

void Node::Impl::stage(store::WriteBatch batch, std::function<void(std::error_code)> on_commit) {
  assert_on_strand();
  auto& chunk = chunk_for(batch.size());
  chunk.batch.merge(std::move(batch));
  chunk.urgent = true;
  if (on_commit) chunk.callbacks.push_back(std::move(on_commit));
  if (commit_scheduled || commits_in_flight >= kMaxCommitsInFlight) return;
  commit_scheduled = true;
  // Commit after the current burst of handlers, so one transaction carries many messages.
  asio::post(strand, [self = shared_from_this()] { self->commit_staged(); });
}

Node::Impl::StagedChunk& Node::Impl::chunk_for(std::size_t rows) {
  if (staged_chunks.empty() ||
      (!staged_chunks.back().batch.empty() && staged_chunks.back().batch.size() + rows > kMaxStagedRows))
    staged_chunks.emplace_back();
  return staged_chunks.back();
}

void Node::Impl::stage_lazily(store::WriteBatch batch) {
  chunk_for(batch.size()).batch.merge(std::move(batch));
  if (commit_scheduled || commits_in_flight > 0) return;
  arm_lazy_commit();
}

void Node::Impl::arm_lazy_commit() {
  if (lazy_commit_armed) return;
  lazy_commit_armed = true;
  lazy_commit_timer.expires_after(std::chrono::milliseconds(kLazyCommitMs));
  lazy_commit_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    self->lazy_commit_armed = false;
    if (!ec && !self->commit_scheduled && self->commits_in_flight == 0) self->commit_staged();
  });
}

void Node::Impl::stage_inbound(PendingInbound pending) {
  auto& chunk = chunk_for(0);
  chunk.inbound.push_back(std::move(pending));
  chunk.urgent = true;
}

bool Node::Impl::has_urgent_chunk() const {
  return std::any_of(staged_chunks.begin(), staged_chunks.end(),
                     [](const StagedChunk& c) { return c.urgent; });
}

void Node::Impl::commit_staged(bool force) {
  commit_scheduled = false;
  while (!staged_chunks.empty() && (force || commits_in_flight < kMaxCommitsInFlight)) {
    auto chunk = std::move(staged_chunks.front());
    staged_chunks.pop_front();
    if (chunk.batch.empty() && chunk.callbacks.empty() && chunk.inbound.empty()) continue;
    submit_chunk(std::move(chunk));
  }
}

void Node::Impl::submit_chunk(StagedChunk chunk) {
  // An ack that came back while this chunk waited makes its envelope unnecessary on disk: the
  // message is written as delivered directly (the delivered update that follows is a no-op).
  for (auto& row : chunk.batch.outbox_inserts) {
    MessageId id;
    id.bytes = row.id;
    auto* m = delivery.find(id);
    if (m && m->state == store::OutboxState::delivered) {
      row.state = store::OutboxState::delivered;
      if (m->via) row.transport = transports[m->via.index()].name;
      row.transport_reason = transport_reason_of(*m);
      row.attempts = m->attempts;
      m->stored_attempts = m->attempts;
      row.updated_ms = m->updated_ms;
      row.envelope = Bytes{};
    }
  }
  if (!chunk.batch.inbox_app_acks.empty()) {
    // Once committed (or failed) the store's view of these acks is the truth again.
    std::weak_ptr<Impl> weak_self = shared_from_this();
    chunk.callbacks.push_back([weak_self, acks = chunk.batch.inbox_app_acks](std::error_code) {
      auto self = weak_self.lock();
      if (!self) return;
      for (const auto& bytes : acks) {
        MessageId id;
        id.bytes = bytes;
        if (auto it = self->app_acks_uncommitted.find(id);
            it != self->app_acks_uncommitted.end() && --it->second == 0)
          self->app_acks_uncommitted.erase(it);
      }
    });
  }
  if (!chunk.inbound.empty()) {
    std::weak_ptr<Impl> weak_self = shared_from_this();
    chunk.callbacks.push_back([weak_self, inbound = std::move(chunk.inbound)](std::error_code ec) mutable {
      if (auto self = weak_self.lock()) self->on_inbound_committed(std::move(inbound), ec);
    });
  }
  ++commits_in_flight;
  std::weak_ptr<Impl> weak = shared_from_this();
  auto executor = strand;
  store->submit(std::move(chunk.batch),
                [weak, executor, callbacks = std::move(chunk.callbacks)](std::error_code ec) mutable {
                  asio::post(executor, [weak, ec, callbacks = std::move(callbacks)] {
                    auto self = weak.lock();
                    if (!self) return;
                    --self->commits_in_flight;
                    for (auto& cb : callbacks) cb(ec);
                    // Lazily staged rows alone wait for the next commit or the lazy timer.
                    if (self->commit_scheduled) return;
                    if (self->has_urgent_chunk()) {
                      self->commit_staged();
                    } else if (!self->staged_chunks.empty() && !self->staged_chunks.front().batch.empty() &&
                               self->commits_in_flight == 0) {
                      self->arm_lazy_commit();
                    }
                  });
                });
}

}  // namespace hyphae
