// Fuzz target: open_payload (src/node/sealing.hpp) over arbitrary bytes, for a recipient whose key is
// derived from a fixed seed (the seed corpus holds payloads sealed to it by seal_payload). Checks:
// an opened payload is exactly the input minus the overhead and names a sender; the same bytes never
// open for another recipient; and every input, sealed as a payload, opens back to itself.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/identity.hpp"
#include "crypto/noise/handshake_state.hpp"
#include "node/sealing.hpp"

namespace {

hyphae::noise::KeyPair keys_of(std::uint8_t fill) {
  std::array<std::uint8_t, 32> seed;
  seed.fill(fill);
  auto id = hyphae::Identity::from_seed(seed);
  hyphae::noise::KeyPair keys;
  keys.priv = id.x25519_private();
  keys.pub = id.x25519_public();
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const hyphae::noise::KeyPair recipient = keys_of(0x11);  // the seed corpus's recipient
  static const hyphae::noise::KeyPair sender = keys_of(0x22);     // the seed corpus's sender
  static const hyphae::noise::KeyPair stranger = keys_of(0x33);
  const hyphae::ByteView input(data, size);

  if (auto opened = hyphae::open_payload(recipient, input)) {
    if (size < hyphae::kSealedPayloadOverhead) std::abort();
    if (opened->payload.size() != size - hyphae::kSealedPayloadOverhead) std::abort();
    if (hyphae::open_payload(stranger, input)) std::abort();
  } else if (opened.error().value() == 0) {
    std::abort();
  }

  // Round trip: whatever the input, sealed to the recipient it opens to the same bytes and sender.
  if (size <= 4096) {
    auto sealed = hyphae::seal_payload(sender, recipient.pub, input);
    if (!sealed || sealed->size() != size + hyphae::kSealedPayloadOverhead) std::abort();
    auto back = hyphae::open_payload(recipient, *sealed);
    if (!back || back->sender_pub != sender.pub || back->payload.size() != size) std::abort();
    if (size && std::memcmp(back->payload.data(), data, size) != 0) std::abort();
    (*sealed)[(*sealed).size() / 2] ^= 0x01;  // one flipped bit anywhere: refused
    if (hyphae::open_payload(recipient, *sealed)) std::abort();
  }
  return 0;
}
