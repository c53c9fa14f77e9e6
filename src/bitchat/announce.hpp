// BitChat announces for a Hyphae node: building this node's signed announce, and checking one
// received — its TLVs decode, its sender ID is the first 8 bytes of SHA-256 of the Noise key it
// carries, its Ed25519 signature verifies with the signing key it carries, and it is recent. The
// signing key is the node's identity key, so the announce also says which Hyphae PeerId stands
// behind a mesh ID (PeerId::from_ed25519 of TLV 0x03).
// Stateless; safe from any thread.
#pragma once

#include <expected>
#include <string>
#include <system_error>
#include <vector>

#include "bitchat/payloads.hpp"
#include "core/identity.hpp"
#include "core/peer_id.hpp"

namespace hyphae::bitchat {

// Capability bits this node announces (TLV 0x05): none of the app's optional features yet.
inline constexpr std::uint64_t kHyphaeCapabilities = 0;

struct AnnounceOptions {
  std::string nickname;
  std::vector<ShortId> neighbours;  // up to 10, the live links' peers
  std::uint64_t capabilities = kHyphaeCapabilities;
};

// The node's announce: type 0x01, broadcast, TTL 7, v1, signed with the identity key.
std::expected<Packet, std::error_code> make_announce(const Identity& identity, const Key32& noise_public,
                                                     const AnnounceOptions& options, std::uint64_t now_ms);

struct VerifiedAnnounce {
  Announce announce;
  ShortId mesh_id{};
  PeerId peer_id;  // the Hyphae identity behind the signing key
};

// Errors: invalid_argument (not an announce), malformed (bad TLVs or no signature),
// peer_id_mismatch (the sender ID is not the Noise key's), bad_signature, stale (timestamp more
// than max_skew_ms from now).
std::expected<VerifiedAnnounce, std::error_code> verify_announce(const Packet& packet, std::uint64_t now_ms,
                                                                 std::uint64_t max_skew_ms = 15 * 60 * 1000);

// SHA-256 of a Noise static key, first 8 bytes: the mesh ID BitChat derives from it.
ShortId mesh_id_of(const Key32& noise_public);

}  // namespace hyphae::bitchat
