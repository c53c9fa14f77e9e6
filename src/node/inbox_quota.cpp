// Node::Impl's inbox bounds: the quotas (max_inbox_per_peer, max_inbox_messages) on committed
// messages the app has not acknowledged, counted by sender, strangers together; and the memory held
// by received messages waiting for their commit (max_uncommitted_inbound_bytes), which pauses
// reading from the sessions that fill it. See docs/security.md.
#include <algorithm>

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

void Node::Impl::hold_inbound(TransportIndex transport, const PeerId& peer, std::size_t bytes) {
  uncommitted_bytes += bytes;
  uncommitted_peak_bytes = std::max(uncommitted_peak_bytes, uncommitted_bytes);
  const std::size_t mine = uncommitted_by_peer[peer] += bytes;
  const std::size_t cap = config.max_uncommitted_inbound_bytes;
  if (!transport || (mine <= cap / 4 && uncommitted_bytes <= cap)) return;
  // Asked every time, not only the first: the session may have been replaced since.
  slot(transport).transport->pause_receiving(peer, true);
  const std::pair<TransportIndex, PeerId> key{transport, peer};
  if (std::find(receive_paused.begin(), receive_paused.end(), key) != receive_paused.end()) return;
  receive_paused.push_back(key);
  ++counters.receive_pauses;
  log->debug(
      "not reading from {} over {} until the store catches up ({} bytes of its messages wait, {} in all)",
      peer.to_string(), slot(transport).name, mine, uncommitted_bytes);
}

void Node::Impl::release_inbound(const PeerId& peer, std::size_t bytes) {
  uncommitted_bytes -= std::min(uncommitted_bytes, bytes);
  if (auto it = uncommitted_by_peer.find(peer); it != uncommitted_by_peer.end()) {
    it->second -= std::min(it->second, bytes);
    if (it->second == 0) uncommitted_by_peer.erase(it);
  }
  if (receive_paused.empty()) return;
  // Hysteresis: a paused session resumes once its share and the total are down to half.
  const std::size_t cap = config.max_uncommitted_inbound_bytes;
  if (uncommitted_bytes > cap / 2) return;
  std::erase_if(receive_paused, [&](const std::pair<TransportIndex, PeerId>& paused) {
    auto it = uncommitted_by_peer.find(paused.second);
    if (it != uncommitted_by_peer.end() && it->second > cap / 8) return false;
    slot(paused.first).transport->pause_receiving(paused.second, false);
    return true;
  });
}

void Node::Impl::app_acked(const MessageId& id) {
  uncount_unacked(id);
  ++app_acks_uncommitted[id];
  store::WriteBatch batch;
  batch.inbox_app_acks.push_back(id.bytes);
  stage_lazily(std::move(batch));
}

}  // namespace hyphae
