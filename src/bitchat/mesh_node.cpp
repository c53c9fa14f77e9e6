// MeshNode: peers, announces, Noise sessions, records, pacing and timers (see the header).
// Public messages, gossip sync, routes and the status view are in mesh_node_public.cpp.
#include "bitchat/mesh_node.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <tuple>

#include "bitchat/mesh_node_peer.hpp"
#include "core/error.hpp"

namespace hyphae::bitchat {

namespace {

bool is_type(const Packet& p, MessageType t) {
  return p.type == static_cast<std::uint8_t>(t);
}

constexpr std::uint64_t kSweepMs = 250;
constexpr std::uint64_t kForgetPeerMs = 10 * 60 * 1000;  // an unreachable peer without a session
constexpr std::size_t kPendingM1 = 64;                   // handshakes waiting for their announce
constexpr std::uint64_t kPendingM1Ms = 10'000;
constexpr std::size_t kHeldCiphertexts = 32, kHeldCipherBytes = 64 * 1024;  // per peer

}  // namespace

void MeshNode::Output::append(Output&& other) {
  for (auto& s : other.sends) sends.push_back(std::move(s));
  for (auto& e : other.events) events.push_back(std::move(e));
}

void MeshNode::Output::append(MeshCore::Output&& core) {
  for (auto& s : core.sends) sends.push_back(std::move(s));
}

MeshNode::MeshNode(const Identity& identity, MeshNodeOptions options)
    : identity_(identity),
      options_(std::move(options)),
      noise_static_(noise::KeyPair::from_private(identity.x25519_private())),
      self_(mesh_id_of(noise_static_.pub)),
      core_([&] {
        MeshOptions m = options_.mesh;
        m.self = self_;  // (no second copy of the private key just for its hash)
        return m;
      }()),
      reassembler_(options_.reassembly),
      spool_(options_.spool) {}

void MeshNode::spool_undeliverable(std::uint64_t now_ms) {
  for (auto& p : core_.take_undeliverable()) {
    if (!p.recipient) continue;
    auto frame = encode(p, {.pad = false});
    if (frame && spool_.hold(*p.recipient, std::move(*frame), now_ms)) ++counters_.spooled;
  }
}

void MeshNode::unspool(const std::vector<Bytes>& frames, std::uint64_t now_ms, Output& out) {
  for (const auto& f : frames) {
    auto p = decode(f);
    if (!p) continue;
    ++counters_.unspooled;
    out.append(core_.originate(*p, now_ms));
  }
  core_.take_undeliverable();  // still no way on: the spool keeps its copy until it expires
}

MeshNode::~MeshNode() {
  sodium_memzero(noise_static_.priv.data(), noise_static_.priv.size());
}

const Key32& MeshNode::noise_public() const {
  return noise_static_.pub;
}

std::uint64_t MeshNode::stamp(std::uint64_t now_ms) {
  last_stamp_ = std::max(now_ms, last_stamp_ + 1);
  return last_stamp_;
}

std::uint64_t MeshNode::new_session_id() {
  return options_.next_session_id ? options_.next_session_id() : ++session_counter_;
}

MeshNode::Peer& MeshNode::peer_at(const ShortId& id) {
  auto& slot = peers_[id];
  if (!slot) {
    slot = std::make_unique<Peer>();
    slot->id = id;
  }
  return *slot;
}

MeshNode::Peer* MeshNode::find(const PeerId& peer) {
  for (auto& [id, p] : peers_)
    if (p->bound && p->announce->peer_id == peer) return p.get();
  return nullptr;
}

const MeshNode::Peer* MeshNode::find(const PeerId& peer) const {
  return const_cast<MeshNode*>(this)->find(peer);
}

MeshNode::Output MeshNode::start(std::uint64_t now_ms) {
  started_ = true;
  own_tokens_ = options_.own_burst;
  own_tokens_at_ = now_ms;
  next_sync_ms_ = now_ms + std::min<std::uint64_t>(options_.sync_interval_ms, 1000);
  next_sweep_ms_ = now_ms + kSweepMs;
  return announce(now_ms);
}

MeshNode::Output MeshNode::stop(std::uint64_t now_ms) {
  Output out;
  if (!started_) return out;
  started_ = false;
  Packet leave;
  leave.type = static_cast<std::uint8_t>(MessageType::leave);
  leave.timestamp_ms = stamp(now_ms);
  leave.sender = self_;
  sign_with(leave, [this](ByteView m) { return identity_.sign(m); });  // so nobody else can say it
  out.append(core_.originate(leave, now_ms));
  for (auto& [id, p] : peers_) go_down(*p, transport::CloseCode::stopping, out);
  return out;
}

MeshNode::Output MeshNode::link_up(LinkId link, std::optional<ShortId> claimed, std::uint64_t now_ms) {
  // The link layer's word for who is there steers nothing until that peer's announce arrives on it.
  links_[link] = std::nullopt;
  claimed_[link] = claimed;
  core_.link_up(link, std::nullopt);
  Output out;
  if (spool_.size()) {  // a new link may be the way on for anything held: offer it all again
    spool_.expire(now_ms);
    unspool(spool_.held_frames(), now_ms, out);
  }
  // Tell the new neighbour (and, through it, its side of the mesh) who we are, and fill gaps soon.
  next_announce_ms_ = std::min(next_announce_ms_, now_ms + 50);
  next_sync_ms_ = std::min(next_sync_ms_, now_ms + 300);
  return out;
}

MeshNode::Output MeshNode::link_down(LinkId link, std::uint64_t now_ms) {
  links_.erase(link);
  claimed_.erase(link);
  sync_budgets_.erase(link);
  core_.link_down(link);
  for (auto& [id, p] : peers_)
    if (p->via == link) p->via.reset();
  return {};
}

MeshNode::Output MeshNode::on_frame(LinkId link, ByteView frame, std::uint64_t now_ms, bool* malformed) {
  Output out;
  const auto bad_before = core_.counters().dropped_malformed;
  auto core_out = core_.on_frame(link, frame, now_ms);
  if (malformed) *malformed = core_.counters().dropped_malformed != bad_before;
  for (auto& d : core_out.deliveries) handle(d.packet, d.from, now_ms, out);
  out.append(std::move(core_out));
  spool_undeliverable(now_ms);
  return out;
}

void MeshNode::handle(const Packet& packet, LinkId from, std::uint64_t now_ms, Output& out) {
  if (is_type(packet, MessageType::fragment)) {
    auto whole = reassembler_.accept(packet, now_ms);
    if (!whole) {
      ++counters_.fragment_errors;
      return;
    }
    if (!*whole) return;
    ++counters_.reassembled;
    if (is_type(**whole, MessageType::fragment)) return;  // never nested
    handle(**whole, from, now_ms, out);
    return;
  }
  if (packet.type == kChannelMessageType || is_type(packet, MessageType::message))
    return handle_public(packet, now_ms, out);
  switch (static_cast<MessageType>(packet.type)) {
    case MessageType::announce:
      return handle_announce(packet, from, now_ms, out);
    case MessageType::noise_handshake:
      if (packet.recipient == self_) handle_handshake(packet, now_ms, out);
      return;
    case MessageType::noise_encrypted:
      if (packet.recipient == self_) handle_encrypted(packet, now_ms, out);
      return;
    case MessageType::request_sync:
      return handle_sync(packet, from, now_ms, out);
    case MessageType::leave:
      if (auto it = peers_.find(packet.sender); it != peers_.end() && !packet.rsr) {
        Peer& p = *it->second;
        // Only a leave signed by the peer's own key ends its session; an unsigned one (the apps',
        // or anyone's) counts only for peers we have no session with.
        const bool signed_by_peer =
            p.announce && packet.signature && !verify(packet, p.announce->announce.signing_key);
        if (!signed_by_peer && p.session_id) return;
        p.reachable = false;
        go_down(p, {transport::CloseCode::remote, "left the mesh"}, out);
      }
      return;
    default:
      return;  // types we do not read are still relayed by the core
  }
}

void MeshNode::handle_announce(const Packet& packet, LinkId from, std::uint64_t now_ms, Output& out) {
  auto verified = verify_announce(packet, now_ms);
  if (!verified) {
    ++counters_.announces_rejected;
    spdlog::debug("bitchat: announce from {} refused: {}", to_hex(packet.sender), verified.error().message());
    return;
  }
  ++counters_.announces_verified;
  if (!peers_.contains(verified->mesh_id) &&
      peers_.size() >= std::max<std::size_t>(1, options_.max_known_peers) && !evict_a_peer())
    return;  // every peer has a session
  Peer& p = peer_at(verified->mesh_id);
  if (p.announce && packet.timestamp_ms < p.announce_ts) return;  // an older copy (gossip sync)
  const auto x25519 = Identity::x25519_public_of(verified->peer_id);
  const bool bound = x25519 && *x25519 == verified->announce.noise_key;
  // A Hyphae peer's mesh ID can only be announced again by the same identity (the ID hashes the
  // identity's own X25519 key); anything else under it is someone else's claim.
  if (p.bound && (!bound || p.announce->peer_id != verified->peer_id)) {
    ++counters_.announces_rejected;
    return;
  }
  const bool changed =
      p.announce && (p.announce->peer_id != verified->peer_id ||
                     p.announce->announce.noise_key != verified->announce.noise_key || p.bound != bound);
  if (changed)
    reset_session(p, {transport::CloseCode::replaced, "the peer's announced identity changed"}, out);
  p.announce = std::move(*verified);
  p.bound = bound;
  p.announce_ts = packet.timestamp_ms;
  remember_public(packet, now_ms);
  if (!packet.rsr) {
    p.hops = static_cast<std::uint8_t>(kDefaultTtl + 1 - std::min<std::uint8_t>(packet.ttl, kDefaultTtl));
    p.via = from;
    // Straight from the neighbour at the other end of `from` (TTL is not signed, so the link layer
    // must say so too, when it says anything).
    const auto claim = claimed_.find(from);
    if (packet.ttl >= kDefaultTtl && claim != claimed_.end() && (!claim->second || *claim->second == p.id)) {
      links_[from] = p.id;
      core_.set_neighbour(from, p.id);
      core_.set_neighbour_links(from, p.announce->announce.neighbours);
    }
    heard(p, now_ms, out);
  }
  update_up(p, now_ms, out);
  if (!p.bound) return;  // an app's peer: relayed for, never a Hyphae session
  if (auto held = pending_m1_.find(p.id); held != pending_m1_.end()) {
    const auto at = held->second.second;
    const Packet m1 = std::move(held->second.first);
    pending_m1_.erase(held);
    if (now_ms - std::min(now_ms, at) <= kPendingM1Ms) handle_handshake(m1, now_ms, out);
  }
  if (!p.session && p.reachable && now_ms >= p.retry_at_ms) {
    std::size_t sessions = 0;
    for (const auto& [id, q] : peers_) sessions += q->session ? 1 : 0;
    if ((p.wanted || sessions < options_.eager_sessions) &&
        (!options_.wants_session || options_.wants_session(p.announce->peer_id)))
      start_handshake(p, now_ms, out);
  }
}

bool MeshNode::evict_a_peer() {
  // Self-signed announces from fresh identities cost an attacker nothing: a full table must not
  // lock new peers out. A peer with an established session (or re-keying one) is never evicted.
  auto victim = peers_.end();
  auto rank = [](const Peer& p) { return std::tuple{p.session.has_value(), p.wanted, p.last_heard_ms}; };
  for (auto it = peers_.begin(); it != peers_.end(); ++it) {
    const Peer& p = *it->second;
    if (p.session_id || p.rekey || (p.session && p.session->established())) continue;
    if (victim == peers_.end() || rank(p) < rank(*victim->second)) victim = it;
  }
  if (victim == peers_.end()) return false;
  pending_m1_.erase(victim->first);
  peers_.erase(victim);
  return true;
}

void MeshNode::heard(Peer& p, std::uint64_t now_ms, Output& out) {
  p.last_heard_ms = now_ms;
  if (!p.reachable) {
    p.reachable = true;
    if (spool_.size()) unspool(spool_.take(p.id), now_ms, out);
    update_up(p, now_ms, out);
  }
}

void MeshNode::deliver_record(const Peer& p, ByteView data, Output& out) {
  ++counters_.records_received;
  MeshEvent e;
  e.kind = MeshEvent::Kind::record;
  e.mesh_id = p.id;
  e.peer = p.announce->peer_id;
  e.session = p.session_id;
  e.record_kind = data[0];
  e.body.assign(data.begin() + 1, data.end());
  out.events.push_back(std::move(e));
}

void MeshNode::update_up(Peer& p, std::uint64_t now_ms, Output& out) {
  const bool should = p.reachable && p.bound && p.session && p.session->established() &&
                      p.session->remote_static() == p.announce->announce.noise_key;
  if (should && p.session_id == 0) {
    p.session_id = new_session_id();
    p.up_since_ms = now_ms;
    MeshEvent e;
    e.kind = MeshEvent::Kind::peer_up;
    e.mesh_id = p.id;
    e.peer = p.announce->peer_id;
    e.session = p.session_id;
    out.events.push_back(std::move(e));
    for (const auto& data : p.early) deliver_record(p, data, out);
    p.early.clear();
    p.early_bytes = 0;
  } else if (!should && p.session_id != 0) {
    go_down(p,
            !p.reachable
                ? transport::CloseReason{transport::CloseCode::keepalive_timeout,
                                         "not heard for " + std::to_string(options_.peer_timeout_ms) + " ms"}
                : transport::CloseReason{transport::CloseCode::other, "session lost"},
            out);
  }
}

void MeshNode::go_down(Peer& p, const transport::CloseReason& reason, Output& out) {
  if (p.session_id == 0) return;
  MeshEvent e;
  e.kind = MeshEvent::Kind::peer_down;
  e.mesh_id = p.id;
  if (p.announce) e.peer = p.announce->peer_id;
  e.session = p.session_id;
  e.reason = reason;
  out.events.push_back(std::move(e));
  p.session_id = 0;
}

void MeshNode::reset_session(Peer& p, const transport::CloseReason& reason, Output& out) {
  go_down(p, reason, out);
  p.session.reset();
  p.rekey.reset();
  p.undecrypted.clear();
  p.undecrypted_bytes = 0;
  p.early.clear();
  p.early_bytes = 0;
}

void MeshNode::hold_undecrypted(Peer& p, const Packet& packet) {
  if (p.undecrypted.size() >= kHeldCiphertexts ||
      p.undecrypted_bytes + packet.payload.size() > kHeldCipherBytes)
    return;
  p.undecrypted_bytes += packet.payload.size();
  p.undecrypted.push_back(packet);
}

void MeshNode::replay_undecrypted(Peer& p, std::uint64_t now_ms, Output& out) {
  auto held = std::move(p.undecrypted);
  p.undecrypted.clear();
  p.undecrypted_bytes = 0;
  for (const auto& h : held) handle_encrypted(h, now_ms, out);
}

void MeshNode::start_handshake(Peer& p, std::uint64_t now_ms, Output& out) {
  reset_session(p, {transport::CloseCode::replaced, "new handshake"}, out);
  p.session.emplace(noise_static_, p.id);
  auto m1 = p.session->start_as_initiator(now_ms);
  if (!m1) {
    p.session.reset();
    ++counters_.handshake_errors;
    return;
  }
  ++counters_.handshakes_started;
  p.retry_at_ms = now_ms + options_.handshake_timeout_ms;
  send_handshake(p, std::move(*m1), now_ms, out);
}

void MeshNode::send_handshake(const Peer& p, Bytes message, std::uint64_t now_ms, Output& out) {
  Packet packet;
  packet.type = static_cast<std::uint8_t>(MessageType::noise_handshake);
  packet.timestamp_ms = stamp(now_ms);
  packet.sender = self_;
  packet.recipient = p.id;
  packet.payload = std::move(message);
  send_own(std::move(packet), now_ms, out);
}

void MeshNode::handle_handshake(const Packet& packet, std::uint64_t now_ms, Output& out) {
  auto it = peers_.find(packet.sender);
  if (it == peers_.end() || !it->second->bound) {
    // Not announced (yet): no key work and no reply for strangers. A message 1 waits for the
    // sender's announce, which its handshake may have overtaken.
    if (packet.payload.size() == NoiseSession::kMessage1Len && !packet.received_compressed &&
        (pending_m1_.contains(packet.sender) || pending_m1_.size() < kPendingM1))
      pending_m1_[packet.sender] = {packet, now_ms};
    return;
  }
  Peer& p = *it->second;
  const auto& message = packet.payload;
  // A message 1 costs key work (an ephemeral key, two DH) and anyone can send one under a known
  // peer's mesh ID: the node answers a budgeted number per second, whoever they claim to be from.
  if (message.size() == NoiseSession::kMessage1Len) {
    const double rate = options_.handshake_reply_rate;
    if (responder_budget_.refill(rate, 2 * rate, now_ms) < 1) {
      ++counters_.handshakes_refused;
      return;
    }
    responder_budget_.tokens -= 1;
    ++counters_.handshakes_answered;
  }
  if (p.session && p.session->established()) {
    // Handshake packets are unauthenticated: the peer (maybe restarted) re-handshakes in a second
    // session that replaces the first only once it completes.
    if (message.size() == NoiseSession::kMessage1Len) {
      p.rekey.emplace(noise_static_, p.id);
      auto reply = p.rekey->on_handshake(message, now_ms);
      if (reply && *reply) return send_handshake(p, std::move(**reply), now_ms, out);
      ++counters_.handshake_errors;
      p.rekey.reset();
    } else if (message.size() == NoiseSession::kMessage3Len && p.rekey) {
      auto done = p.rekey->on_handshake(message, now_ms);
      if (done && p.rekey->established()) {
        go_down(p, {transport::CloseCode::replaced, "re-keyed"}, out);
        p.session = std::move(*p.rekey);
        p.rekey.reset();
        ++counters_.sessions_established;
        update_up(p, now_ms, out);
        replay_undecrypted(p, now_ms, out);  // new-key messages that overtook message 3
      } else {
        ++counters_.handshake_errors;
        p.rekey.reset();
      }
    }
    return;
  }
  if (!p.session) p.session.emplace(noise_static_, p.id);
  auto reply = p.session->on_handshake(message, now_ms);
  if (!reply) {
    ++counters_.handshake_errors;
    spdlog::debug("bitchat: handshake with {} failed: {}", to_hex(p.id), reply.error().message());
    if (p.session->failed()) {
      p.session.reset();
      p.retry_at_ms = now_ms + options_.handshake_timeout_ms;
    }
    return;
  }
  if (*reply) send_handshake(p, std::move(**reply), now_ms, out);
  if (p.session->established()) {
    ++counters_.sessions_established;
    p.retry_at_ms = now_ms + options_.handshake_timeout_ms;  // no restart right after this one
    update_up(p, now_ms, out);
    replay_undecrypted(p, now_ms, out);
  } else if (!p.session->handshaking()) {
    p.undecrypted.clear();
    p.undecrypted_bytes = 0;
  }
}

void MeshNode::handle_encrypted(const Packet& packet, std::uint64_t now_ms, Output& out) {
  auto it = peers_.find(packet.sender);
  // Ciphertext does not compress: a compressed one is a decompression trick, not a message.
  if (it == peers_.end() || !it->second->bound || packet.received_compressed) {
    ++counters_.decrypt_errors;
    return;
  }
  Peer& p = *it->second;
  if (p.session && p.session->state() == NoiseSession::State::awaiting_message3) {
    // The initiator's first transport messages can overtake its message 3 (frames take different
    // paths and delays): hold a few until the handshake completes.
    hold_undecrypted(p, packet);
    return;
  }
  if (!p.session || !p.session->established()) {
    ++counters_.decrypt_errors;
    // The peer thinks a session exists that we do not have (we restarted): make a new one, at
    // most once per handshake timeout.
    if (p.reachable && now_ms >= p.retry_at_ms) start_handshake(p, now_ms, out);
    return;
  }
  auto plain = p.session->decrypt(packet.payload);
  if (!plain) {
    // One bad packet never ends a session (anyone can send one). During the peer's re-handshake
    // its new-key messages may overtake message 3: those wait for the swap.
    if (p.rekey && p.rekey->state() == NoiseSession::State::awaiting_message3)
      hold_undecrypted(p, packet);
    else
      ++counters_.decrypt_errors;
    return;
  }
  auto payload = decode_noise_payload(*plain);
  if (!payload) {
    ++counters_.decrypt_errors;
    return;
  }
  if (payload->type == kHyphaeRecordPayload) {
    if (payload->data.empty()) return;
    if (p.session_id == 0) {
      constexpr std::size_t kEarlyRecords = 64, kEarlyBytes = 1u << 20;
      if (p.early.size() < kEarlyRecords && p.early_bytes + payload->data.size() <= kEarlyBytes) {
        p.early_bytes += payload->data.size();
        p.early.push_back(std::move(payload->data));
      }
      return;
    }
    deliver_record(p, payload->data, out);
  } else if (payload->type == static_cast<std::uint8_t>(NoisePayloadType::private_message)) {
    ++counters_.app_private_messages;  // a BitChat app's chat message: not for a Hyphae inbox
  }
}

std::expected<MeshNode::Output, std::error_code> MeshNode::send_record(const PeerId& peer, std::uint8_t kind,
                                                                       ByteView body, std::uint64_t now_ms) {
  Peer* p = find(peer);
  if (!p || p->session_id == 0) return std::unexpected(make_error_code(Errc::no_link));
  Bytes data;
  data.reserve(body.size() + 1);
  data.push_back(kind);
  append(data, body);
  auto wire = p->session->encrypt(encode_noise_payload(NoisePayload{kHyphaeRecordPayload, std::move(data)}));
  if (!wire) return std::unexpected(wire.error());
  Packet packet;
  packet.type = static_cast<std::uint8_t>(MessageType::noise_encrypted);
  packet.timestamp_ms = stamp(now_ms);
  packet.sender = self_;
  packet.recipient = p->id;
  packet.payload = std::move(*wire);
  if (packet.payload.size() > 0xFFFF) packet.version = 2;
  Output out;
  // All of it into the pacer's queue, or nothing (the caller keeps the message and retries).
  // A refused message still used a nonce: the receiver's window takes the gap.
  if (!send_own(std::move(packet), now_ms, out)) return std::unexpected(make_error_code(Errc::backpressure));
  ++counters_.records_sent;
  return out;
}

bool MeshNode::send_own(Packet packet, std::uint64_t now_ms, Output& out) {
  if (!packet.is_broadcast() && options_.source_routes) {
    auto route = route_to(*packet.recipient);
    if (!route.empty()) {
      packet.version = 2;
      packet.route = std::move(route);
    }
  }
  auto plain = encode(packet, {.pad = false});
  if (!plain) return false;
  std::vector<Packet> parts;
  if (plain->size() > options_.mtu) {
    FragmentId fid;
    randombytes_buf(fid.data(), fid.size());
    auto fragments = fragment_packet(packet, options_.mtu, fid);
    if (!fragments) {
      spdlog::warn("bitchat: cannot fragment a {}-byte frame: {}", plain->size(),
                   fragments.error().message());
      return false;
    }
    parts = std::move(*fragments);
  } else {
    parts.push_back(std::move(packet));
  }
  std::size_t total = 0;
  for (const auto& part : parts) total += part.payload.size() + 64;
  const bool handshake = parts.front().type == static_cast<std::uint8_t>(MessageType::noise_handshake);
  if (handshake) {
    // Handshakes answer unauthenticated packets (a spoofed message 1 gets a message 2): only the
    // newest to each peer waits, within the handshakes' share of the queue.
    drop_queued_handshake(*parts.front().recipient);
    if (handshake_bytes_ + total > handshake_share()) {
      ++counters_.own_queue_drops;
      return false;
    }
  } else if (own_queue_bytes_ - handshake_bytes_ + total > options_.own_queue_bytes - handshake_share()) {
    ++counters_.own_queue_drops;
    return false;
  }
  if (parts.size() > 1) counters_.fragments_sent += parts.size();
  const ShortId to = parts.front().recipient.value_or(kBroadcastId);
  for (auto& part : parts) {
    const std::size_t bytes = part.payload.size() + 64;
    own_queue_bytes_ += bytes;
    own_queue_.push_back(Queued{std::move(part), bytes, handshake});
    if (handshake) {
      handshake_bytes_ += bytes;
      queued_handshakes_[to].push_back(std::prev(own_queue_.end()));
    }
  }
  pace(now_ms, out);
  return true;
}

std::size_t MeshNode::handshake_share() const {
  return std::min(options_.own_queue_bytes / 2,
                  std::clamp<std::size_t>(options_.own_queue_bytes / 8, 4096, 65536));
}

void MeshNode::drop_queued_handshake(const ShortId& to) {
  auto it = queued_handshakes_.find(to);
  if (it == queued_handshakes_.end()) return;
  for (auto q : it->second) {
    own_queue_bytes_ -= q->bytes;
    handshake_bytes_ -= q->bytes;
    own_queue_.erase(q);
  }
  queued_handshakes_.erase(it);
}

void MeshNode::pace(std::uint64_t now_ms, Output& out) {
  own_tokens_ =
      std::min(options_.own_burst,
               own_tokens_ + options_.own_rate *
                                 static_cast<double>(now_ms - std::min(now_ms, own_tokens_at_)) / 1000.0);
  own_tokens_at_ = now_ms;
  while (!own_queue_.empty() && own_tokens_ >= 1) {
    own_tokens_ -= 1;
    auto& q = own_queue_.front();
    if (q.handshake) {
      handshake_bytes_ -= q.bytes;
      const ShortId to = q.packet.recipient.value_or(kBroadcastId);
      if (auto h = queued_handshakes_.find(to); h != queued_handshakes_.end()) {
        std::erase(h->second, own_queue_.begin());
        if (h->second.empty()) queued_handshakes_.erase(h);
      }
    }
    own_queue_bytes_ -= q.bytes;
    out.append(core_.originate(q.packet, now_ms));
    own_queue_.pop_front();
  }
}

MeshNode::Output MeshNode::connect(const PeerId& peer, std::uint64_t now_ms) {
  Output out;
  Peer* p = find(peer);
  if (!p) return out;
  p->wanted = true;
  // The owner has something for it: no waiting out a backoff after a close, only a handshake
  // already under way is left alone.
  if (p->reachable && (!p->session || p->session->failed())) start_handshake(*p, now_ms, out);
  return out;
}

MeshNode::Output MeshNode::close(const PeerId& peer, const transport::CloseReason& reason,
                                 std::uint64_t now_ms) {
  Output out;
  if (Peer* p = find(peer)) {
    reset_session(*p, reason, out);
    p->wanted = false;
    p->retry_at_ms = now_ms + options_.closed_backoff_ms;  // no eager handshake straight back
  }
  return out;
}

std::uint64_t MeshNode::session(const PeerId& peer) const {
  const Peer* p = find(peer);
  return p ? p->session_id : 0;
}

std::vector<PeerId> MeshNode::peers_up() const {
  std::vector<PeerId> out;
  for (const auto& [id, p] : peers_)
    if (p->session_id) out.push_back(p->announce->peer_id);
  return out;
}

MeshNode::Output MeshNode::announce(std::uint64_t now_ms) {
  Output out;
  next_announce_ms_ = now_ms + options_.announce_interval_ms;
  AnnounceOptions a;
  a.nickname = options_.nickname;
  for (const auto& [link, neighbour] : links_)
    if (neighbour && a.neighbours.size() < kMaxAnnouncedNeighbours &&
        std::find(a.neighbours.begin(), a.neighbours.end(), *neighbour) == a.neighbours.end())
      a.neighbours.push_back(*neighbour);
  auto packet = make_announce(identity_, noise_static_.pub, a, stamp(now_ms));
  if (!packet) return out;
  ++counters_.announces_sent;
  remember_public(*packet, now_ms);
  out.append(core_.originate(*packet, now_ms));  // not paced: it is what keeps us reachable
  return out;
}

MeshNode::Output MeshNode::tick(std::uint64_t now_ms) {
  Output out;
  if (!started_) return out;
  out.append(core_.tick(now_ms));
  pace(now_ms, out);
  if (now_ms >= next_announce_ms_) out.append(announce(now_ms));
  if (options_.sync_interval_ms && now_ms >= next_sync_ms_) out.append(request_sync(now_ms));
  spool_undeliverable(now_ms);
  if (now_ms >= next_sweep_ms_) {
    next_sweep_ms_ = now_ms + kSweepMs;
    reassembler_.expire(now_ms);
    spool_.expire(now_ms);
    std::vector<Bytes> retry;
    for (auto& [to, frame] : spool_.retry_due(now_ms)) retry.push_back(std::move(frame));
    unspool(retry, now_ms, out);
    std::erase_if(pending_m1_,
                  [&](const auto& e) { return now_ms - std::min(now_ms, e.second.second) > kPendingM1Ms; });
    // Forget peers long unreachable with no session (the table is bounded, and fills again from
    // announces).
    std::erase_if(peers_, [&](const auto& e) {
      const Peer& p = *e.second;
      return !p.reachable && !p.session && !p.wanted &&
             now_ms - std::min(now_ms, p.last_heard_ms) > kForgetPeerMs;
    });
    std::size_t sessions = 0;
    for (const auto& [id, p] : peers_) sessions += p->session ? 1 : 0;
    for (auto& [id, p] : peers_) {
      if (p->reachable && now_ms - p->last_heard_ms > options_.peer_timeout_ms) {
        p->reachable = false;
        update_up(*p, now_ms, out);
      }
      if (p->session && p->session->handshaking() &&
          p->session->handshake_timed_out(now_ms, options_.handshake_timeout_ms,
                                          2 * options_.handshake_timeout_ms)) {
        p->session.reset();
        --sessions;
      }
      if (p->session && p->session->failed()) {
        p->session.reset();
        --sessions;
      }
      if (!p->session && p->reachable && p->announce && now_ms >= p->retry_at_ms &&
          (p->wanted || sessions < options_.eager_sessions) &&
          (!options_.wants_session || options_.wants_session(p->announce->peer_id))) {
        start_handshake(*p, now_ms, out);
        ++sessions;
      }
    }
  }
  return out;
}

std::uint64_t MeshNode::next_due(std::uint64_t now_ms) const {
  if (!started_) return UINT64_MAX;  // stopped: nothing to do, ever
  std::uint64_t due =
      std::min({next_announce_ms_, next_sweep_ms_, options_.sync_interval_ms ? next_sync_ms_ : UINT64_MAX});
  if (auto core = core_.next_due()) due = std::min(due, *core);
  if (!own_queue_.empty()) {
    const double missing = std::max(0.0, 1.0 - own_tokens_);
    due =
        std::min(due, own_tokens_at_ + static_cast<std::uint64_t>(missing * 1000.0 / options_.own_rate) + 1);
  }
  return std::max(due, now_ms);
}

}  // namespace hyphae::bitchat
