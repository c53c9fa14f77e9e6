// Fuzzes the link's stream parsers: the 2-byte length-prefixed frame reader and the record reader
// that runs over decrypted frame payloads. Must never crash or read out of bounds.
#include <cstddef>
#include <cstdint>

#include "net/frame_reader.hpp"
#include "transport/stream/link_records.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyphae;
  net::FrameReader frames(size > 0 && (data[0] & 1) ? 1024 : 65535);
  stream::RecordReader records(4096);
  // Feed in two parts, so split reads are exercised too.
  std::size_t half = size / 2;
  for (ByteView part : {ByteView(data, half), ByteView(data + half, size - half)}) {
    frames.feed(part);
    for (;;) {
      auto frame = frames.next();
      if (!frame || !*frame) break;
      records.feed(**frame);
    }
    records.feed(part);
    for (;;) {
      auto record = records.next();
      if (!record || !*record) break;
    }
  }
  return 0;
}
