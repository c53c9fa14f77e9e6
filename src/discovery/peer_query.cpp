// PEER_QUERY / PEER_FOUND codecs and the query responder.
#include "discovery/peer_query.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "discovery/signed_envelope.hpp"
#include "util/protobuf.hpp"

namespace hyphae::discovery {

Bytes encode_peer_query(const PeerQuery& q) {
  Bytes out;
  protobuf::put_bytes_field(out, 1, q.looking_for.bytes());
  protobuf::put_varint_field(out, 2, q.request_id);
  protobuf::put_varint_field(out, 3, q.hops_left);
  return out;
}

std::expected<PeerQuery, std::error_code> decode_peer_query(ByteView bytes) {
  const auto malformed = [] { return std::unexpected(make_error_code(Errc::malformed)); };
  PeerQuery q;
  q.hops_left = 0;
  bool has_peer = false;
  protobuf::Field f;
  for (std::size_t pos = 0; pos < bytes.size();) {
    if (!protobuf::next_field(bytes, pos, f)) return malformed();
    if (f.number == 1) {
      if (f.wire_type != protobuf::kLengthDelimited) return malformed();
      auto peer = PeerId::from_bytes(f.bytes);
      if (!peer) return malformed();
      q.looking_for = *peer;
      has_peer = true;
    } else if (f.number == 2 || f.number == 3) {
      if (f.wire_type != protobuf::kVarint) return malformed();
      if (f.number == 2) q.request_id = f.varint;
      if (f.number == 3) {
        if (f.varint > kMaxQueryHops) return malformed();
        q.hops_left = static_cast<std::uint32_t>(f.varint);
      }
    }
  }
  if (!has_peer || q.hops_left == 0) return malformed();
  return q;
}

Bytes encode_peer_found(const PeerFound& a) {
  Bytes out;
  protobuf::put_varint_field(out, 1, a.request_id);
  protobuf::put_bytes_field(out, 2, a.looking_for.bytes());
  protobuf::put_bytes_field(out, 3, a.record);
  if (a.can_relay) protobuf::put_varint_field(out, 4, 1);
  return out;
}

std::expected<PeerFound, std::error_code> decode_peer_found(ByteView bytes) {
  const auto malformed = [] { return std::unexpected(make_error_code(Errc::malformed)); };
  PeerFound a;
  bool has_peer = false;
  protobuf::Field f;
  for (std::size_t pos = 0; pos < bytes.size();) {
    if (!protobuf::next_field(bytes, pos, f)) return malformed();
    const bool varint = f.wire_type == protobuf::kVarint;
    switch (f.number) {
      case 1:
        if (!varint) return malformed();
        a.request_id = f.varint;
        break;
      case 2: {
        if (f.wire_type != protobuf::kLengthDelimited) return malformed();
        auto peer = PeerId::from_bytes(f.bytes);
        if (!peer) return malformed();
        a.looking_for = *peer;
        has_peer = true;
        break;
      }
      case 3:
        if (f.wire_type != protobuf::kLengthDelimited || f.bytes.size() > kMaxEnvelopeBytes)
          return malformed();
        a.record.assign(f.bytes.begin(), f.bytes.end());
        break;
      case 4:
        if (!varint || f.varint > 1) return malformed();
        a.can_relay = f.varint == 1;
        break;
      default:
        break;
    }
  }
  if (!has_peer || a.record.empty()) return malformed();
  return a;
}

bool QueryResponder::take_token(const PeerId& from, std::uint64_t now_ms) {
  auto it = buckets_.find(from);
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.max_senders) {
      buckets_.erase(bucket_order_.front());
      bucket_order_.pop_front();
    }
    it = buckets_.emplace(from, Bucket{options_.burst, now_ms}).first;
    bucket_order_.push_back(from);
  }
  auto& b = it->second;
  b.tokens = std::min(options_.burst, b.tokens + static_cast<double>(now_ms - std::min(now_ms, b.at_ms)) /
                                                     1000.0 * options_.queries_per_second);
  b.at_ms = now_ms;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

QueryResponder::Decision QueryResponder::on_query(const PeerId& from, const PeerQuery& query, bool known,
                                                  const std::vector<PeerId>& neighbours,
                                                  std::uint64_t now_ms) {
  Decision d{Verdict::drop_unknown, {}, {}};
  // The rate limit first: a flood of fresh request ids costs the flooder its budget, not our memory.
  if (!take_token(from, now_ms)) {
    ++dropped_;
    d.verdict = Verdict::drop_rate;
    return d;
  }
  if (!seen_.insert(query.request_id).second) {
    ++dropped_;
    d.verdict = Verdict::drop_duplicate;
    return d;
  }
  seen_order_.push_back(query.request_id);
  if (seen_order_.size() > options_.remembered_requests) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  if (known) {
    d.verdict = Verdict::answer;
    return d;
  }
  if (query.hops_left <= 1) {
    ++dropped_;
    return d;  // drop_unknown: nobody further to ask within the hop limit
  }
  d.forwarded = query;
  d.forwarded.hops_left = query.hops_left - 1;
  for (const auto& n : neighbours) {
    if (d.forward_to.size() >= options_.max_forward) break;
    if (n == from || n == query.looking_for) continue;
    d.forward_to.push_back(n);
  }
  if (d.forward_to.empty()) {
    ++dropped_;
    return d;
  }
  d.verdict = Verdict::forward;
  return d;
}

}  // namespace hyphae::discovery
