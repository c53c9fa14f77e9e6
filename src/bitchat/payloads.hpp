// The payloads inside BitChat packets that a mesh node must read: announces (u8 TLVs), private
// messages inside Noise (a NoisePayload type byte, then u8 TLVs), fragments (BitChat's 13-byte
// fragment header) and REQUEST_SYNC (u16 TLVs carrying a Golomb-coded set). Decoders are tolerant
// the way the apps are (unknown TLVs are kept and skipped) and strict about lengths.
// Facts and golden bytes: docs/bitchat.md ("Pieces", "Gossip sync"); tests/vectors/bitchat/.
// Sans-IO and stateless; values own their bytes.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "bitchat/packet.hpp"

namespace hyphae::bitchat {

using Key32 = std::array<std::uint8_t, 32>;

// Announce (type 0x01). TLVs 0x01 nickname, 0x02 Noise static key and 0x03 Ed25519 key are
// required; 0x04 neighbours (up to 10 IDs), 0x05 capabilities (a minimal little-endian bit field),
// 0x06 bridge geohash are optional; others are kept in `unknown` and re-encoded after the known ones.
struct Announce {
  std::string nickname;
  Key32 noise_key{};
  Key32 signing_key{};
  std::vector<ShortId> neighbours;
  std::optional<std::uint64_t> capabilities;
  std::optional<std::string> bridge_geohash;
  std::vector<std::pair<std::uint8_t, Bytes>> unknown;
};
inline constexpr std::size_t kMaxAnnouncedNeighbours = 10;
std::expected<Bytes, std::error_code> encode_announce(
    const Announce& a);  // invalid_argument: a field over 255 B
std::expected<Announce, std::error_code> decode_announce(ByteView payload);

// What a noiseEncrypted packet carries once decrypted: a type byte and its data.
enum class NoisePayloadType : std::uint8_t {
  private_message = 0x01,
  read_receipt = 0x02,
  delivered = 0x03,
  private_file = 0x20,  // 0x09 (a prerelease alias) decodes as this
};
struct NoisePayload {
  std::uint8_t type = 0;
  Bytes data;
};
Bytes encode_noise_payload(const NoisePayload& p);
std::expected<NoisePayload, std::error_code> decode_noise_payload(ByteView plaintext);

// privateMessage data: TLV 0x00 message ID (a UUID string), 0x01 content (so content <= 255 bytes).
struct PrivateMessage {
  std::string message_id;
  std::string content;
};
std::expected<Bytes, std::error_code> encode_private_message(const PrivateMessage& m);
std::expected<PrivateMessage, std::error_code> decode_private_message(ByteView data);

// Fragment (type 0x20) payload: fragment ID (8 random bytes), index and total (u16 BE), the original
// packet's type, then this fragment's share of the original frame.
struct FragmentPayload {
  std::array<std::uint8_t, 8> fragment_id{};
  std::uint16_t index = 0;
  std::uint16_t total = 0;
  std::uint8_t original_type = 0;
  Bytes data;
};
inline constexpr std::size_t kFragmentHeaderSize = 13;
Bytes encode_fragment(const FragmentPayload& f);
std::expected<FragmentPayload, std::error_code> decode_fragment(
    ByteView payload);  // malformed: index >= total

// REQUEST_SYNC (type 0x21): TLVs with u16 BE lengths: 0x01 P (u8), 0x02 M (u32), 0x03 the GCS bytes;
// iOS adds 0x04 type flags, 0x05 a since-timestamp, 0x06 a fragment-ID filter (kept as bytes).
struct RequestSync {
  std::uint8_t p = 0;
  std::uint32_t m = 0;
  Bytes filter;
  std::vector<std::pair<std::uint8_t, Bytes>> other;  // 0x04.. and unknown TLVs, in order
};
inline constexpr std::size_t kMaxSyncFilterBytes = 1024;  // receivers refuse larger filters
Bytes encode_request_sync(const RequestSync& r);
std::expected<RequestSync, std::error_code> decode_request_sync(ByteView payload);

}  // namespace hyphae::bitchat
