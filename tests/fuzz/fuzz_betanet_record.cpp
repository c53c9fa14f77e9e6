// Fuzz target: the BetaNet transport's record, as a recipient reads it out of a private message
// (the sender's PeerId, its signature, the kind and body) and a broadcast's body. Raw bytes must
// be refused with a reason, never crash; a record signed over any kind and body must decode to
// exactly that, for its recipient and id only; a broadcast body that decodes re-encodes the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "transport/betanet/betanet_record.hpp"

using namespace hyphae;
using namespace hyphae::transport;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Identity sender = Identity::generate();
  static const Identity recipient = Identity::generate();
  const ByteView input(data, size);
  betanet_record::PrivateId id{};
  if (size >= id.size()) std::copy_n(data, id.size(), id.begin());

  // Raw bytes as a record: refused or, if they verify, self-consistent.
  if (auto r = betanet_record::decode(input, recipient.peer_id(), id); r && r->sender.empty()) std::abort();

  // A genuine record over these bytes decodes to them, and only for its recipient and id.
  const std::uint8_t kind = size > 0 ? data[0] : 1;
  const Bytes record = betanet_record::encode(sender, recipient.peer_id(), id, kind, input);
  auto back = betanet_record::decode(record, recipient.peer_id(), id);
  if (!back || back->kind != kind || back->sender != sender.peer_id() ||
      !std::equal(back->body.begin(), back->body.end(), input.begin(), input.end()))
    std::abort();
  if (betanet_record::decode(record, sender.peer_id(), id)) std::abort();  // another recipient
  auto other = id;
  other[0] ^= 1;
  if (betanet_record::decode(record, recipient.peer_id(), other)) std::abort();  // another id

  // Broadcast bodies: a decoded one re-encodes byte for byte.
  if (auto b = betanet_record::decode_broadcast_body(input)) {
    const Bytes again = betanet_record::encode_broadcast_body(b->channel, b->timestamp_ms, b->payload);
    if (!std::equal(again.begin(), again.end(), input.begin(), input.end())) std::abort();
  }
  return 0;
}
