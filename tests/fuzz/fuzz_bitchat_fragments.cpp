// Fuzz target: BitChat fragment reassembly (type 0x20). The input is a sequence of records
// [2-byte big-endian length][frame]; each frame is decoded as a BitChat packet and, if it is a
// fragment, fed to one Reassembler with small limits while a clock advances 100 ms per record.
// Checks that the held bytes and set count never exceed the caps, that a completed packet has
// TTL 0 and re-encodes to a frame that decodes to the same fields, and that it re-fragments and
// reassembles to itself.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "bitchat/fragmenter.hpp"
#include "bitchat/packet.hpp"
#include "core/error.hpp"

using namespace hyphae;
using namespace hyphae::bitchat;

namespace {

bool same(const Packet& a, const Packet& b) {
  return a.version == b.version && a.type == b.type && a.timestamp_ms == b.timestamp_ms &&
         a.sender == b.sender && a.recipient == b.recipient && a.route == b.route && a.payload == b.payload &&
         a.signature == b.signature;
}

void check_completed(const Packet& p, const ReassemblyLimits& limits) {
  if (p.ttl != 0 || p.payload.size() > limits.decode.max_payload) std::abort();
  auto frame = encode(p, EncodeOptions{.pad = false});
  if (!frame) {
    // Only a v1 packet whose decompressed payload outgrew 64 KiB may fail to re-encode.
    if (p.version == 1 && p.payload.size() > 0xffff) return;
    std::abort();
  }
  auto back = decode(*frame, limits.decode);
  if (!back || !same(*back, p)) std::abort();
  if (p.type == static_cast<std::uint8_t>(MessageType::fragment)) return;  // never fragmented again
  auto frags = fragment_packet(p, 128, FragmentId{1, 2, 3, 4, 5, 6, 7, 8});
  if (!frags) {
    if (frags.error() == Errc::too_large) return;
    std::abort();
  }
  ReassemblyLimits roomy;
  roomy.max_fragments = 65535;
  roomy.max_set_bytes = roomy.max_total_bytes = 64u << 20;
  roomy.decode = limits.decode;
  Reassembler again(roomy);
  std::optional<Packet> out;
  for (const auto& f : *frags) {
    if (f.type != static_cast<std::uint8_t>(MessageType::fragment)) {  // it fit: sent alone
      out = f;
      out->ttl = 0;
      break;
    }
    auto e = encode(f, EncodeOptions{.pad = false});
    if (!e || e->size() > 128) std::abort();
    auto g = again.accept(f, 0);
    if (!g) std::abort();
    if (*g) out = std::move(**g);
  }
  if (!out || !same(*out, p)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ReassemblyLimits limits;
  limits.timeout_ms = 8'000;
  limits.max_fragments = 32;
  limits.max_set_bytes = 4'096;
  limits.max_sets = 4;
  limits.max_total_bytes = 8'192;
  limits.decode.max_payload = 1u << 16;
  Reassembler r(limits);
  std::uint64_t now = 0;
  std::size_t pos = 0;
  while (pos + 2 <= size) {
    const std::size_t len = (std::size_t{data[pos]} << 8) | data[pos + 1];
    pos += 2;
    const std::size_t n = std::min(len, size - pos);
    const ByteView frame(data + pos, n);
    pos += n;
    now += 100;
    auto packet = decode(frame, limits.decode);
    if (!packet || packet->type != static_cast<std::uint8_t>(MessageType::fragment)) continue;
    auto got = r.accept(*packet, now);
    if (r.held_bytes() > limits.max_total_bytes || r.set_count() > limits.max_sets ||
        r.stats().held_bytes != r.held_bytes())
      std::abort();
    if (got && *got) check_completed(**got, limits);
    if ((now / 100) % 50 == 0) r.expire(now);
  }
  r.expire(now + limits.timeout_ms);
  if (r.held_bytes() != 0 || r.set_count() != 0) std::abort();
  return 0;
}
