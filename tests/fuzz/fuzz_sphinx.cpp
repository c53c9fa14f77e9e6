// Fuzz target: Sphinx packets and reply blocks as a stranger or a malicious mix may send them. The
// first byte picks what the rest is:
//   0: changes XORed into a genuine 3-hop packet (2 bytes offset, then the bytes). A changed header
//      byte must fail hop 0 (forging the MAC is out of reach); a change only in the payload passes
//      both mixes and must fail the last hop's tag; no change delivers the body intact.
//   1: a raw packet for hop 0's key: any result but a crash; a success keeps the fixed size.
//   2: a serialised reply block: if it parses, a reply packet from it has the fixed size.
//   3: a payload handed to open_reply with another block's secrets: it must not open.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "betanet/sphinx/sphinx.hpp"

using namespace hyphae;
using namespace hyphae::sphinx;

namespace {

struct Fixture {
  std::array<SecretKey, 3> secrets{};
  std::array<Hop, 3> hops{};
  Bytes packet;
  Bytes body;
  SurbSecrets reply_secrets;
  Fixture() {
    for (std::size_t i = 0; i < 3; ++i) {
      secrets[i].fill(static_cast<std::uint8_t>(0x10 + i));
      hops[i].id.fill(static_cast<std::uint8_t>(0xa0 + i));
      hops[i].key = routing_public_key(secrets[i]);
    }
    SecretKey ephemeral{};
    ephemeral.fill(0x42);
    body.assign(100, 0x61);
    Destination dest{};
    dest.recipient.fill(0xbb);
    packet = *create_packet(hops, dest, body, &ephemeral);
    Destination back{hops[2].id, SurbId{}};
    auto made = create_surb(hops, back, &ephemeral);
    reply_secrets.id = made->second.id;
    reply_secrets.key = made->second.key;
    reply_secrets.hop_keys = made->second.hop_keys;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Fixture f;
  if (size == 0) return 0;
  const ByteView in(data + 1, size - 1);
  switch (data[0] & 3) {
    case 0: {
      if (in.size() < 2) return 0;
      const std::size_t offset = (static_cast<std::size_t>(in[0]) << 8 | in[1]) % kPacketBytes;
      Bytes p = f.packet;
      bool header_changed = false, changed = false;
      for (std::size_t i = 2; i < in.size() && offset + i - 2 < p.size(); ++i) {
        const std::size_t at = offset + i - 2;
        if (in[i] == 0) continue;
        p[at] ^= in[i];
        changed = true;
        if (at < kHeaderBytes) header_changed = true;
      }
      auto a = unwrap(f.secrets[0], p);
      if (header_changed) {
        if (a) std::abort();
        return 0;
      }
      if (!a || !a->forward) std::abort();
      auto b = unwrap(f.secrets[1], a->packet);
      if (!b || !b->forward) std::abort();
      auto c = unwrap(f.secrets[2], b->packet);
      if (changed) {
        if (c || c.error() != SphinxError::tagged_payload) std::abort();
      } else if (!c || std::memcmp(c->body.data(), f.body.data(), f.body.size()) != 0) {
        std::abort();
      }
      return 0;
    }
    case 1: {
      auto u = unwrap(f.secrets[0], in);
      if (u && u->forward && u->packet.size() != kPacketBytes) std::abort();
      if (u && !u->forward && !u->surb && u->body.size() != kBodyBytes) std::abort();
      return 0;
    }
    case 2: {
      auto surb = Surb::parse(in);
      if (!surb) return 0;
      if (surb->serialize() != Bytes(in.begin(), in.end())) std::abort();
      auto p = surb_packet(*surb, in.first(std::min<std::size_t>(in.size(), kBodyBytes)));
      if (!p || p->size() != kPacketBytes) std::abort();
      return 0;
    }
    default: {
      // Opening needs the replier to have encrypted under this block's key: junk never opens.
      if (in.size() == kPayloadBytes && open_reply(f.reply_secrets, in)) std::abort();
      return 0;
    }
  }
}
