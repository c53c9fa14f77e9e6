// MeshNode: public messages and channels, gossip sync, source routes and the status view (see
// mesh_node.hpp).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>

#include "bitchat/mesh_node.hpp"
#include "bitchat/mesh_node_peer.hpp"
#include "core/error.hpp"

namespace hyphae::bitchat {

namespace {

constexpr std::size_t kMaxBroadcastText = 4096;
constexpr std::size_t kMaxHistoryBytes = 1u << 20;  // public packets kept for sync, in total
constexpr std::uint64_t kClockSkewMs = 15 * 60 * 1000;
constexpr std::uint8_t kSyncP = 7;  // 1 % false positives, as the apps

bool is_type(const Packet& p, MessageType t) {
  return p.type == static_cast<std::uint8_t>(t);
}

const char* state_name(const NoiseSession& s) {
  switch (s.state()) {
    case NoiseSession::State::idle:
      return "idle";
    case NoiseSession::State::awaiting_message2:
      return "awaiting_message2";
    case NoiseSession::State::awaiting_message3:
      return "awaiting_message3";
    case NoiseSession::State::established:
      return "established";
    case NoiseSession::State::failed:
      return "failed";
  }
  return "unknown";
}

}  // namespace

std::expected<MeshNode::Output, std::error_code> MeshNode::broadcast(const std::string& channel,
                                                                     const std::string& text,
                                                                     std::uint64_t now_ms) {
  if (text.empty() || text.size() > kMaxBroadcastText || channel.size() > kMaxChannelName)
    return std::unexpected(
        make_error_code(text.size() > kMaxBroadcastText ? Errc::too_large : Errc::invalid_argument));
  Packet packet;
  packet.timestamp_ms = stamp(now_ms);
  packet.sender = self_;
  if (channel.empty()) {
    packet.type = static_cast<std::uint8_t>(MessageType::message);
    packet.payload.assign(text.begin(), text.end());
  } else {
    packet.type = kChannelMessageType;
    packet.payload.push_back(static_cast<std::uint8_t>(channel.size()));
    append(packet.payload, as_bytes(channel));
    append(packet.payload, as_bytes(text));
  }
  if (auto ec = sign_with(packet, [this](ByteView m) { return identity_.sign(m); }))
    return std::unexpected(ec);
  Output out;
  const Packet kept = packet;
  if (!send_own(std::move(packet), now_ms, out)) return std::unexpected(make_error_code(Errc::backpressure));
  ++counters_.broadcasts_sent;
  remember_public(kept, now_ms);
  return out;
}

void MeshNode::handle_public(const Packet& packet, std::uint64_t now_ms, Output& out) {
  // Within the limits we send under, and recent (history plus clock skew): an old signed message
  // replayed after the dedupe window has expired is not news.
  const std::uint64_t age_limit = options_.history_ms + kClockSkewMs;
  if (packet.payload.size() > kMaxBroadcastText + 1 + kMaxChannelName ||
      packet.timestamp_ms + age_limit < now_ms || packet.timestamp_ms > now_ms + kClockSkewMs)
    return;
  MeshBroadcast b;
  b.sender = packet.sender;
  b.timestamp_ms = packet.timestamp_ms;
  if (packet.type == kChannelMessageType) {
    if (packet.payload.empty() || packet.payload[0] == 0 || packet.payload[0] > kMaxChannelName ||
        packet.payload.size() < 1u + packet.payload[0])
      return;
    b.channel.assign(packet.payload.begin() + 1, packet.payload.begin() + 1 + packet.payload[0]);
    b.text.assign(packet.payload.begin() + 1 + packet.payload[0], packet.payload.end());
  } else {
    b.text.assign(packet.payload.begin(), packet.payload.end());
  }
  if (b.text.size() > kMaxBroadcastText) return;
  auto it = peers_.find(packet.sender);
  if (it != peers_.end() && it->second->announce && packet.signature) {
    const auto& a = *it->second->announce;
    if (verify(packet, a.announce.signing_key)) {
      ++counters_.bad_signatures;
      // A forgery under a Hyphae peer's name. (An app's announce does not prove its keys belong
      // together, so a mismatch there is only "unverified".)
      if (it->second->bound) return;
    } else {
      b.verified = true;
      b.nickname = a.announce.nickname;
      if (it->second->bound) b.peer = a.peer_id;
      if (!packet.rsr && it->second->bound) heard(*it->second, now_ms, out);
    }
  }
  if (!remember_public(packet, now_ms)) return;  // already delivered (a sync copy, a replay)
  ++counters_.broadcasts_received;
  MeshEvent e;
  e.kind = MeshEvent::Kind::broadcast;
  e.mesh_id = packet.sender;
  if (b.peer) e.peer = *b.peer;
  e.broadcast = std::move(b);
  out.events.push_back(std::move(e));
}

bool MeshNode::remember_public(const Packet& packet, std::uint64_t now_ms) {
  const auto id = sync_packet_id(packet.type, packet.sender, packet.timestamp_ms, packet.payload);
  for (const auto& h : history_)
    if (h.id == id) return false;
  if (is_type(packet, MessageType::announce))  // only the newest announce of each sender
    std::erase_if(history_, [&](const HistoryEntry& h) {
      const bool drop = is_type(h.packet, MessageType::announce) && h.packet.sender == packet.sender;
      if (drop) history_bytes_ -= h.packet.payload.size();
      return drop;
    });
  Packet kept = packet;
  kept.rsr = false;
  history_bytes_ += kept.payload.size();
  history_.push_back(HistoryEntry{id, std::move(kept), now_ms});
  while (history_.size() > options_.history_entries || history_bytes_ > kMaxHistoryBytes ||
         (!history_.empty() && history_.front().held_ms + options_.history_ms < now_ms)) {
    history_bytes_ -= history_.front().packet.payload.size();
    history_.pop_front();
  }
  return true;
}

MeshNode::Output MeshNode::request_sync(std::uint64_t now_ms) {
  Output out;
  next_sync_ms_ = now_ms + options_.sync_interval_ms;
  if (links_.empty()) return out;
  std::vector<SyncPacketId> ids;
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) ids.push_back(it->id);  // newest first
  const auto filter = build_gcs(ids, kSyncP, options_.sync_filter_bytes);
  Packet packet;
  packet.type = static_cast<std::uint8_t>(MessageType::request_sync);
  packet.ttl = 0;  // link-local
  packet.timestamp_ms = stamp(now_ms);
  packet.sender = self_;
  packet.payload = encode_request_sync(RequestSync{filter.p, filter.m, filter.data, {}});
  ++counters_.syncs_sent;
  out.append(core_.originate(packet, now_ms));
  return out;
}

double MeshNode::ByteBudget::refill(double rate, double burst, std::uint64_t now_ms) {
  if (!init) {
    tokens = burst;
    at_ms = now_ms;
    init = true;
  }
  tokens = std::min(burst, tokens + rate * static_cast<double>(now_ms - std::min(now_ms, at_ms)) / 1000.0);
  at_ms = now_ms;
  return tokens;
}

void MeshNode::handle_sync(const Packet& packet, LinkId from, std::uint64_t now_ms, Output& out) {
  // A REQUEST_SYNC is small and its answer large, and the requester's address may be spoofed:
  // answers are paced per requester (its link) and in total, and cut to what those budgets hold.
  const double cap = static_cast<double>(options_.max_sync_reply_bytes);
  auto& mine = sync_budgets_[from];
  const double allowance =
      std::min({cap, mine.refill(options_.sync_reply_rate, cap, now_ms),
                sync_total_budget_.refill(options_.sync_reply_total_rate, 4 * cap, now_ms)});
  if (allowance < 1) {
    ++counters_.sync_refused;
    return;
  }
  auto request = decode_request_sync(packet.payload);
  if (!request) return;
  auto reader = GcsReader::open(GcsFilter{request->p, request->m, request->filter});
  if (!reader) return;
  std::size_t replies = 0, bytes = 0;
  for (auto it = history_.rbegin(); it != history_.rend() && replies < options_.max_sync_replies; ++it) {
    if (reader->contains(it->id) || it->packet.sender == packet.sender) continue;
    Packet copy = it->packet;
    copy.ttl = 0;  // fills the neighbour's gap; it does not relay it
    copy.rsr = true;
    auto frame = encode(copy, {.pad = false});
    if (!frame) continue;
    std::vector<Bytes> frames;
    if (frame->size() > options_.mtu) {
      FragmentId fid;
      for (std::size_t i = 0; i < fid.size(); ++i) fid[i] = static_cast<std::uint8_t>(it->id[i] ^ 0x5a);
      auto fragments = fragment_packet(copy, options_.mtu, fid);
      if (!fragments) continue;
      for (auto& f : *fragments)
        if (auto encoded = encode(f, {.pad = false})) frames.push_back(std::move(*encoded));
    } else {
      frames.push_back(std::move(*frame));
    }
    std::size_t size = 0;
    for (const auto& f : frames) size += f.size();
    if (static_cast<double>(bytes + size) > allowance) break;  // the rest another time (newest first)
    bytes += size;
    for (auto& f : frames) out.sends.push_back(MeshCore::Send{from, std::move(f), now_ms});
    ++replies;
  }
  mine.tokens -= static_cast<double>(bytes);
  sync_total_budget_.tokens -= static_cast<double>(bytes);
  counters_.sync_replies += replies;
  counters_.sync_reply_bytes += bytes;
}

// Breadth-first over the links announces describe; the intermediate hops of a shortest path, or
// nothing when the target is adjacent or no path is known.
std::vector<ShortId> MeshNode::route_to(const ShortId& target) const {
  std::map<ShortId, std::vector<ShortId>> graph;
  for (const auto& [link, neighbour] : links_)
    if (neighbour) {
      if (*neighbour == target) return {};
      graph[self_].push_back(*neighbour);
    }
  // An edge counts only when both ends announce it (one side's claim cannot pull traffic to it).
  auto lists = [&](const ShortId& a, const ShortId& b) {
    auto it = peers_.find(a);
    if (it == peers_.end() || !it->second->reachable || !it->second->announce) return false;
    const auto& n = it->second->announce->announce.neighbours;
    return std::find(n.begin(), n.end(), b) != n.end();
  };
  for (const auto& [id, p] : peers_)
    if (p->reachable && p->announce)
      for (const auto& n : p->announce->announce.neighbours)
        if (n != self_ && lists(n, id)) graph[id].push_back(n);
  for (const auto& [link, neighbour] : links_)  // and our verified neighbours' side of our links
    if (neighbour && lists(*neighbour, self_)) graph[*neighbour].push_back(self_);
  std::map<ShortId, ShortId> parent;
  std::queue<ShortId> todo;
  todo.push(self_);
  parent[self_] = self_;
  while (!todo.empty()) {
    const ShortId at = todo.front();
    todo.pop();
    if (at == target) break;
    for (const auto& n : graph[at])
      if (parent.emplace(n, at).second) todo.push(n);
  }
  if (!parent.contains(target)) return {};
  std::vector<ShortId> hops;
  for (ShortId at = parent[target]; at != self_; at = parent[at]) hops.push_back(at);
  std::reverse(hops.begin(), hops.end());
  if (hops.size() > 255) return {};
  return hops;
}

std::optional<MeshNode::PeerPath> MeshNode::path(const PeerId& peer, std::uint64_t now_ms) const {
  const Peer* p = find(peer);
  if (!p || !p->session_id) return std::nullopt;
  PeerPath out;
  out.hops = p->hops;
  out.age_ms = now_ms - std::min(now_ms, p->up_since_ms);
  if (p->via)
    if (auto l = links_.find(*p->via); l != links_.end() && l->second)
      if (auto n = peers_.find(*l->second); n != peers_.end() && n->second->announce)
        out.next_hop = n->second->announce->peer_id;
  return out;
}

nlohmann::json MeshNode::status_json(std::uint64_t now_ms) const {
  nlohmann::json neighbours = nlohmann::json::array();
  for (const auto& [link, neighbour] : links_) {
    nlohmann::json n{{"link", link}, {"mesh_id", neighbour ? to_hex(*neighbour) : ""}};
    if (neighbour)
      if (auto it = peers_.find(*neighbour); it != peers_.end() && it->second->announce) {
        n["nickname"] = it->second->announce->announce.nickname;
        n["peer_id"] = it->second->announce->peer_id.to_string();
      }
    neighbours.push_back(std::move(n));
  }
  nlohmann::json peers = nlohmann::json::array();
  for (const auto& [id, p] : peers_) {
    nlohmann::json j{{"mesh_id", to_hex(id)},
                     {"reachable", p->reachable},
                     {"up", p->session_id != 0},
                     {"hops", p->hops},
                     {"session", p->session ? state_name(*p->session) : "none"}};
    if (p->announce) {
      j["nickname"] = p->announce->announce.nickname;
      j["peer_id"] = p->announce->peer_id.to_string();
    }
    if (p->via) j["via_link"] = *p->via;
    if (p->last_heard_ms) j["last_heard_ms_ago"] = now_ms - std::min(now_ms, p->last_heard_ms);
    nlohmann::json route = nlohmann::json::array();
    if (p->reachable)
      for (const auto& hop : route_to(id)) route.push_back(to_hex(hop));
    j["route"] = std::move(route);
    peers.push_back(std::move(j));
  }
  const auto& c = counters_;
  const auto& m = core_.counters();
  nlohmann::json counters{{"announces_sent", c.announces_sent},
                          {"announces_verified", c.announces_verified},
                          {"announces_rejected", c.announces_rejected},
                          {"handshakes_started", c.handshakes_started},
                          {"sessions_established", c.sessions_established},
                          {"handshake_errors", c.handshake_errors},
                          {"handshakes_answered", c.handshakes_answered},
                          {"handshakes_refused", c.handshakes_refused},
                          {"records_sent", c.records_sent},
                          {"records_received", c.records_received},
                          {"decrypt_errors", c.decrypt_errors},
                          {"fragments_sent", c.fragments_sent},
                          {"reassembled", c.reassembled},
                          {"fragment_errors", c.fragment_errors},
                          {"broadcasts_sent", c.broadcasts_sent},
                          {"broadcasts_received", c.broadcasts_received},
                          {"bad_signatures", c.bad_signatures},
                          {"syncs_sent", c.syncs_sent},
                          {"sync_replies", c.sync_replies},
                          {"sync_reply_bytes", c.sync_reply_bytes},
                          {"sync_refused", c.sync_refused},
                          {"app_private_messages", c.app_private_messages},
                          {"own_queue_drops", c.own_queue_drops},
                          {"frames_received", m.received},
                          {"frames_sent", m.frames_sent},
                          {"relayed", m.relayed},
                          {"duplicates", m.duplicates},
                          {"dropped_malformed", m.dropped_malformed},
                          {"dropped_ttl", m.dropped_ttl},
                          {"dropped_rate", m.dropped_rate},
                          {"pruned", m.pruned},
                          {"ttl_upgrades", m.ttl_upgrades}};
  return nlohmann::json{{"mesh_id", to_hex(self_)},
                        {"nickname", options_.nickname},
                        {"neighbours", std::move(neighbours)},
                        {"peers", std::move(peers)},
                        {"backlog_bytes", own_queue_bytes_},
                        {"history", history_.size()},
                        {"reassembly_sets", reassembler_.set_count()},
                        {"counters", std::move(counters)}};
}

}  // namespace hyphae::bitchat
