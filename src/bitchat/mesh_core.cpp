// BitChat relay core (see mesh_core.hpp).
#include "bitchat/mesh_core.hpp"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace hyphae::bitchat {

namespace {

bool is_type(const Packet& p, MessageType t) {
  return p.type == static_cast<std::uint8_t>(t);
}

// BLE pads only the Noise packet types; everything else goes at its natural length.
EncodeOptions wire_options(const Packet& p) {
  EncodeOptions o;
  o.pad = is_type(p, MessageType::noise_handshake) || is_type(p, MessageType::noise_encrypted);
  o.compress = true;
  return o;
}

std::uint64_t rank_of(const std::string& key, LinkId link) {
  const std::string text = key + "::" + std::to_string(link);
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> h;
  crypto_hash_sha256(h.data(), reinterpret_cast<const unsigned char*>(text.data()), text.size());
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | h[static_cast<std::size_t>(i)];
  return v;
}

}  // namespace

void MeshCore::Output::append(Output&& other) {
  for (auto& d : other.deliveries) deliveries.push_back(std::move(d));
  for (auto& s : other.sends) sends.push_back(std::move(s));
}

MeshCore::MeshCore(MeshOptions options) : options_(options), rng_(options.seed) {}

void MeshCore::link_up(LinkId link, std::optional<ShortId> neighbour) {
  links_[link] = neighbour;
}

void MeshCore::set_neighbour(LinkId link, ShortId neighbour) {
  if (auto it = links_.find(link); it != links_.end()) it->second = neighbour;
}

void MeshCore::set_neighbour_links(LinkId link, std::vector<ShortId> their_neighbours) {
  if (links_.contains(link)) two_hop_[link] = std::move(their_neighbours);
}

void MeshCore::link_down(LinkId link) {
  links_.erase(link);
  two_hop_.erase(link);
}

std::string MeshCore::dedupe_key(const Packet& p) {
  // The apps' key: sender, timestamp, type and the first 4 bytes of SHA-256 of the payload.
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> h;
  crypto_hash_sha256(h.data(), p.payload.data(), p.payload.size());
  std::string key(reinterpret_cast<const char*>(p.sender.data()), p.sender.size());
  for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>(p.timestamp_ms >> (8 * i)));
  key.push_back(static_cast<char>(p.type));
  key.append(reinterpret_cast<const char*>(h.data()), 4);
  return key;
}

MeshCore::Seen* MeshCore::find_seen(const std::string& key, std::uint64_t now_ms) {
  while (!dedupe_.order.empty()) {
    auto oldest = dedupe_.seen.find(dedupe_.order.front());
    if (dedupe_.order.size() <= options_.dedupe_entries &&
        oldest->second.at_ms + options_.dedupe_ttl_ms > now_ms)
      break;
    dedupe_.seen.erase(oldest);
    dedupe_.order.pop_front();
  }
  auto it = dedupe_.seen.find(key);
  return it == dedupe_.seen.end() ? nullptr : &it->second;
}

void MeshCore::remember(const std::string& key, std::uint8_t ttl, std::uint64_t now_ms) {
  dedupe_.order.push_back(key);
  dedupe_.seen.emplace(key, Seen{std::prev(dedupe_.order.end()), now_ms, ttl});
  if (dedupe_.order.size() > options_.dedupe_entries) {
    dedupe_.seen.erase(dedupe_.order.front());
    dedupe_.order.pop_front();
  }
}

bool MeshCore::take_token(Bucket& b, double rate, double burst, std::uint64_t now_ms) {
  if (!b.init) {
    b.tokens = burst;
    b.last_ms = now_ms;
    b.init = true;
  }
  b.tokens =
      std::min(burst, b.tokens + rate * static_cast<double>(now_ms - std::min(now_ms, b.last_ms)) / 1000.0);
  b.last_ms = now_ms;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

namespace {

std::uint64_t key_of(const ShortId& id) {
  std::uint64_t v = 0;
  for (auto b : id) v = v << 8 | b;
  return v;
}

}  // namespace

void MeshCore::index_bucket(std::uint64_t key, SenderBucket& sb) {
  const auto& b = sb.bucket;
  const double missing = std::max(0.0, options_.per_sender_burst - b.tokens);
  const double full_at = options_.per_sender_rate > 0
                             ? static_cast<double>(b.last_ms) + missing * 1000.0 / options_.per_sender_rate
                             : std::numeric_limits<double>::infinity();
  sb.by_full = buckets_by_full_.emplace(full_at, key);
}

bool MeshCore::charge(const ShortId& sender, std::uint64_t now_ms) {
  const auto key = key_of(sender);
  auto it = sender_buckets_.find(key);
  if (it == sender_buckets_.end()) {
    // Full buckets tell nothing a fresh one would not: forget them.
    while (!buckets_by_full_.empty() && buckets_by_full_.begin()->first <= static_cast<double>(now_ms)) {
      sender_buckets_.erase(buckets_by_full_.begin()->second);
      buckets_by_full_.erase(buckets_by_full_.begin());
    }
    // Still full: evict the fullest, which hands its sender the fewest tokens back.
    if (sender_buckets_.size() >= std::max<std::size_t>(1, options_.max_sender_buckets)) {
      sender_buckets_.erase(buckets_by_full_.begin()->second);
      buckets_by_full_.erase(buckets_by_full_.begin());
    }
    it = sender_buckets_.emplace(key, SenderBucket{}).first;
  } else {
    buckets_by_full_.erase(it->second.by_full);
  }
  const bool ok = take_token(it->second.bucket, options_.per_sender_rate, options_.per_sender_burst, now_ms);
  index_bucket(key, it->second);
  return ok && take_token(total_bucket_, options_.total_rate, options_.total_burst, now_ms);
}

std::uint64_t MeshCore::jitter_ms(const Packet& p) {
  if (!options_.jitter) return 0;
  auto between = [this](std::uint64_t lo, std::uint64_t hi) {
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng_);
  };
  if (!p.is_broadcast()) return is_type(p, MessageType::noise_handshake) ? between(10, 35) : between(20, 60);
  if (is_type(p, MessageType::fragment)) return between(8, 25);
  const auto d = links_.size();
  if (d <= 2) return between(10, 40);
  if (d <= 5) return between(60, 150);
  if (d <= 9) return between(80, 180);
  return between(100, 220);
}

std::vector<LinkId> MeshCore::targets(const Packet& p, std::optional<LinkId> ingress, const std::string& key,
                                      const std::vector<LinkId>& heard_from) {
  std::vector<LinkId> all;
  for (const auto& [link, neighbour] : links_)
    if (link != ingress) all.push_back(link);  // split horizon
  auto link_to = [&](const ShortId& peer) -> std::optional<LinkId> {
    for (const auto& [link, neighbour] : links_)
      if (neighbour && *neighbour == peer && link != ingress) return link;
    return std::nullopt;
  };
  if (!p.is_broadcast()) {
    // Source route (v2): the hop after this node, or the recipient after the last hop.
    if (!p.route.empty()) {
      auto self = std::find(p.route.begin(), p.route.end(), options_.self);
      const ShortId next = self == p.route.end()              ? p.route.front()
                           : std::next(self) == p.route.end() ? *p.recipient
                                                              : *std::next(self);
      if (auto l = link_to(next)) return {*l};
    }
    if (auto l = link_to(*p.recipient)) return {*l};
    return all;  // recipient not adjacent: flood towards it
  }
  // Coverage: a neighbour that sent us a copy has it, and so has each of its own neighbours (it
  // relayed to all of them, save those covered the same way, recursively back to the origin).
  if (options_.coverage_pruning && !heard_from.empty()) {
    const auto before = all.size();
    std::erase_if(all, [&](LinkId l) {
      if (std::find(heard_from.begin(), heard_from.end(), l) != heard_from.end()) return true;
      const auto& n = links_.at(l);
      if (!n) return false;
      for (auto h : heard_from) {
        auto two = two_hop_.find(h);
        if (two != two_hop_.end() &&
            std::find(two->second.begin(), two->second.end(), *n) != two->second.end())
          return true;
      }
      return false;
    });
    counters_.pruned += before - all.size();
  }
  const bool exempt = is_type(p, MessageType::fragment) || is_type(p, MessageType::announce) ||
                      is_type(p, MessageType::request_sync);
  if (!options_.subset_fanout || exempt || links_.size() < options_.subset_min_degree) return all;
  const auto k = static_cast<std::size_t>(std::ceil(std::log2(static_cast<double>(links_.size())))) + 1;
  if (all.size() <= k) return all;
  std::sort(all.begin(), all.end(), [&](LinkId a, LinkId b) { return rank_of(key, a) < rank_of(key, b); });
  all.resize(k);
  return all;
}

void MeshCore::fire(Pending& pending, std::uint64_t now_ms, Output& out) {
  auto links = targets(pending.packet, pending.ingress, pending.key, pending.heard_from);
  if (links.empty()) {
    if (!pending.packet.is_broadcast()) undeliverable_.push_back(pending.packet);
    return;
  }
  auto frame = encode(pending.packet, wire_options(pending.packet));
  if (!frame) return;
  for (auto l : links) out.sends.push_back(Send{l, *frame, now_ms});
  counters_.frames_sent += links.size();
}

MeshCore::Output MeshCore::relay(Packet p, LinkId ingress, const std::string& key, std::uint64_t now_ms) {
  Output out;
  if (is_type(p, MessageType::request_sync)) return out;  // link-local: never relayed
  std::uint8_t ttl = std::min<std::uint8_t>(p.ttl, kDefaultTtl);
  if (ttl <= 1) {
    ++counters_.dropped_ttl;
    return out;
  }
  if (p.is_broadcast() && options_.degree_ttl_caps) {  // iOS's broadcast TTL caps by degree
    const auto d = links_.size();
    std::uint8_t cap = d >= 6 ? 5 : d <= 2 ? ttl : (is_type(p, MessageType::announce) ? 7 : 6);
    ttl = std::min(ttl, std::max<std::uint8_t>(cap, 2));
  }
  p.ttl = static_cast<std::uint8_t>(ttl - 1);
  ++counters_.relayed;
  Pending pending{now_ms + jitter_ms(p), key, std::move(p), ingress, {ingress}, false};
  pending.cancellable = pending.packet.is_broadcast() && options_.cancel_after_copies > 0 &&
                        !is_type(pending.packet, MessageType::fragment) &&
                        !is_type(pending.packet, MessageType::announce);
  if (pending.at_ms <= now_ms) {
    fire(pending, now_ms, out);
    return out;
  }
  if (auto old = pending_at_.find(key); old != pending_at_.end()) {  // a TTL upgrade replaces it
    auto [first, last] = pending_.equal_range(old->second);
    for (auto it = first; it != last; ++it)
      if (it->second.key == key) {
        pending.heard_from.insert(pending.heard_from.end(), it->second.heard_from.begin(),
                                  it->second.heard_from.end());
        pending_.erase(it);
        break;
      }
  }
  pending_at_[key] = pending.at_ms;
  pending_.emplace(pending.at_ms, std::move(pending));
  return out;
}

MeshCore::Output MeshCore::on_frame(LinkId link, ByteView frame, std::uint64_t now_ms) {
  Output out;
  ++counters_.received;
  // A compressed payload is paid for before it is inflated: the sender's and the total bucket
  // take the frame first, copies included (a replayed frame must not buy free inflating; our
  // relays' traffic is ciphertext and fragments, which do not compress).
  bool charged = false;
  if (const auto head = peek_head(frame); head && head->compressed()) {
    if (head->sender == options_.self) {
      ++counters_.dropped_own;
      return out;
    }
    if (!charge(head->sender, now_ms)) {
      ++counters_.dropped_rate;
      return out;
    }
    charged = true;
    ++counters_.inflated;
  }
  auto decoded = decode(frame);
  if (!decoded) {
    ++counters_.dropped_malformed;
    return out;
  }
  Packet& p = *decoded;
  if (p.sender == options_.self) {
    ++counters_.dropped_own;
    return out;
  }
  const auto key = dedupe_key(p);
  if (Seen* seen = find_seen(key, now_ms)) {
    ++counters_.duplicates;
    if (auto at = pending_at_.find(key); at != pending_at_.end()) {
      auto [first, last] = pending_.equal_range(at->second);
      for (auto it = first; it != last; ++it) {
        if (it->second.key != key) continue;
        it->second.heard_from.push_back(link);
        // A copy with a higher TTL while ours waits: ours will reach as far as this one.
        if (options_.ttl_upgrade && p.ttl > seen->best_ttl) {
          seen->best_ttl = p.ttl;
          const auto ttl = std::min<std::uint8_t>(p.ttl, kDefaultTtl);
          if (ttl >= 1 && ttl - 1 > it->second.packet.ttl) {
            it->second.packet.ttl = static_cast<std::uint8_t>(ttl - 1);
            ++counters_.ttl_upgrades;
          }
        }
        if (it->second.cancellable &&
            static_cast<int>(it->second.heard_from.size()) > options_.cancel_after_copies) {
          pending_.erase(it);
          pending_at_.erase(at);
          ++counters_.cancelled;
        }
        break;
      }
      return out;
    }
    // Already relayed with a lower TTL: this copy reaches further, so it goes out again.
    const bool for_me = p.recipient && *p.recipient == options_.self;
    if (options_.ttl_upgrade && !for_me && p.ttl > seen->best_ttl && p.is_broadcast()) {
      seen->best_ttl = p.ttl;
      ++counters_.ttl_upgrades;
      out.append(relay(std::move(p), link, key, now_ms));
    }
    return out;
  }
  // The sender's own bucket first: a flooder exhausts its bucket, not everyone's.
  if (!charged && !charge(p.sender, now_ms)) {
    ++counters_.dropped_rate;
    return out;
  }
  remember(key, p.ttl, now_ms);
  const bool for_me = p.recipient && *p.recipient == options_.self;
  if (p.is_broadcast() || for_me) {
    ++counters_.delivered;
    out.deliveries.push_back(Delivery{p, link});
  }
  if (!for_me) out.append(relay(std::move(p), link, key, now_ms));
  return out;
}

MeshCore::Output MeshCore::originate(const Packet& packet, std::uint64_t now_ms) {
  Output out;
  const auto key = dedupe_key(packet);
  if (!find_seen(key, now_ms)) remember(key, packet.ttl, now_ms);  // our own packet coming back
  std::vector<LinkId> links;
  if (packet.is_broadcast()) {
    for (const auto& [link, neighbour] : links_) links.push_back(link);
  } else {
    links = targets(packet, std::nullopt, key, {});
    if (links.empty()) undeliverable_.push_back(packet);
  }
  auto frame = encode(packet, wire_options(packet));
  if (!frame) return out;
  for (auto l : links) out.sends.push_back(Send{l, *frame, now_ms});
  counters_.frames_sent += links.size();
  return out;
}

MeshCore::Output MeshCore::tick(std::uint64_t now_ms) {
  Output out;
  while (!pending_.empty() && pending_.begin()->first <= now_ms) {
    auto node = pending_.extract(pending_.begin());
    pending_at_.erase(node.mapped().key);
    fire(node.mapped(), now_ms, out);
  }
  return out;
}

std::optional<std::uint64_t> MeshCore::next_due() const {
  if (pending_.empty()) return std::nullopt;
  return pending_.begin()->first;
}

}  // namespace hyphae::bitchat
