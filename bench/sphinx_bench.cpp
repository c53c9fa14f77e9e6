// sphinx_bench: the privacy transport's per-packet cryptography on one core, beside the bound it is
// judged by, measured in the same run:
//   Sphinx unwraps per second (a forwarding hop: X25519 for the shared secret, X25519 to blind the
//   group element, HKDF, the header MAC and stream, Lioness over the payload) beside the rate of
//   the two X25519 operations alone (libsodium's crypto_scalarmult): target >= 0.9x of that bound
//   (the best published mix, Nym, reports about 6.4 k unwraps/s on a laptop core);
//   packet creation for 3 and 5 hops; ECVRF prove and verify (route choice) beside Ed25519
//   signing and verification, which cost about the same group operations.
// Usage: sphinx_bench [--quick]. Writes bench/results/sphinx.json.
#include <sodium.h>

#include <chrono>
#include <string_view>

#include "betanet/sphinx/sphinx.hpp"
#include "common/report.hpp"
#include "crypto/vrf/ecvrf.hpp"

using namespace hyphae;
using BenchClock = std::chrono::steady_clock;

namespace {

// Operations per second of `op`, run `rounds` times (best of three runs: the machine is shared).
template <typename F>
double rate(std::size_t rounds, F&& op) {
  double best = 0;
  for (int run = 0; run < 3; ++run) {
    const auto start = BenchClock::now();
    for (std::size_t i = 0; i < rounds; ++i) op(i);
    const double secs = std::chrono::duration<double>(BenchClock::now() - start).count();
    best = std::max(best, static_cast<double>(rounds) / secs);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 1;
  const bool quick = argc > 1 && std::string_view(argv[1]) == "--quick";
  const std::size_t rounds = quick ? 2'000 : 10'000;
  bench::Report report;

  // Two X25519 operations: the floor of a hop's work.
  std::array<std::uint8_t, 32> scalar{}, point{}, out{};
  randombytes_buf(scalar.data(), scalar.size());
  crypto_scalarmult_base(point.data(), scalar.data());
  const double x25519 = rate(rounds, [&](std::size_t i) {
    scalar[0] = static_cast<std::uint8_t>(i);
    if (crypto_scalarmult(out.data(), scalar.data(), point.data()) != 0) std::abort();
  });
  const double bound = x25519 / 2;

  // A 3-hop packet at its first hop (a forwarding unwrap).
  std::vector<sphinx::Hop> path;
  std::vector<sphinx::SecretKey> secrets;
  for (int i = 0; i < 5; ++i) {
    auto [pk, sk] = sphinx::generate_routing_key();
    sphinx::NodeId id{};
    randombytes_buf(id.data(), id.size());
    path.push_back({id, pk});
    secrets.push_back(sk);
  }
  sphinx::Destination dest{};
  const Bytes body(1000, 0x61);
  const auto packet = *sphinx::create_packet(std::span(path).first(3), dest, body);
  const double unwraps = rate(rounds, [&](std::size_t) {
    auto u = sphinx::unwrap(secrets[0], packet);
    if (!u || !u->forward) std::abort();
  });
  report.add("Sphinx unwrap (forwarding hop)", unwraps, "ops/s", bench::Better::kHigher,
             "2 x X25519 (libsodium), one core", bound, ">= 0.9x");
  report.add("Sphinx unwrap (forwarding hop)", unwraps, "ops/s", bench::Better::kHigher,
             "Nym's published unwrap rate (laptop core)", 6356.0);
  for (std::size_t hops : {std::size_t{3}, std::size_t{5}}) {
    const double creates = rate(rounds / 4, [&](std::size_t) {
      if (!sphinx::create_packet(std::span(path).first(hops), dest, body)) std::abort();
    });
    // Creation takes hops*(hops+1)/2 + 1 + (hops - 1) X25519 operations.
    const double ops = static_cast<double>(hops * (hops + 1) / 2 + hops);
    report.add("Sphinx packet creation, " + std::to_string(hops) + " hops", creates, "ops/s",
               bench::Better::kHigher, std::to_string(static_cast<int>(ops)) + " x X25519", x25519 / ops);
  }

  // Route choice: ECVRF beside Ed25519 signatures.
  vrf::Seed seed{};
  randombytes_buf(seed.data(), seed.size());
  const auto vkey = vrf::public_key(seed);
  std::array<std::uint8_t, 32> alpha{};
  const auto proof = *vrf::prove(seed, alpha);
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> spk{};
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> ssk{};
  crypto_sign_seed_keypair(spk.data(), ssk.data(), seed.data());
  std::array<std::uint8_t, crypto_sign_BYTES> sig{};
  crypto_sign_detached(sig.data(), nullptr, alpha.data(), alpha.size(), ssk.data());
  const double proves = rate(rounds / 4, [&](std::size_t i) {
    alpha[0] = static_cast<std::uint8_t>(i);
    if (!vrf::prove(seed, alpha)) std::abort();
  });
  const double signs = rate(rounds / 4, [&](std::size_t i) {
    alpha[0] = static_cast<std::uint8_t>(i);
    crypto_sign_detached(sig.data(), nullptr, alpha.data(), alpha.size(), ssk.data());
  });
  alpha[0] = 0;
  const auto good = *vrf::prove(seed, alpha);
  crypto_sign_detached(sig.data(), nullptr, alpha.data(), alpha.size(), ssk.data());
  const double verifies = rate(rounds / 4, [&](std::size_t) {
    if (!vrf::verify(vkey, good, alpha)) std::abort();
  });
  const double sig_verifies = rate(rounds / 4, [&](std::size_t) {
    if (crypto_sign_verify_detached(sig.data(), alpha.data(), alpha.size(), spk.data()) != 0) std::abort();
  });
  (void)proof;
  report.add("ECVRF prove", proves, "ops/s", bench::Better::kHigher, "Ed25519 sign (libsodium)", signs);
  report.add("ECVRF verify", verifies, "ops/s", bench::Better::kHigher, "Ed25519 verify (libsodium)",
             sig_verifies);
  report.print_table();
  report.write_json(std::filesystem::path(HYPHAE_SOURCE_DIR) / "bench/results/sphinx.json");
  return report.has_failures() ? 1 : 0;
}
