// Fuzz target: discovery messages on a link (the type byte in front) and the PEER_QUERY and
// PEER_FOUND decoders behind it. What decodes must re-encode to something that decodes to the same
// message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "discovery/link_messages.hpp"
#include "discovery/peer_query.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyphae::discovery;
  hyphae::ByteView input(data, size);
  if (auto m = decode_link_message(input)) {
    if (encode_link_message(m->type, m->body) != hyphae::Bytes(input.begin(), input.end())) std::abort();
    input = m->body;  // the body goes to the decoders below, as on a link
  }
  if (auto q = decode_peer_query(input)) {
    auto again = decode_peer_query(encode_peer_query(*q));
    if (!again || !(*again == *q)) std::abort();
  }
  if (auto f = decode_peer_found(input)) {
    auto again = decode_peer_found(encode_peer_found(*f));
    if (!again || !(*again == *f)) std::abort();
  }
  return 0;
}
