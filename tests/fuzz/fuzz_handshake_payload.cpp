// Fuzz target: the libp2p Noise handshake payload parser. Input = 32-byte remote Noise static key
// followed by the payload. Also drives PeerId parsing (bytes and text) over the same input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/peer_id.hpp"
#include "transport/stream/handshake_payload.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (auto id = hyphae::PeerId::from_bytes({data, size})) {
    if (auto back = hyphae::PeerId::from_string(id->to_string()); !back || *back != *id) std::abort();
  }
  (void)hyphae::PeerId::from_string(std::string_view(reinterpret_cast<const char*>(data), size));

  if (size < 32) return 0;
  std::array<std::uint8_t, 32> remote_static;
  std::memcpy(remote_static.data(), data, remote_static.size());
  auto peer = hyphae::verify_handshake_payload({data + 32, size - 32}, remote_static);
  if (peer && !peer->ed25519_public_key()) std::abort();
  return 0;
}
