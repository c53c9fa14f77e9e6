// BitChat fragmentation and reassembly (see fragmenter.hpp).
#include "bitchat/fragmenter.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace hyphae::bitchat {

namespace {

std::unexpected<std::error_code> fail(Errc e) {
  return std::unexpected(make_error_code(e));
}

}  // namespace

std::size_t fragment_chunk_size(const Packet& original, std::size_t link_mtu) {
  std::size_t overhead = original.version == 1 ? 14 : 16;
  overhead += 8;                          // sender
  if (original.recipient) overhead += 8;  // recipient
  if (original.version == 2 && !original.route.empty()) overhead += 1 + 8 * original.route.size();
  overhead += kFragmentHeaderSize + kFragmentPaddingAllowance;
  if (link_mtu <= overhead) return 0;
  return std::min(kMaxFragmentData, link_mtu - overhead);
}

std::expected<std::vector<Packet>, std::error_code> fragment_packet(const Packet& original,
                                                                    std::size_t link_mtu,
                                                                    FragmentId fragment_id) {
  auto frame = encode(original, EncodeOptions{.pad = false});
  if (!frame) return std::unexpected(frame.error());
  if (frame->size() <= link_mtu) return std::vector<Packet>{original};
  if (original.type == static_cast<std::uint8_t>(MessageType::fragment)) return fail(Errc::invalid_argument);
  const std::size_t chunk = fragment_chunk_size(original, link_mtu);
  if (chunk == 0) return fail(Errc::too_large);
  const std::size_t count = (frame->size() + chunk - 1) / chunk;
  if (count > kMaxFragmentCount) return fail(Errc::too_large);

  std::vector<Packet> out;
  out.reserve(count);
  FragmentPayload f;
  f.fragment_id = fragment_id;
  f.total = static_cast<std::uint16_t>(count);
  f.original_type = original.type;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t at = i * chunk;
    const std::size_t n = std::min(chunk, frame->size() - at);
    f.index = static_cast<std::uint16_t>(i);
    f.data.assign(frame->begin() + static_cast<std::ptrdiff_t>(at),
                  frame->begin() + static_cast<std::ptrdiff_t>(at + n));
    Packet p;
    p.version = original.version;
    p.type = static_cast<std::uint8_t>(MessageType::fragment);
    p.ttl = original.ttl;
    p.timestamp_ms = original.timestamp_ms;
    p.sender = original.sender;
    p.recipient = original.recipient;
    p.route = original.route;
    p.payload = encode_fragment(f);
    out.push_back(std::move(p));
  }
  return out;
}

Reassembler::Reassembler(ReassemblyLimits limits) : limits_(limits) {}

bool Reassembler::is_old(const Set& set, std::uint64_t now_ms) const {
  return now_ms >= set.started_ms && now_ms - set.started_ms >= limits_.timeout_ms;
}

void Reassembler::drop(std::map<Key, Set>::iterator it) {
  held_bytes_ -= it->second.bytes;
  sets_.erase(it);
}

std::unexpected<std::error_code> Reassembler::reject(std::error_code ec) {
  ++stats_.rejected;
  return std::unexpected(ec);
}

std::expected<std::optional<Packet>, std::error_code> Reassembler::accept(const Packet& fragment_packet,
                                                                          std::uint64_t now_ms) {
  if (fragment_packet.type != static_cast<std::uint8_t>(MessageType::fragment))
    return reject(make_error_code(Errc::invalid_argument));
  auto f = decode_fragment(fragment_packet.payload);
  if (!f) return reject(f.error());

  const Key key{fragment_packet.sender, f->fragment_id};
  auto it = sets_.find(key);
  if (it != sets_.end() && is_old(it->second, now_ms)) {  // not swept yet: start over
    drop(it);
    ++stats_.expired;
    it = sets_.end();
  }
  if (it != sets_.end()) {
    Set& set = it->second;
    if (set.total != f->total || set.original_type != f->original_type) {
      drop(it);
      return reject(make_error_code(Errc::malformed));
    }
    if (set.parts.contains(f->index)) {
      ++stats_.duplicates;
      return std::optional<Packet>{};
    }
    if (set.bytes + f->data.size() > limits_.max_set_bytes) {
      drop(it);
      return reject(make_error_code(Errc::too_large));
    }
  } else {
    if (f->total > limits_.max_fragments || f->data.size() > limits_.max_set_bytes)
      return reject(make_error_code(Errc::too_large));
    if (sets_.size() >= limits_.max_sets) {
      expire(now_ms);
      if (sets_.size() >= limits_.max_sets) return reject(make_error_code(Errc::backpressure));
    }
  }
  if (held_bytes_ + f->data.size() > limits_.max_total_bytes) {
    expire(now_ms);  // never drops `it`: it is not old
    if (held_bytes_ + f->data.size() > limits_.max_total_bytes)
      return reject(make_error_code(Errc::backpressure));
  }
  if (it == sets_.end()) {
    Set fresh;
    fresh.total = f->total;
    fresh.original_type = f->original_type;
    fresh.started_ms = now_ms;
    it = sets_.emplace(key, std::move(fresh)).first;
  }

  Set& set = it->second;
  set.bytes += f->data.size();
  held_bytes_ += f->data.size();
  set.parts.emplace(f->index, std::move(f->data));
  if (set.parts.size() < set.total) return std::optional<Packet>{};

  Bytes frame;
  frame.reserve(set.bytes);
  for (const auto& [index, data] : set.parts) frame.insert(frame.end(), data.begin(), data.end());
  drop(it);
  auto packet = decode(frame, limits_.decode);
  if (!packet) return reject(packet.error());
  packet->ttl = 0;
  ++stats_.completed;
  return std::optional<Packet>{std::move(*packet)};
}

std::size_t Reassembler::expire(std::uint64_t now_ms) {
  std::size_t dropped = 0;
  for (auto it = sets_.begin(); it != sets_.end();) {
    auto next = std::next(it);
    if (is_old(it->second, now_ms)) {
      drop(it);
      ++dropped;
    }
    it = next;
  }
  stats_.expired += dropped;
  return dropped;
}

ReassemblyStats Reassembler::stats() const {
  ReassemblyStats s = stats_;
  s.held_bytes = held_bytes_;
  return s;
}

}  // namespace hyphae::bitchat
