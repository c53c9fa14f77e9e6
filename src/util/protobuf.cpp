// Protobuf wire format: field reader and writers.
#include "util/protobuf.hpp"

namespace hyphae::protobuf {

bool next_field(ByteView data, std::size_t& pos, Field& f) {
  std::uint64_t tag = 0;
  if (!get_uvarint(data, pos, tag)) return false;
  f.number = tag >> 3;
  f.wire_type = static_cast<std::uint8_t>(tag & 7);
  if (f.number == 0 || f.number > kMaxFieldNumber) return false;
  switch (f.wire_type) {
    case kVarint:
      return get_uvarint(data, pos, f.varint);
    case kFixed64:
      if (data.size() - pos < 8) return false;
      pos += 8;
      return true;
    case kFixed32:
      if (data.size() - pos < 4) return false;
      pos += 4;
      return true;
    case kLengthDelimited: {
      std::uint64_t len = 0;
      if (!get_uvarint(data, pos, len) || len > data.size() - pos) return false;
      f.bytes = data.subspan(pos, static_cast<std::size_t>(len));
      pos += static_cast<std::size_t>(len);
      return true;
    }
    default:  // groups (3, 4) are deprecated; 6 and 7 do not exist
      return false;
  }
}

void put_varint_field(Bytes& out, std::uint64_t number, std::uint64_t value) {
  put_uvarint(out, number << 3 | kVarint);
  put_uvarint(out, value);
}

void put_bytes_field(Bytes& out, std::uint64_t number, ByteView value) {
  put_uvarint(out, number << 3 | kLengthDelimited);
  put_uvarint(out, value.size());
  out.insert(out.end(), value.begin(), value.end());
}

}  // namespace hyphae::protobuf
