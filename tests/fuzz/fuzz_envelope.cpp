// Fuzz target: decode_envelope over arbitrary bytes, as one stream of back-to-back envelopes.
// Checks that every accepted envelope re-encodes to exactly the bytes it was decoded from (the
// encoding is canonical) and that signature/timestamp checks never crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/envelope.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hyphae::ByteView rest(data, size);
  const hyphae::EnvelopeLimits limits{64 << 10};
  for (int i = 0; i < 64 && !rest.empty(); ++i) {
    std::size_t consumed = 0;
    auto env = hyphae::decode_envelope(rest, &consumed, limits);
    if (!env) break;
    if (consumed == 0 || consumed > rest.size()) std::abort();
    const bool implied = (env->flags & hyphae::envelope_flags::addresses_implied) != 0;
    hyphae::Bytes again = hyphae::encode_envelope(*env, implied);
    if (again.size() != consumed || std::memcmp(again.data(), rest.data(), consumed) != 0) std::abort();
    if (hyphae::encoded_envelope_size(*env, implied) != consumed) std::abort();
    (void)hyphae::verify_envelope_signature(*env);
    (void)hyphae::check_timestamp(*env, env->timestamp_ms ^ 0x5555, 60'000);
    rest = rest.subspan(consumed);
  }
  return 0;
}
