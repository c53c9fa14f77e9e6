// Fuzz target: VRF proofs as a stranger may present them with a route choice. The first byte picks:
//   0: the rest XORed into a genuine proof (then the alpha it is checked against): any change to
//      the proof must be refused, an unchanged proof with its own alpha accepted with its output;
//   1: public key (32) || proof (80) || alpha, all from the input: any result but a crash, and an
//      accepted proof's output is proof_to_hash of it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "crypto/vrf/ecvrf.hpp"

using namespace hyphae;
using namespace hyphae::vrf;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Seed seed = [] {
    Seed s{};
    s.fill(0x5e);
    return s;
  }();
  static const PublicKey key = public_key(seed);
  static const Bytes alpha = {'r', 'o', 'u', 't', 'e'};
  static const Proof proof = *prove(seed, alpha);
  static const Output output = *proof_to_hash(proof);
  if (size == 0) return 0;
  const ByteView in(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    Proof p = proof;
    bool changed = false;
    for (std::size_t i = 0; i < in.size() && i < kProofBytes; ++i) {
      p[i] ^= in[i];
      changed |= in[i] != 0;
    }
    const ByteView a = in.size() > kProofBytes ? in.subspan(kProofBytes) : ByteView(alpha);
    const bool same_alpha = a.size() == alpha.size() && std::equal(a.begin(), a.end(), alpha.begin());
    const auto r = verify(key, p, a);
    if (changed && r) std::abort();
    if (!changed && same_alpha && (!r || *r != output)) std::abort();
    return 0;
  }
  if (in.size() < kPublicKeyBytes + kProofBytes) return 0;
  PublicKey k{};
  Proof p{};
  std::copy_n(in.begin(), kPublicKeyBytes, k.begin());
  std::copy_n(in.begin() + kPublicKeyBytes, kProofBytes, p.begin());
  const auto r = verify(k, p, in.subspan(kPublicKeyBytes + kProofBytes));
  if (r && *r != *proof_to_hash(p)) std::abort();
  return 0;
}
