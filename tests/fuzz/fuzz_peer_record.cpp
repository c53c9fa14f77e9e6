// Fuzz target: signed peer records. The input is opened as a signed envelope, decoded as a record
// payload and as a binary multiaddr. What decodes must survive a round trip: a record re-encodes
// to a payload that decodes to the same record, and a multiaddr prints to text that parses back
// to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "discovery/multiaddr.hpp"
#include "discovery/peer_record.hpp"
#include "discovery/signed_envelope.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyphae::discovery;
  const hyphae::ByteView input(data, size);
  (void)open_envelope(input, kPeerRecordDomain);
  if (auto record = open_peer_record(input); record && record->peer.empty()) std::abort();
  if (auto record = decode_peer_record(input)) {
    auto again = decode_peer_record(encode_peer_record(*record));
    if (!again || !(*again == *record)) std::abort();
  }
  if (auto text = multiaddr_to_text(input)) {
    auto bytes = multiaddr_from_text(*text);
    if (!bytes || *bytes != hyphae::Bytes(input.begin(), input.end())) std::abort();
  }
  return 0;
}
