// Fuzz target: BitChat packet decoding (tolerant: raw, then unpadded; compressed payloads) and the
// payload decoders (announce, private message, fragment, REQUEST_SYNC). A decoded packet must
// re-encode and decode to the same fields; a decoded payload must re-encode to bytes that decode
// to the same value (the Noise payload type alias 0x09 comes back as 0x20). The first byte picks
// the decoder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "bitchat/packet.hpp"
#include "bitchat/payloads.hpp"

using namespace hyphae;
using namespace hyphae::bitchat;

namespace {
void check_packet(ByteView in) {
  DecodeLimits limits;
  limits.max_payload = 1 << 16;
  auto p = decode(in, limits);
  if (!p) return;
  if (p->payload.size() > limits.max_payload) std::abort();
  auto again = encode(*p, EncodeOptions{false, false});
  if (!again) {
    // Only a v1 packet whose decompressed payload outgrew 64 KiB may fail to re-encode.
    if (p->version == 1 && p->payload.size() > 0xffff) return;
    std::abort();
  }
  auto back = decode(*again, limits);
  if (!back || back->payload != p->payload || back->sender != p->sender || back->recipient != p->recipient ||
      back->route != p->route || back->signature != p->signature || back->ttl != p->ttl ||
      back->timestamp_ms != p->timestamp_ms || back->type != p->type)
    std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ByteView in(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      check_packet(in);
      break;
    case 1:
      if (auto a = decode_announce(in)) {
        auto again = encode_announce(*a);
        if (!again || !decode_announce(*again)) std::abort();
      }
      break;
    case 2:
      if (auto n = decode_noise_payload(in)) {
        // Type 0x09 (a prerelease alias) reads as privateFile (0x20), so it re-encodes as 0x20;
        // every other byte must come back as it was.
        Bytes expected(in.begin(), in.end());
        if (expected[0] == 0x09) expected[0] = 0x20;
        if (encode_noise_payload(*n) != expected) std::abort();
        if (auto m = decode_private_message(n->data)) {
          auto again = encode_private_message(*m);
          if (!again) std::abort();
          auto back = decode_private_message(*again);
          if (!back || back->content != m->content || back->message_id != m->message_id) std::abort();
        }
      }
      break;
    case 3:
      if (auto f = decode_fragment(in)) {
        if (encode_fragment(*f) != Bytes(in.begin(), in.end())) std::abort();
      }
      break;
    case 4:
      if (auto r = decode_request_sync(in)) {
        auto back = decode_request_sync(encode_request_sync(*r));
        if (!back || back->p != r->p || back->m != r->m || back->filter != r->filter) std::abort();
      }
      break;
  }
  return 0;
}
