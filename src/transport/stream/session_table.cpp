// SessionTable: dial scheduling, duplicate-link resolution and forgetting, for stream transports.
#include "transport/stream/session_table.hpp"

#include <algorithm>

namespace hyphae::stream {

void SessionTable::add_addresses(const PeerId& peer, const std::vector<std::string>& addresses) {
  auto& state = peers_[peer];
  for (const auto& a : addresses)
    if (std::find(state.addresses.begin(), state.addresses.end(), a) == state.addresses.end())
      state.addresses.push_back(a);
}

std::vector<std::string> SessionTable::addresses(const PeerId& peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? std::vector<std::string>{} : it->second.addresses;
}

std::optional<SessionTable::Dial> SessionTable::start_dial(const PeerId& peer, PeerState& state) {
  if (state.addresses.empty() || state.dialing || state.link) return std::nullopt;
  state.dialing = true;
  // Successive attempts rotate through the known addresses.
  Dial dial{peer, state.addresses.front()};
  std::rotate(state.addresses.begin(), state.addresses.begin() + 1, state.addresses.end());
  return dial;
}

std::vector<SessionTable::Dial> SessionTable::due(std::uint64_t now,
                                                  const std::function<bool(const PeerId&)>& wanted) {
  std::vector<Dial> out;
  for (auto& [peer, state] : peers_) {
    if (state.link || state.dialing || state.addresses.empty() || now < state.next_dial_ms) continue;
    if (wanted && !wanted(peer)) continue;
    if (auto dial = start_dial(peer, state)) out.push_back(std::move(*dial));
  }
  return out;
}

std::optional<SessionTable::Dial> SessionTable::dial_now(const PeerId& peer) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return std::nullopt;
  it->second.next_dial_ms = 0;
  it->second.backoff_ms = 0;
  return start_dial(peer, it->second);
}

void SessionTable::back_off(PeerState& state, std::uint64_t now) {
  // The first retry waits the current backoff (none after a link that was up: it is redialed at
  // once); each failure doubles it, within [reconnect_min_ms, reconnect_max_ms].
  state.next_dial_ms = now + state.backoff_ms;
  state.backoff_ms = next_backoff(state.backoff_ms);
}

std::uint64_t SessionTable::next_backoff(std::uint64_t current) const {
  return std::min(std::max(current * 2, options_.reconnect_min_ms), options_.reconnect_max_ms);
}

void SessionTable::dial_failed(const PeerId& peer, std::uint64_t now) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  auto& state = it->second;
  state.dialing = false;
  // A failed connect waits at least the minimum before the next attempt.
  state.backoff_ms = next_backoff(state.backoff_ms);
  state.next_dial_ms = now + state.backoff_ms;
}

SessionTable::Up SessionTable::link_up(const PeerId& self, const PeerId& remote, LinkId id, bool initiator) {
  auto& state = peers_[remote];
  Up up{Verdict::keep};
  if (state.link && *state.link != id) {
    // Both sides dialed: keep the link dialed by the smaller PeerId, so both ends choose the same
    // one. Two links dialed by the same side: the newer one wins (the old one is stale).
    const PeerId& new_dialer = initiator ? self : remote;
    const PeerId& old_dialer = state.link_initiator ? self : remote;
    if (!(new_dialer < old_dialer) && !(new_dialer == old_dialer)) return Up{Verdict::duplicate};
    up = Up{Verdict::keep_replacing, *state.link};
  }
  state.link = id;
  state.link_initiator = initiator;
  state.dialing = false;
  state.backoff_ms = 0;
  return up;
}

SessionTable::Down SessionTable::link_down(const PeerId& peer, LinkId id, bool initiator, bool idle,
                                           std::uint64_t now) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return {};
  auto& state = it->second;
  Down down;
  if (initiator) state.dialing = false;
  down.was_current = state.link && *state.link == id;
  if (down.was_current) state.link.reset();
  if (!state.link && idle) {
    // Closed for idleness: nothing to resend, and the next message dials at once.
    state.backoff_ms = 0;
    state.next_dial_ms = 0;
  } else if (!state.link) {
    back_off(state, now);
  }
  // A peer we have no address for (it dialed us) is forgotten with its last link: fresh identities
  // must not add entries for ever.
  if (!state.link && !state.dialing && state.addresses.empty()) peers_.erase(it);
  return down;
}

std::optional<SessionTable::LinkId> SessionTable::current(const PeerId& peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? std::nullopt : it->second.link;
}

bool SessionTable::dialing(const PeerId& peer) const {
  auto it = peers_.find(peer);
  return it != peers_.end() && it->second.dialing;
}

std::uint64_t SessionTable::next_dial_at(const PeerId& peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.next_dial_ms;
}

}  // namespace hyphae::stream
