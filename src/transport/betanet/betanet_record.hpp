// The BetaNet transport's record: what one private message through the mixnet carries between two
// nodes. The mixes see none of it (it travels inside the Sphinx payload); the recipient learns the
// sender from it, and the sender's signature proves it.
//
//   0x01 (version) | kind (1: a transport::RecordKind, or 0x80 a broadcast) |
//   sender PeerId length (1) | sender PeerId | Ed25519 signature (64) | body
//   signed: "hyphae-betanet-record-v1" || recipient PeerId || private message id (16) || kind || body
//     (a broadcast goes as one copy per recipient, each signed for it)
//   broadcast body: channel length (1, at most 64) | channel | sender's clock, ms (u64 BE) | payload
//
// Decoding is a pure function of its bytes: errors name the field, nothing is thrown.
// Thread-safety: pure functions. Ownership: values.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <string>

#include "core/bytes.hpp"
#include "core/identity.hpp"
#include "core/peer_id.hpp"

namespace hyphae::transport::betanet_record {

inline constexpr std::uint8_t kVersion = 0x01;
inline constexpr std::uint8_t kBroadcast = 0x80;
inline constexpr std::size_t kSignatureBytes = 64;
inline constexpr std::size_t kMaxChannel = 64;
using PrivateId = std::array<std::uint8_t, 16>;

// Bytes a record adds around its body for `sender`.
std::size_t overhead(const PeerId& sender);

Bytes encode(const Identity& sender, const PeerId& recipient, const PrivateId& id, std::uint8_t kind,
             ByteView body);

struct Record {
  std::uint8_t kind = 0;
  PeerId sender;
  Bytes body;
};
// Checks the version, the sender's PeerId (an Ed25519 one) and the signature for `self` as the
// recipient and `id` as the private message's id.
std::expected<Record, std::string> decode(ByteView bytes, const PeerId& self, const PrivateId& id);

Bytes encode_broadcast_body(std::string_view channel, std::uint64_t timestamp_ms, ByteView payload);
struct BroadcastBody {
  std::string channel;
  std::uint64_t timestamp_ms = 0;
  Bytes payload;
};
std::expected<BroadcastBody, std::string> decode_broadcast_body(ByteView body);

}  // namespace hyphae::transport::betanet_record
