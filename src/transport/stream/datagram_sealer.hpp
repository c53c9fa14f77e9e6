// DatagramSealer: protects the records a link sends beside its stream, on a path that may lose
// messages but never reorders them (a WebRTC data channel with ordered: true, maxRetransmits: 3).
// The stream's Noise cipher cannot be used there (its nonces count every frame, so one loss would
// break it), so each direction gets its own key, derived from the link's Noise handshake hash (the
// same on both ends only if they ran that handshake together): BLAKE2b-256 keyed with the hash over
// "hyphae-datagram-v1 i2r" or "… r2i". A datagram is
//   counter u64 (big-endian) ‖ ChaCha20-Poly1305(key, nonce = 0⁴ ‖ counter LE, aad = counter, plaintext)
// Counters start at 1 and only go up; the receiver drops any datagram whose counter is not above
// the last one it accepted (a replay, or an old one), whose tag does not verify, or that is shorter
// than a header and a tag. Keys are wiped when the sealer goes.
// Thread-safety: none (the link's strand). Ownership: plain values.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "core/bytes.hpp"

namespace hyphae::stream {

class DatagramSealer {
 public:
  static constexpr std::size_t kOverhead = 8 + 16;

  DatagramSealer(ByteView handshake_hash, bool initiator);
  ~DatagramSealer();
  DatagramSealer(const DatagramSealer&) = delete;
  DatagramSealer& operator=(const DatagramSealer&) = delete;

  // One datagram carrying `plaintext`.
  Bytes seal(ByteView plaintext);
  // The plaintext, or nullopt (dropped: forged, damaged, replayed or too old).
  std::optional<Bytes> open(ByteView datagram);

  std::uint64_t sent() const { return send_counter_; }
  std::uint64_t dropped() const { return dropped_; }

 private:
  std::array<std::uint8_t, 32> send_key_{}, recv_key_{};
  std::uint64_t send_counter_ = 0, last_received_ = 0, dropped_ = 0;
};

}  // namespace hyphae::stream
