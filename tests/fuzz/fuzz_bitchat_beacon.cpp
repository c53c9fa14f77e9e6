// Fuzz target: LanLink's beacon decoder (src/bitchat/link/lan_link.hpp). decode_beacon must not
// crash; when it decodes, the input starts with the beacon magic, is at least 18 bytes, and
// re-encoding the beacon gives back exactly its first 18 bytes (extra bytes are ignored).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "bitchat/link/lan_link.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyphae::bitchat;
  hyphae::ByteView input(data, size);
  auto beacon = decode_beacon(input);
  if (!beacon) {
    if (!beacon.error()) std::abort();
    return 0;
  }
  if (size < kBeaconSize || !has_beacon_magic(input)) std::abort();
  if (beacon->port == 0 || beacon->mtu < kMinLanMtu || beacon->mesh_id == kBroadcastId) std::abort();
  auto again = encode_beacon(*beacon);
  if (again.size() != kBeaconSize || !std::equal(again.begin(), again.end(), data)) std::abort();
  auto back = decode_beacon(again);
  if (!back || !(*back == *beacon)) std::abort();
  return 0;
}
