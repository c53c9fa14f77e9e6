// DiscoveryChain: the timeline of steps that look for a peer.
#include "discovery/discovery_chain.hpp"

#include <algorithm>

namespace hyphae::discovery {

std::string_view to_string(PeerState state) {
  switch (state) {
    case PeerState::disconnected:
      return "DISCONNECTED";
    case PeerState::discovering:
      return "DISCOVERING";
    case PeerState::signaling:
      return "SIGNALING";
    case PeerState::connecting:
      return "CONNECTING";
    case PeerState::connected:
      return "CONNECTED";
    case PeerState::failed:
      return "FAILED";
    case PeerState::store_and_forward:
      return "STORE_AND_FORWARD";
  }
  return "DISCONNECTED";
}

std::string_view to_string(Step step) {
  switch (step) {
    case Step::live_session:
      return "live_session";
    case Step::cache:
      return "cache";
    case Step::peer_query:
      return "peer_query";
    case Step::coordinators:
      return "coordinators";
    case Step::registry:
      return "registry";
    case Step::store_and_forward:
      return "store_and_forward";
  }
  return "live_session";
}

namespace {
bool searching(PeerState s) {
  return s == PeerState::discovering || s == PeerState::signaling || s == PeerState::connecting;
}
}  // namespace

DiscoveryChain::DiscoveryChain(const Clock& clock, ChainOptions options) : clock_(clock), options_(options) {}

Search& DiscoveryChain::state_of(const PeerId& peer) {
  if (auto it = searches_.find(peer); it != searches_.end()) return it->second;
  // Past the bound, the oldest finished searches are forgotten; running ones are kept (they are
  // bounded by max_searches themselves).
  for (std::size_t looked = 0; searches_.size() >= options_.max_remembered && looked < order_.size();
       ++looked) {
    const PeerId oldest = order_.front();
    order_.pop_front();
    auto it = searches_.find(oldest);
    if (it != searches_.end() && searching(it->second.state)) {
      order_.push_back(oldest);
      continue;
    }
    searches_.erase(oldest);
  }
  order_.push_back(peer);
  return searches_[peer];
}

std::size_t DiscoveryChain::running() const {
  std::size_t n = 0;
  for (const auto& [peer, s] : searches_)
    if (searching(s.state)) ++n;
  return n;
}

bool DiscoveryChain::running_for(const PeerId& peer) const {
  auto it = searches_.find(peer);
  return it != searches_.end() && searching(it->second.state);
}

const Search* DiscoveryChain::search(const PeerId& peer) const {
  auto it = searches_.find(peer);
  return it == searches_.end() ? nullptr : &it->second;
}

bool DiscoveryChain::step_started(const Search& s, Step step) const {
  for (const auto& r : s.steps)
    if (r.step == step) return true;
  return false;
}

StepRecord* DiscoveryChain::record_of(Search& s, Step step) {
  for (auto& r : s.steps)
    if (r.step == step) return &r;
  return nullptr;
}

void DiscoveryChain::start_step(const PeerId& peer, Search& s, Step step, std::vector<Action>& out) {
  if (step == Step::store_and_forward) return give_up(peer, s, out);
  s.steps.push_back(StepRecord{step, clock_.monotonic_ms(), 0, {}});
  out.push_back(Action{step, peer});
}

void DiscoveryChain::give_up(const PeerId& peer, Search& s, std::vector<Action>& out) {
  const auto now = clock_.monotonic_ms();
  for (auto& r : s.steps)
    if (!r.ended_ms) {
      r.ended_ms = now;
      r.outcome = "no answer in time";
    }
  s.steps.push_back(
      StepRecord{Step::store_and_forward, now, now, "no step found the peer: its messages wait"});
  s.state = PeerState::store_and_forward;
  out.push_back(Action{Step::store_and_forward, peer});
}

void DiscoveryChain::continue_after(const PeerId& peer, Search& s, std::vector<Action>& out) {
  for (std::size_t i = 0; i < kSteps; ++i) {
    const auto step = static_cast<Step>(i);
    if (step_started(s, step)) continue;
    if (step != Step::store_and_forward) return start_step(peer, s, step, out);
    // Only store-and-forward is left: give up early only when no step is still out.
    for (const auto& r : s.steps)
      if (!r.ended_ms) return;
    return give_up(peer, s, out);
  }
}

std::vector<DiscoveryChain::Action> DiscoveryChain::find(const PeerId& peer, bool* refused) {
  std::vector<Action> out;
  if (refused) *refused = false;
  auto it = searches_.find(peer);
  if (it != searches_.end() && (searching(it->second.state) || it->second.state == PeerState::connected))
    return out;
  if (running() >= options_.max_searches) {
    if (refused) *refused = true;
    state_of(peer).state = PeerState::failed;
    return out;
  }
  auto& s = state_of(peer);
  s = Search{};
  s.state = PeerState::discovering;
  s.started_ms = clock_.monotonic_ms();
  s.timeline_ms = s.started_ms;
  start_step(peer, s, Step::live_session, out);
  return out;
}

std::vector<DiscoveryChain::Action> DiscoveryChain::found(const PeerId& peer, Step step) {
  std::vector<Action> out;
  auto it = searches_.find(peer);
  if (it == searches_.end() || it->second.state != PeerState::discovering) return out;  // late or unasked
  auto& s = it->second;
  auto* r = record_of(s, step);
  if (!r || r->ended_ms) return out;
  const auto now = clock_.monotonic_ms();
  r->ended_ms = now;
  r->outcome = "found";
  s.found_by = step;
  s.state = step == Step::live_session ? PeerState::connected : PeerState::connecting;
  s.connecting_since_ms = now;
  for (auto& other : s.steps)
    if (!other.ended_ms) {
      other.ended_ms = now;
      other.outcome = "not needed";
    }
  return out;
}

std::vector<DiscoveryChain::Action> DiscoveryChain::empty(const PeerId& peer, Step step, std::string why) {
  std::vector<Action> out;
  auto it = searches_.find(peer);
  if (it == searches_.end() || it->second.state != PeerState::discovering) return out;
  auto& s = it->second;
  auto* r = record_of(s, step);
  if (!r || r->ended_ms) return out;
  r->ended_ms = clock_.monotonic_ms();
  r->outcome = std::move(why);
  continue_after(peer, s, out);
  return out;
}

void DiscoveryChain::signaling(const PeerId& peer) {
  auto it = searches_.find(peer);
  if (it != searches_.end() && it->second.state == PeerState::connecting)
    it->second.state = PeerState::signaling;
}

void DiscoveryChain::connected(const PeerId& peer) {
  auto& s = state_of(peer);
  const auto now = clock_.monotonic_ms();
  for (auto& r : s.steps)
    if (!r.ended_ms) {
      r.ended_ms = now;
      r.outcome = "not needed";
    }
  s.state = PeerState::connected;
}

std::vector<DiscoveryChain::Action> DiscoveryChain::connect_failed(const PeerId& peer, std::string why) {
  std::vector<Action> out;
  auto it = searches_.find(peer);
  if (it == searches_.end() ||
      (it->second.state != PeerState::connecting && it->second.state != PeerState::signaling))
    return out;
  auto& s = it->second;
  if (s.found_by)
    if (auto* r = record_of(s, *s.found_by)) r->outcome = "found; connecting failed: " + why;
  s.found_by.reset();
  s.state = PeerState::discovering;
  const auto now = clock_.monotonic_ms();
  for (std::size_t i = 0; i < kSteps; ++i)
    if (!step_started(s, static_cast<Step>(i))) {
      s.timeline_ms = now - std::min(now, options_.start_by_ms[i]);  // the next step is due now
      break;
    }
  continue_after(peer, s, out);
  return out;
}

void DiscoveryChain::disconnected(const PeerId& peer) {
  auto it = searches_.find(peer);
  if (it != searches_.end() && it->second.state == PeerState::connected)
    it->second.state = PeerState::disconnected;
}

std::vector<DiscoveryChain::Action> DiscoveryChain::advance() {
  std::vector<Action> out;
  const auto now = clock_.monotonic_ms();
  for (auto& [peer, s] : searches_) {
    if ((s.state == PeerState::connecting || s.state == PeerState::signaling) &&
        now >= s.connecting_since_ms + options_.connect_timeout_ms) {
      auto more =
          connect_failed(peer, "no session within " + std::to_string(options_.connect_timeout_ms) + " ms");
      out.insert(out.end(), more.begin(), more.end());
    }
    if (s.state != PeerState::discovering) continue;
    for (std::size_t i = 0; i < kSteps && s.state == PeerState::discovering; ++i) {
      const auto step = static_cast<Step>(i);
      if (step_started(s, step) || now < s.timeline_ms + options_.start_by_ms[i]) continue;
      start_step(peer, s, step, out);
    }
  }
  return out;
}

std::optional<std::uint64_t> DiscoveryChain::next_due_ms() const {
  std::optional<std::uint64_t> due;
  const auto consider = [&due](std::uint64_t at) {
    if (!due || at < *due) due = at;
  };
  for (const auto& [peer, s] : searches_) {
    if (s.state == PeerState::connecting || s.state == PeerState::signaling)
      consider(s.connecting_since_ms + options_.connect_timeout_ms);
    if (s.state != PeerState::discovering) continue;
    for (std::size_t i = 0; i < kSteps; ++i)
      if (!step_started(s, static_cast<Step>(i))) {
        consider(s.timeline_ms + options_.start_by_ms[i]);
        break;
      }
  }
  return due;
}

}  // namespace hyphae::discovery
