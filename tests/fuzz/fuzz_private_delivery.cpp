// Fuzz target: what reaches a node as the last hop of a Sphinx packet. The input is the body of a
// genuine packet addressed to the node (so it passes the MAC and reaches the body parser): a
// message with its reply block, an ack, or anything else. Nothing may be delivered that does not
// parse as a message; a delivered payload fits the format; an ack is sent for each message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "betanet/delivery/private_delivery.hpp"

using namespace hyphae;
using namespace hyphae::betanet;
using namespace hyphae::sphinx;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const SecretKey key = [] {
    SecretKey k{};
    k.fill(0x33);
    return k;
  }();
  static const NodeId self = [] {
    NodeId n{};
    n.fill(0xb0);
    return n;
  }();
  if (size > kBodyBytes) return 0;
  PrivateDelivery node(
      self, 1, key, [](const NodeId&, std::size_t) { return std::nullopt; }, {}, 1);
  const auto packet = create_packet(std::vector<Hop>{{self, routing_public_key(key)}},
                                    Destination{self, std::nullopt}, ByteView(data, size));
  if (!packet) std::abort();
  PrivateDelivery::Result r;
  node.on_packet(*packet, 0, r);
  if (r.delivered.size() > 1) std::abort();
  if (!r.delivered.empty()) {
    // The body is zero padded to 2048 bytes: a short input may still be a whole message.
    if (size == 0 || data[0] != 0x01) std::abort();
    if (r.delivered[0].payload.size() > kMaxPrivatePayload) std::abort();
    if (r.packets.size() != 1 || r.packets[0].packet.size() != kPacketBytes) std::abort();
  }
  // The same packet again: never delivered twice.
  PrivateDelivery::Result again;
  node.on_packet(*packet, 0, again);
  if (!again.delivered.empty() && !r.delivered.empty()) std::abort();
  return 0;
}
