// Fuzz target: a datagram from a WebRTC link's partially reliable channel, as a stranger (or a
// damaged path) may deliver it. The first input byte chooses which key it is opened with (the
// real peer's, or another handshake's); the rest is the datagram. Nothing may open unless it was
// sealed by the matching sealer; a genuine datagram sealed after the input still opens, once.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "transport/stream/datagram_sealer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using hyphae::Bytes;
  using hyphae::ByteView;
  using hyphae::stream::DatagramSealer;
  if (size == 0) return 0;
  const Bytes hash(32, data[0] & 1 ? 0x11 : 0x22);
  DatagramSealer sender(Bytes(32, 0x11), true), receiver(hash, false);
  const ByteView input(data + 1, size - 1);
  // Forging a tag is out of reach for a fuzzer: anything that opens was sealed by `sender`, and it
  // has sealed nothing yet.
  if (receiver.open(input)) std::abort();
  // The genuine path still works afterwards (a flood of junk does not block it)...
  const Bytes plain(input.begin(), input.end());
  auto sealed = sender.seal(plain);
  auto opened = receiver.open(sealed);
  if ((data[0] & 1) != (opened.has_value() ? 1 : 0)) std::abort();
  if (opened && *opened != plain) std::abort();
  // ...and only once.
  if (receiver.open(sealed)) std::abort();
  return 0;
}
