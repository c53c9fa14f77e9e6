// Fuzz target: relay messages (the codec) and a relay's state machine fed with them. The input is a
// sequence of chunks `who (1 byte) | length (1 byte) | message`: each chunk is decoded; what decodes
// must encode back to something that decodes to the same fields; decoded messages from one of four
// peers (who % 4; who & 0x80: the peer's link drops first; who & 0x40: time moves on) go to a
// RelayCore with small limits, which must keep them: circuits and reservations never above their bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>

#include "core/identity.hpp"
#include "relay/relay_core.hpp"

namespace {

using namespace hyphae;
using namespace hyphae::relay;

bool same(const RelayMessage& a, const RelayMessage& b) {
  return a.type == b.type && a.circuit == b.circuit && a.peer == b.peer &&
         Bytes(a.data.begin(), a.data.end()) == Bytes(b.data.begin(), b.data.end()) && a.status == b.status &&
         a.reason == b.reason && a.ttl_ms == b.ttl_ms && a.max_bytes == b.max_bytes &&
         a.max_duration_ms == b.max_duration_ms && a.max_circuits == b.max_circuits &&
         a.observed == b.observed;
}

const std::vector<PeerId>& peers() {
  static const std::vector<PeerId> p = [] {
    std::vector<PeerId> out;
    for (int i = 0; i < 4; ++i) out.push_back(Identity::generate().peer_id());
    return out;
  }();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  RelayLimits limits;
  limits.max_reservations = 2;
  limits.max_circuits = 3;
  limits.max_circuits_per_peer = 2;
  limits.max_circuit_bytes = 300;
  limits.request_burst = 4;
  std::set<PeerId> online(peers().begin(), peers().end());
  RelayCore core(
      limits, [&](const PeerId& p) { return online.contains(p); },
      [](const PeerId&) { return std::string("10.0.0.1"); });
  std::uint64_t now = 1000;
  RelayCore::Out out;
  ByteView input(data, size);
  while (input.size() >= 2) {
    const std::uint8_t who = input[0];
    const std::size_t n = std::min<std::size_t>(input[1], input.size() - 2);
    const ByteView chunk = input.subspan(2, n);
    input = input.subspan(2 + n);
    auto m = decode_relay_message(chunk, 512);
    if (!m) continue;
    const Bytes encoded = encode_relay_message(*m);  // `again` views it
    auto again = decode_relay_message(encoded, 512);
    if (!again || !same(*m, *again)) std::abort();
    const PeerId& from = peers()[who % 4];
    if (who & 0x40) now += 5000;
    if (who & 0x80) {
      online.erase(from);
      core.on_peer_down(from, out);
      online.insert(from);
    }
    core.on_message(from, *m, now, out);
    core.tick(now, out);
    for (const auto& s : out)
      if (!decode_relay_message(s.message)) std::abort();  // the relay only says what it can read back
    out.clear();
    const auto stats = core.stats();
    if (stats.circuits > limits.max_circuits || stats.reservations > limits.max_reservations) std::abort();
  }
  return 0;
}
