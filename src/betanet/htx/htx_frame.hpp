// HTX frames and their protection: the wire unit of the privacy transport's links, sans-IO.
//
// A frame (all integers big-endian):
//   magic 0xB7 | version/flags (0x11: HTX 1.1) | length (uint24: ciphertext bytes, tag excluded) |
//   type (0 STREAM, 1 PING, 2 CLOSE, 3 KEY_UPDATE, 4 WINDOW_UPDATE) | sequence (uint32: frames sent
//   in this direction, mod 2^32) | timestamp (uint64, sender's milliseconds) |
//   stream id (QUIC varint; STREAM and WINDOW_UPDATE only) | ciphertext || tag (16) | CRC32 (4)
// The header up to the stream id is the AEAD's associated data; the CRC32 (zlib) covers all that
// precedes it and catches a damaged frame before any decryption.
//
// Protection (Betanet 1.1 section 5.3): ChaCha20-Poly1305 (IETF) per frame with
// nonce = NS XOR (LE64(counter) || LE32(0)), the counter starting at 0 under each key;
// NS = HKDF-SHA256(salt "", key, info "ns", 12 bytes). KEY_UPDATE: the sender's next key is
// K' = HKDF-SHA256(salt = the handshake hash, K, info "next", 32), counter 0, new NS; it sends
// KEY_UPDATE under the old key and uses the new one from the next frame on. A direction updates at
// 2^16 frames, 8 GiB or one hour, whichever comes first.
// Thread-safety: none (one owner). Ownership: HtxDirection owns its key and wipes it.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>

#include "core/bytes.hpp"

namespace hyphae::htx {

inline constexpr std::uint8_t kMagic = 0xB7;
inline constexpr std::uint8_t kVersion = 0x11;
inline constexpr std::size_t kFixedHeaderBytes = 18;
inline constexpr std::size_t kTagBytes = 16;
inline constexpr std::size_t kCrcBytes = 4;
inline constexpr std::size_t kMaxStreamIdBytes = 8;
inline constexpr std::uint64_t kMaxStreamId = (std::uint64_t{1} << 62) - 1;

enum class FrameType : std::uint8_t { stream = 0, ping = 1, close = 2, key_update = 3, window_update = 4 };

struct FrameHeader {
  FrameType type = FrameType::stream;
  std::uint32_t length = 0;  // ciphertext bytes, tag excluded
  std::uint32_t sequence = 0;
  std::uint64_t timestamp_ms = 0;
  std::uint64_t stream_id = 0;  // STREAM and WINDOW_UPDATE
};

bool has_stream_id(FrameType t);
// Appends the header (the associated data).
void put_header(Bytes& out, const FrameHeader& h);

struct ParsedFrame {
  FrameHeader header;
  ByteView ad;           // the header bytes
  ByteView sealed;       // ciphertext || tag
  std::size_t size = 0;  // the whole frame, CRC included
};
// The first complete frame in `buffer`: nullopt when more bytes are needed; an error (with the
// reason) for a bad magic, version, type, stream id, a length over `max_length` or a CRC mismatch.
std::expected<std::optional<ParsedFrame>, std::string> parse_frame(ByteView buffer, std::size_t max_length);

// QUIC variable-length integers (RFC 9000 section 16).
void put_quic_varint(Bytes& out, std::uint64_t v);
// The value and its size, nullopt if `in` ends first.
std::optional<std::pair<std::uint64_t, std::size_t>> read_quic_varint(ByteView in);

// One direction's key, nonce salt and counters.
class HtxDirection {
 public:
  HtxDirection(const std::array<std::uint8_t, 32>& key, ByteView handshake_hash, std::uint64_t now_ms);
  ~HtxDirection();
  HtxDirection(const HtxDirection&) = delete;
  HtxDirection& operator=(const HtxDirection&) = delete;

  // Appends header || ciphertext || tag || CRC32 for `h` (h.length is set from the plaintext).
  void seal_frame(FrameHeader h, ByteView plaintext, Bytes& out);
  // Opens a parsed frame; nullopt if the tag does not verify.
  std::optional<Bytes> open_frame(const ParsedFrame& f);
  // The next key (both sides call it at the KEY_UPDATE).
  void update(std::uint64_t now_ms);
  bool due_for_update(std::uint64_t now_ms) const;

  std::uint32_t generation() const { return generation_; }
  std::uint64_t frames_under_key() const { return counter_; }
  std::uint32_t next_sequence() const { return sequence_; }

  static constexpr std::uint64_t kUpdateFrames = std::uint64_t{1} << 16;
  static constexpr std::uint64_t kUpdateBytes = std::uint64_t{8} << 30;
  static constexpr std::uint64_t kUpdateMs = 3'600'000;

 private:
  void install(std::uint64_t now_ms);
  std::array<std::uint8_t, 12> nonce() const;

  std::array<std::uint8_t, 32> key_{};
  std::array<std::uint8_t, 12> salt_{};
  Bytes handshake_hash_;
  std::uint64_t counter_ = 0, bytes_ = 0, since_ms_ = 0;
  std::uint32_t sequence_ = 0, generation_ = 0;
};

}  // namespace hyphae::htx
