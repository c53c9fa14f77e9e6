// Fuzz target: mDNS packets (the DNS message decoder with name compression) and the peers read
// from them. What decodes and encodes must decode again and encode to the same bytes; the peers
// found are bounded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "discovery/mdns.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyphae::discovery;
  auto m = decode_dns_message(hyphae::ByteView(data, size));
  if (!m) return 0;
  (void)asks_for_p2p(*m);
  for (const auto& p : peers_in(*m))
    if (p.addresses.empty() || p.addresses.size() > kMaxMdnsAddressesPerPeer) std::abort();
  if (auto encoded = encode_dns_message(*m)) {
    auto again = decode_dns_message(*encoded);
    if (!again) std::abort();
    auto twice = encode_dns_message(*again);
    if (!twice || *twice != *encoded) std::abort();
  }
  return 0;
}
