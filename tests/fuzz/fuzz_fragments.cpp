// Fuzz target: fragment decoding and reassembly. The input is a sequence of records
// [peer byte][2-byte big-endian length][fragment bytes] fed to one Reassembler with tight limits;
// checks that held memory never exceeds the caps, completed messages respect max_message_bytes,
// and a completed message re-fragments and reassembles to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fragment/fragment.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyphae::fragment;
  ReassemblyLimits limits;
  limits.max_message_bytes = 1 << 16;
  limits.per_peer_bytes = 1 << 17;
  limits.total_bytes = 1 << 18;
  limits.max_partial_per_peer = 8;
  Reassembler r(limits);
  std::uint64_t now = 0;
  std::size_t pos = 0;
  while (pos + 3 <= size) {
    const std::string peer(1, static_cast<char>(data[pos] & 0x03));
    const std::size_t len = (std::size_t{data[pos + 1]} << 8) | data[pos + 2];
    pos += 3;
    const std::size_t n = std::min(len, size - pos);
    hyphae::ByteView frag(data + pos, n);
    pos += n;
    now += 1000;
    auto got = r.accept(peer, frag, now);
    if (r.held_bytes() > limits.total_bytes || r.held_bytes(peer) > limits.per_peer_bytes) std::abort();
    if (got && *got) {
      const hyphae::Bytes& whole = **got;
      if (whole.size() > limits.max_message_bytes) std::abort();
      auto again = split(whole, FragmentOptions{244, 1024, std::nullopt});
      if (!again) std::abort();
      Reassembler check;
      std::optional<hyphae::Bytes> out;
      for (const auto& f : *again) {
        auto g = check.accept("x", f, 0);
        if (!g) std::abort();
        if (*g) out = std::move(**g);
      }
      if (!out || *out != whole) std::abort();
    }
    if ((now / 1000) % 16 == 0) r.expire(now);
  }
  return 0;
}
