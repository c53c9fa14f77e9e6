// Sphinx packets (Danezis and Goldberg, 2009, in the geometry of the Katzenpost specification) for
// the privacy transport's mixnet: a sender wraps a fixed-size payload in one layer per hop; each hop
// peels its layer with its X25519 routing key and learns only the next hop (or that it is the last
// one). Every packet is kPacketBytes long at every hop; a header or payload changed in transit fails
// the next hop's MAC or the last hop's zero tag.
//
// Parameters (all on libsodium): X25519 group elements, blinded per hop; per-hop keys from the
// shared secret with libsodium's KDF (keyed BLAKE2b, context "hyphsphx", subkeys 1 to 4 of 64 bytes:
// MAC key, stream key, Lioness key, blinding factor); header MAC HMAC-SHA256 truncated to 16 bytes
// over version || alpha || beta; routing information encrypted with the ChaCha20 (IETF) stream
// (zero nonce; the key is single-use); the payload with Lioness over ChaCha20 and keyed BLAKE2b;
// replay tag BLAKE2b-256 of the shared secret; at most 5 hops.
//
//   packet  = header (330) || payload (2064)
//   header  = version (2: 0x01 0x00) || alpha (32) || beta (5 x 56 = 280) || gamma (16)
//   payload = 16 zero bytes (the tag) || body (2048), under one Lioness layer per hop
//
// Per-hop routing commands, 56 bytes per hop, zero padded (0x00 ends the list):
//   0x01 next hop: node id (32) || the next hop's MAC (16)
//   0x02 recipient: node id (32)       — this hop is the last one
//   0x03 SURB reply: SURB id (16)      — with 0x02: the payload answers a reply block
//
// A single-use reply block (SURB) is a header and first hop made by the party that will receive the
// reply (the SURB's last hop is itself), plus the key the replier encrypts the reply with.
// Thread-safety: stateless functions. Ownership: values; secrets are wiped with sodium_memzero.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <vector>

#include "betanet/sphinx/lioness.hpp"
#include "core/bytes.hpp"

namespace hyphae::sphinx {

inline constexpr std::size_t kMaxHops = 5;
inline constexpr std::size_t kPerHopBytes = 56;
inline constexpr std::size_t kRoutingBytes = kMaxHops * kPerHopBytes;  // 280
inline constexpr std::size_t kVersionBytes = 2;
inline constexpr std::size_t kGroupBytes = 32;
inline constexpr std::size_t kMacBytes = 16;
inline constexpr std::size_t kHeaderBytes = kVersionBytes + kGroupBytes + kRoutingBytes + kMacBytes;  // 330
inline constexpr std::size_t kTagBytes = 16;
inline constexpr std::size_t kBodyBytes = 2048;
inline constexpr std::size_t kPayloadBytes = kTagBytes + kBodyBytes;             // 2064
inline constexpr std::size_t kPacketBytes = kHeaderBytes + kPayloadBytes;        // 2394
inline constexpr std::size_t kSurbBytes = kHeaderBytes + 32 + kLionessKeyBytes;  // 490

using NodeId = std::array<std::uint8_t, 32>;
using SurbId = std::array<std::uint8_t, 16>;
using PublicKey = std::array<std::uint8_t, 32>;
using SecretKey = std::array<std::uint8_t, 32>;
using ReplayTag = std::array<std::uint8_t, 32>;

struct Hop {
  NodeId id;
  PublicKey key;  // the hop's X25519 routing key for the current epoch
};

// What the last hop is told.
struct Destination {
  NodeId recipient;
  std::optional<SurbId> surb;  // set in reply blocks
};

enum class SphinxError {
  wrong_size,         // not kPacketBytes (or a SURB not kSurbBytes)
  bad_path,           // 0 or more than kMaxHops hops (creation)
  bad_body,           // longer than kBodyBytes (creation)
  bad_group_element,  // alpha is a low-order point
  bad_mac,            // the header was changed, or it is not for this key
  bad_command,        // unknown or inconsistent routing commands
  tagged_payload,     // the last hop's tag is not zero: the payload was changed
};
const char* to_string(SphinxError e);

// A forward packet along `path` (its last hop is the destination) carrying `body` (zero padded to
// kBodyBytes). `ephemeral` fixes the sender's secret (tests and vectors); otherwise it is random.
std::expected<Bytes, SphinxError> create_packet(std::span<const Hop> path, const Destination& destination,
                                                ByteView body, const SecretKey* ephemeral = nullptr);

struct Unwrapped {
  ReplayTag replay_tag{};  // the same for every copy of this packet at this hop and key
  bool forward = false;
  NodeId next_hop{};           // forward: where `packet` goes
  Bytes packet;                // forward: the packet for the next hop, kPacketBytes
  NodeId recipient{};          // last hop
  std::optional<SurbId> surb;  // last hop of a reply block: the payload is a reply
  Bytes payload;               // last hop: the payload after this hop's layer (kPayloadBytes)
  Bytes body;                  // last hop, forward packets: the body, its zero tag checked
};

// Peels one layer with this hop's routing key. The caller keeps replay tags per key epoch and drops
// a packet whose tag it has seen.
std::expected<Unwrapped, SphinxError> unwrap(const SecretKey& routing_key, ByteView packet);

// A reply block: what the replier needs (header, first hop, key), serialised as kSurbBytes.
struct Surb {
  std::array<std::uint8_t, kHeaderBytes> header{};
  NodeId first_hop{};
  LionessKey key{};
  Bytes serialize() const;
  static std::expected<Surb, SphinxError> parse(ByteView bytes);
};
// What its maker keeps to read the reply: the SURB key and the payload keys of every hop (its own,
// the last, included: its unwrap peels that layer like any other, and open_reply puts it back).
struct SurbSecrets {
  SurbId id{};
  LionessKey key{};
  std::vector<LionessKey> hop_keys;
  ~SurbSecrets();
};
// `path`'s last hop is the maker itself; `destination.surb` must be set.
std::expected<std::pair<Surb, SurbSecrets>, SphinxError> create_surb(std::span<const Hop> path,
                                                                     const Destination& destination,
                                                                     const SecretKey* ephemeral = nullptr,
                                                                     const LionessKey* surb_key = nullptr);
// The packet a replier sends to surb.first_hop.
std::expected<Bytes, SphinxError> surb_packet(const Surb& surb, ByteView body);
// The reply's body from the payload the maker's own unwrap returned; tagged_payload if changed.
std::expected<Bytes, SphinxError> open_reply(const SurbSecrets& secrets, ByteView payload);

// X25519 key pair for a routing key.
std::pair<PublicKey, SecretKey> generate_routing_key();
PublicKey routing_public_key(const SecretKey& secret);

}  // namespace hyphae::sphinx
