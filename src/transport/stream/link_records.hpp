// Link records: the plaintext carried inside a mesh link's Noise transport frames.
// Decrypted frame payloads form one byte stream of records `type u8 | uvarint length | body`,
// so a record may span frames and a frame may hold many records (batching). See docs/wire-format.md.
// RecordReader is sans-IO, not thread-safe, owned by one link.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <system_error>

#include "core/bytes.hpp"

namespace hyphae::stream {

enum class RecordType : std::uint8_t {
  data = 1,       // a durable envelope: the receiver commits it, then acks its id
  ack = 2,        // n x 16-byte message ids committed by the receiver
  ping = 3,       // 8-byte token, answered with pong
  pong = 4,       // echoes the ping token
  ephemeral = 5,  // an envelope for real-time delivery: no store, no ack
  close = 6,      // UTF-8 reason; the sender closes after it
  fragment = 7,   // one fragment of a larger record (docs/wire-format.md, "Fragments")
  discovery = 8,  // a discovery message: a signed peer record, PEER_QUERY or PEER_FOUND
  relay = 9,      // a relay message: reservations, circuits, held messages
};

struct Record {
  RecordType type;
  ByteView body;  // valid until the next feed()/next() on the reader
};

void put_record(Bytes& out, RecordType type, ByteView body);
// Writes only the header; the caller appends `body_size` bytes of body right after.
void put_record_header(Bytes& out, RecordType type, std::size_t body_size);

class RecordReader {
 public:
  explicit RecordReader(std::size_t max_record) : max_record_(max_record) {}
  void feed(ByteView plaintext) { append(buffer_, plaintext); }
  // Next complete record, nullopt when more bytes are needed, or Errc::too_large / Errc::malformed
  // (unknown type, bad varint). Unknown types are an error: both ends speak the same version.
  std::expected<std::optional<Record>, std::error_code> next();

 private:
  Bytes buffer_;
  std::size_t consumed_ = 0;
  std::size_t max_record_;
};

}  // namespace hyphae::stream
