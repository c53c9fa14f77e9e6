// Fuzz target: mix descriptors and topology documents. The first byte picks:
//   0: the rest as a descriptor envelope, as anyone may hand one over;
//   1: the rest as a descriptor's payload, signed by a fixed mix (reaches the field parser): if it
//      is accepted, signing its fields again reads back the same fields;
//   2: the rest as a topology payload signed by the trusted registry (reaches the document parser).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "betanet/directory/directory.hpp"
#include "discovery/signed_envelope.hpp"

using namespace hyphae;
using namespace hyphae::betanet;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Identity mix = Identity::from_seed(std::array<std::uint8_t, 32>{1});
  static const Identity registry = Identity::from_seed(std::array<std::uint8_t, 32>{2});
  if (size == 0) return 0;
  const ByteView in(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      (void)open_descriptor(in);
      return 0;
    case 1: {
      const auto envelope =
          discovery::seal_envelope(mix, "hyphae-mix-descriptor", as_bytes("/hyphae/mix-descriptor/1"), in);
      auto d = open_descriptor(envelope);
      if (!d) return 0;
      if (d->peer != mix.peer_id() || d->keys.empty() || d->keys.size() > kMaxEpochKeys) std::abort();
      auto again = open_descriptor(sign_descriptor(mix, *d));
      if (!again || again->address != d->address || again->layer != d->layer || again->group != d->group ||
          again->keys.size() != d->keys.size() || again->published_ms != d->published_ms ||
          again->link_key != d->link_key)
        std::abort();
      return 0;
    }
    default: {
      const auto envelope =
          discovery::seal_envelope(registry, "hyphae-mix-topology", as_bytes("/hyphae/mix-topology/1"), in);
      auto t = open_topology(envelope, registry.peer_id());
      if (t && t->mixes.size() > kMaxTopologyMixes) std::abort();
      if (t)
        for (const auto& m : t->mixes)
          if (!m.key_for(t->epoch)) std::abort();
      return 0;
    }
  }
}
