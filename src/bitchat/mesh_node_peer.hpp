// MeshNode::Peer: what a MeshNode knows of one mesh peer (private to mesh_node*.cpp).
// Thread-safety and ownership: MeshNode's (one owner; the node owns its peers).
#pragma once

#include <deque>
#include <optional>

#include "bitchat/mesh_node.hpp"

namespace hyphae::bitchat {

struct MeshNode::Peer {
  ShortId id{};
  std::optional<VerifiedAnnounce> announce;  // the newest verified one
  // The announce's Noise key is the X25519 key of its signing identity, as every Hyphae node's is:
  // only then does the mesh ID stand for announce->peer_id (an app's announce cannot prove that).
  bool bound = false;
  std::uint64_t announce_ts = 0;    // its timestamp
  std::uint64_t last_heard_ms = 0;  // a packet straight from it (not a sync copy)
  bool reachable = false;
  std::uint8_t hops = 0;      // from the TTL its last announce arrived with
  std::optional<LinkId> via;  // the link that announce came in on
  std::optional<NoiseSession> session;
  std::optional<NoiseSession> rekey;  // a responder handshake while `session` is established
  std::uint64_t session_id = 0;       // nonzero while up
  std::uint64_t up_since_ms = 0;
  std::uint64_t retry_at_ms = 0;  // no new handshake before this
  bool wanted = false;            // the node asked for a session
  // Records that arrived in an established session before the peer's announce (its handshake can
  // overtake it): handed up once the announce makes it up. Kind byte || body.
  std::deque<Bytes> early;
  // noiseEncrypted packets that arrived while we waited for message 3 (decrypted once it comes).
  std::deque<Packet> undecrypted;
  std::size_t undecrypted_bytes = 0;
  std::size_t early_bytes = 0;
};

}  // namespace hyphae::bitchat
