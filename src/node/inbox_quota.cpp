// Node::Impl's inbox quotas (max_inbox_per_peer, max_inbox_messages): committed messages the app
// has not acknowledged, counted by sender, strangers together; see docs/security.md.
#include "node/node_impl.hpp"

namespace hyphae {

bool Node::Impl::inbox_has_room(const PeerId& from, bool stranger) const {
  if (inbox_unacked.size() >= config.max_inbox_messages) return false;
  if (stranger && inbox_unacked_strangers >= config.max_inbox_messages / 2) return false;
  auto it = inbox_unacked_by_peer.find(from);
  return it == inbox_unacked_by_peer.end() || it->second < config.max_inbox_per_peer;
}

void Node::Impl::count_unacked(const MessageId& id, const PeerId& from, bool stranger) {
  inbox_unacked.emplace(id, UnackedFrom{from, stranger});
  ++inbox_unacked_by_peer[from];
  if (stranger) ++inbox_unacked_strangers;
}

void Node::Impl::uncount_unacked(const MessageId& id, const PeerId* only_from) {
  auto [first, last] = inbox_unacked.equal_range(id);
  for (auto it = first; it != last;) {
    if (only_from && it->second.from != *only_from) {
      ++it;
      continue;
    }
    if (auto p = inbox_unacked_by_peer.find(it->second.from); p != inbox_unacked_by_peer.end())
      if (--p->second == 0) inbox_unacked_by_peer.erase(p);
    if (it->second.stranger) --inbox_unacked_strangers;
    it = inbox_unacked.erase(it);
  }
}

void Node::Impl::app_acked(const MessageId& id) {
  uncount_unacked(id);
  store::WriteBatch batch;
  batch.inbox_app_acks.push_back(id.bytes);
  stage_lazily(std::move(batch));
}

}  // namespace hyphae
