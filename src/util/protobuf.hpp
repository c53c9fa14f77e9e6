// A protobuf wire-format reader and writer, just what libp2p's messages need: fields one at a
// time (varints and length-delimited bytes; fixed32/64 skipped; groups refused).
// Thread-safety: pure functions. Ownership: a Field's bytes point into the caller's buffer.
#pragma once

#include <cstdint>

#include "core/bytes.hpp"

namespace hyphae::protobuf {

enum WireType : std::uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };
inline constexpr std::uint64_t kMaxFieldNumber = (1u << 29) - 1;

// One field. For kLengthDelimited, bytes is the value; for kVarint, varint is.
struct Field {
  std::uint64_t number = 0;
  std::uint8_t wire_type = 0;
  std::uint64_t varint = 0;
  ByteView bytes;
};

// Reads the next field at data[pos...]; false on malformed or truncated input.
bool next_field(ByteView data, std::size_t& pos, Field& f);

void put_varint_field(Bytes& out, std::uint64_t number, std::uint64_t value);
void put_bytes_field(Bytes& out, std::uint64_t number, ByteView value);

}  // namespace hyphae::protobuf
