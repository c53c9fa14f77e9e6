#include "betanet/mix/mix_core.hpp"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace hyphae::mix {

using namespace hyphae::sphinx;

MixCore::Key::~Key() {
  sodium_memzero(secret.data(), secret.size());
}

MixCore::MixCore(NodeId self, MixOptions options, std::uint64_t rng_seed)
    : self_(self), options_(options), rng_(rng_seed) {}

MixCore::~MixCore() = default;

void MixCore::add_key(std::uint64_t epoch, const SecretKey& secret) {
  keys_[epoch].secret = secret;
}

void MixCore::set_epoch(std::uint64_t epoch) {
  epoch_ = epoch;
  for (auto it = keys_.begin(); it != keys_.end();) {
    if (it->first + 1 < epoch) {
      it = keys_.erase(it);  // ~Key wipes the secret; the replay cache goes with it
      ++counters_.keys_retired;
    } else {
      ++it;
    }
  }
}

std::size_t MixCore::replay_tags(std::uint64_t epoch) const {
  auto it = keys_.find(epoch);
  return it == keys_.end() ? 0 : it->second.seen.size();
}

std::uint64_t MixCore::delay_ms() {
  if (options_.mean_delay_ms <= 0) return 0;
  std::exponential_distribution<double> d(1.0 / options_.mean_delay_ms);
  return static_cast<std::uint64_t>(std::llround(d(rng_)));
}

std::uint64_t MixCore::next_gap_ms(double per_s) {
  std::exponential_distribution<double> d(per_s / 1000.0);
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::llround(d(rng_))));
}

void MixCore::hold(Outgoing out, std::uint64_t now_ms) {
  if (held_.size() >= options_.max_held) {
    ++counters_.held_full;
    return;
  }
  held_.push_back(Held{now_ms + delay_ms(), order_++, std::move(out)});
  std::push_heap(held_.begin(), held_.end(), std::greater<>());
}

void MixCore::on_packet(ByteView packet, std::uint64_t now_ms) {
  ++counters_.received;
  if (packet.size() != kPacketBytes) {
    ++counters_.malformed;
    return;
  }
  // The current key first, then the previous epoch's (packets in flight across the boundary), then
  // the next one's (a sender whose clock is ahead).
  const std::uint64_t order[3] = {epoch_, epoch_ - 1, epoch_ + 1};
  for (int i = 0; i < 3; ++i) {
    if (i == 1 && epoch_ == 0) continue;
    auto it = keys_.find(order[i]);
    if (it == keys_.end()) continue;
    auto u = unwrap(it->second.secret, packet);
    if (!u) {
      if (u.error() == SphinxError::bad_mac) continue;  // not this key's
      if (u.error() == SphinxError::tagged_payload)
        ++counters_.tagged;
      else
        ++counters_.malformed;
      return;
    }
    Key& key = it->second;
    Tag tag{};
    std::memcpy(&tag.a, u->replay_tag.data(), 8);
    std::memcpy(&tag.b, u->replay_tag.data() + 8, 8);
    if (key.seen.contains(tag)) {
      ++counters_.replays;
      return;
    }
    if (key.seen.size() >= options_.max_replay_tags) {
      ++counters_.replay_cache_full;
      return;
    }
    key.seen.insert(tag);
    if (i == 1) ++counters_.previous_key_used;
    if (u->forward) {
      hold(Outgoing{u->next_hop, std::move(u->packet), false}, now_ms);
      return;
    }
    const auto starts_with = [&](std::string_view marker) {
      return u->body.size() >= marker.size() &&
             std::memcmp(u->body.data(), marker.data(), marker.size()) == 0;
    };
    if (u->recipient == self_ && !u->surb && starts_with(kLoopCoverMarker)) {
      ++counters_.loops_returned;
    } else if (u->recipient == self_ && !u->surb && starts_with(kDropCoverMarker)) {
      ++counters_.drops_received;
    } else {
      ++counters_.not_for_a_mix;  // a mix is no one's recipient
    }
    return;
  }
  ++counters_.bad_mac;
}

Bytes cover_body(CoverKind kind) {
  Bytes body(64);
  const auto marker = kind == CoverKind::loop ? kLoopCoverMarker : kDropCoverMarker;
  std::copy(marker.begin(), marker.end(), body.begin());
  randombytes_buf(body.data() + marker.size(), body.size() - marker.size());
  return body;
}

void MixCore::make_cover(CoverKind kind, const CoverRoute& route, std::uint64_t, std::vector<Outgoing>& out) {
  auto hops = route ? route(kind) : std::nullopt;
  if (!hops || hops->empty()) return;
  Destination dest{hops->back().id, std::nullopt};
  auto packet = create_packet(*hops, dest, cover_body(kind));
  if (!packet) return;
  out.push_back(Outgoing{hops->front().id, std::move(*packet), true});
  ++(kind == CoverKind::loop ? counters_.loops_sent : counters_.drops_sent);
}

std::vector<Outgoing> MixCore::poll(std::uint64_t now_ms, const CoverRoute& route) {
  std::vector<Outgoing> out;
  while (!held_.empty() && held_.front().due_ms <= now_ms) {
    std::pop_heap(held_.begin(), held_.end(), std::greater<>());
    out.push_back(std::move(held_.back().out));
    held_.pop_back();
    ++counters_.forwarded;
  }
  auto cover = [&](double per_s, std::optional<std::uint64_t>& next, CoverKind kind) {
    if (per_s <= 0) {
      next.reset();
      return;
    }
    if (!next) next = now_ms + next_gap_ms(per_s);
    // After a long pause (a suspended process) send one, not a burst: the rate is what is seen.
    if (*next + 10'000 < now_ms) next = now_ms;
    while (*next <= now_ms) {
      make_cover(kind, route, now_ms, out);
      *next += next_gap_ms(per_s);
    }
  };
  cover(options_.loop_cover_per_s, next_loop_ms_, CoverKind::loop);
  cover(options_.drop_cover_per_s, next_drop_ms_, CoverKind::drop);
  return out;
}

std::optional<std::uint64_t> MixCore::next_wakeup() const {
  std::optional<std::uint64_t> at;
  auto consider = [&](std::optional<std::uint64_t> t) {
    if (t && (!at || *t < *at)) at = t;
  };
  if (!held_.empty()) consider(held_.front().due_ms);
  consider(next_loop_ms_);
  consider(next_drop_ms_);
  return at;
}

}  // namespace hyphae::mix
