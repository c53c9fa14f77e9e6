// Fuzzes a responder LinkSession (Noise XX + libp2p payload) with arbitrary bytes from a dialer.
// Must fail cleanly with an error, never crash.
#include <cstddef>
#include <cstdint>

#include "core/identity.hpp"
#include "transport/stream/link_session.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyphae;
  static const Identity identity = Identity::from_seed(std::array<std::uint8_t, 32>{1, 2, 3});
  static const noise::KeyPair link_static = noise::KeyPair::generate();
  stream::LinkSession session(identity, link_static, false, std::nullopt);
  Bytes out;
  std::size_t cut = size > 0 ? data[0] % (size + 1) : 0;
  if (!session.on_bytes(ByteView(data, cut), out, [](const stream::Record&) {}))
    (void)session.on_bytes(ByteView(data + cut, size - cut), out, [](const stream::Record&) {});
  return 0;
}
