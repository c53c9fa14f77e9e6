// bitchat::Packet: BitChat's binary packet (versions 1 and 2), as the BitChat apps put it on a
// link: big-endian header (version, type, TTL, millisecond timestamp, flags, payload length), the
// 8-byte sender and optional recipient IDs, the v2 source route, the payload (optionally raw
// DEFLATE with its original size in front) and an optional Ed25519 signature over the packet
// re-encoded with TTL 0. Frames may carry PKCS#7 padding to 256/512/1024/2048 bytes. Facts and
// golden bytes: docs/bitchat.md ("Packets"), tests/vectors/bitchat/.
// Sans-IO, no state: every function is safe from any thread. Values own their bytes.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"

namespace hyphae::bitchat {

using ShortId =
    std::array<std::uint8_t, 8>;  // BitChat's 8-byte peer ID (SHA-256 of the Noise key, truncated)
using Signature = std::array<std::uint8_t, 64>;
inline constexpr ShortId kBroadcastId = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
inline constexpr std::uint8_t kDefaultTtl = 7;

enum class MessageType : std::uint8_t {
  announce = 0x01,
  message = 0x02,  // public broadcast: bare UTF-8 text, signed
  leave = 0x03,
  noise_handshake = 0x10,
  noise_encrypted = 0x11,
  fragment = 0x20,
  request_sync = 0x21,
  file_transfer = 0x22,
};

namespace flags {
inline constexpr std::uint8_t has_recipient = 0x01;
inline constexpr std::uint8_t has_signature = 0x02;
inline constexpr std::uint8_t is_compressed = 0x04;
inline constexpr std::uint8_t has_route = 0x08;  // version 2 only; version 1 ignores it
inline constexpr std::uint8_t is_rsr = 0x10;     // a solicited sync response (iOS)
}  // namespace flags

struct Packet {
  std::uint8_t version = 1;  // 1 or 2
  std::uint8_t type = 0;     // MessageType, kept raw: unknown types decode and relay as they are
  std::uint8_t ttl = kDefaultTtl;
  std::uint64_t timestamp_ms = 0;
  ShortId sender{};
  std::optional<ShortId> recipient;  // absent or kBroadcastId: broadcast
  std::vector<ShortId> route;        // v2 source route: the intermediate hops only
  Bytes payload;                     // as the application sees it (decompressed)
  std::optional<Signature> signature;
  bool rsr = false;
  // For a packet decoded from a compressed frame: the DEFLATE bytes exactly as received. Encoding
  // reuses them, so a signature made over another implementation's compressor still verifies.
  std::optional<Bytes> received_compressed;

  bool is_broadcast() const { return !recipient || *recipient == kBroadcastId; }
};

struct EncodeOptions {
  bool pad = true;       // PKCS#7 to the next of 256/512/1024/2048 (skipped when it cannot fit)
  bool compress = true;  // raw DEFLATE when the payload is eligible and it shrinks
};

// The frame bytes (a route on a v1 packet is left out). Errors: invalid_argument (version not 1 or
// 2, more than 255 hops),
// too_large (payload over 64 KiB in v1 or 4 GiB in v2).
std::expected<Bytes, std::error_code> encode(const Packet& packet, const EncodeOptions& options = {});

// DEFLATE codes at best a 258-byte match in 2 bits: no stream expands more than 1032 times.
inline constexpr std::size_t kMaxDeflateExpansion = 1032;

struct DecodeLimits {
  std::size_t max_payload = 1u << 20;                // decompressed bytes
  std::size_t max_expansion = kMaxDeflateExpansion;  // decompressed / compressed (the apps: 50 000)
};

// Tolerant, as the apps are: the frame as received first, then with PKCS#7 padding stripped;
// version 1 ignores has_route; compressed data may be raw or zlib-wrapped DEFLATE. Errors:
// truncated, malformed (version, lengths, trailing bytes, bad compressed data), too_large (a
// payload over max_payload, or a stated original size over max_expansion times the compressed
// bytes: refused before anything is allocated for it).
std::expected<Packet, std::error_code> decode(ByteView frame, const DecodeLimits& limits = {});

// The fixed header of a frame, read without decoding the rest (nothing is inflated or copied):
// what a relay needs to charge a sender before it pays for decompression. nullopt when the frame
// is too short for a header or its version is not 1 or 2; a frame with a head may still not decode.
struct FrameHead {
  std::uint8_t version = 0;
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  ShortId sender{};
  bool compressed() const { return (flags & flags::is_compressed) != 0; }
};
std::optional<FrameHead> peek_head(ByteView frame);

// The bytes the Ed25519 signature covers: the packet encoded with TTL 0, no signature and isRSR
// cleared, compressed as received (or as encode() would) and padded.
std::expected<Bytes, std::error_code> signing_bytes(const Packet& packet);
// Signs with a libsodium Ed25519 secret key (64 bytes) and sets packet.signature.
std::error_code sign(Packet& packet, ByteView ed25519_secret_key);
// The same with a signer that holds the key (e.g. Identity::sign).
std::error_code sign_with(Packet& packet, const std::function<Signature(ByteView)>& signer);
// Checks packet.signature against a 32-byte Ed25519 public key: bad_signature or ok.
std::error_code verify(const Packet& packet, ByteView ed25519_public_key);

// PKCS#7 padding to the smallest block of 256/512/1024/2048 with size + 16 <= block; unchanged when
// more than 255 pad bytes or a block beyond 2048 would be needed.
Bytes pad(ByteView frame);
// The frame without valid PKCS#7 padding (nullopt when the tail is not valid padding).
std::optional<ByteView> unpad(ByteView frame);

// Raw DEFLATE (RFC 1951). compress() returns nullopt unless the payload is eligible (>= 100 bytes,
// fewer than 90 % distinct bytes over the first 256) and the result is smaller.
std::optional<Bytes> compress(ByteView payload);
// Raw or zlib-wrapped DEFLATE to exactly `original_size` bytes; malformed otherwise (too_large for
// sizes zlib cannot take, over 4 GiB). The output grows as the stream really produces bytes, so a
// stream that breaks early costs little whatever size it states.
std::expected<Bytes, std::error_code> decompress(ByteView data, std::size_t original_size);

}  // namespace hyphae::bitchat
