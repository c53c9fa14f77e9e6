// ECVRF-EDWARDS25519-SHA512-TAI against RFC 9381 Appendix B.3 (tests/vectors/ecvrf), intermediate
// values included, and the ways a proof can be wrong: another input, another key, any flipped bit,
// s at or above the group order, a Gamma or key off the prime-order subgroup.
#include "crypto/vrf/ecvrf.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <fstream>
#include <nlohmann/json.hpp>

namespace hyphae::vrf {
namespace {

template <std::size_t N>
std::array<std::uint8_t, N> fixed(const std::string& hex) {
  bool ok = false;
  const auto b = from_hex(hex, &ok);
  EXPECT_TRUE(ok && b.size() == N) << hex;
  std::array<std::uint8_t, N> out{};
  std::copy_n(b.begin(), std::min(N, b.size()), out.begin());
  return out;
}

nlohmann::json vectors() {
  std::ifstream in(std::string(HYPHAE_VECTORS_DIR) + "/ecvrf/rfc9381_edwards25519_sha512_tai.json");
  EXPECT_TRUE(in.good());
  return nlohmann::json::parse(in)["vectors"];
}

TEST(Ecvrf, Rfc9381AppendixB3ExamplesWithIntermediateValues) {
  const auto all = vectors();
  ASSERT_EQ(all.size(), 3u);
  for (const auto& v : all) {
    SCOPED_TRACE(v["name"].get<std::string>());
    const auto seed = fixed<32>(v["sk"]);
    const auto alpha = from_hex(v["alpha"].get<std::string>());
    const auto pk = public_key(seed);
    EXPECT_EQ(to_hex(pk), v["pk"]);
    // x as the RFC prints it: the clamped scalar.
    EXPECT_EQ(to_hex(secret_scalar(seed)), v["x"]);

    const auto h = encode_to_curve(pk, alpha);
    ASSERT_TRUE(h);
    EXPECT_EQ(to_hex(h->point), v["h"]);
    EXPECT_EQ(h->counter, v["ctr"].get<unsigned>());

    // The nonce and U = k·B, V = k·H.
    std::array<std::uint8_t, 64> digest{};
    crypto_hash_sha512(digest.data(), seed.data(), seed.size());
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, digest.data() + 32, 32);
    crypto_hash_sha512_update(&st, h->point.data(), 32);
    std::array<std::uint8_t, 64> k_wide{};
    crypto_hash_sha512_final(&st, k_wide.data());
    EXPECT_EQ(to_hex(k_wide), v["k"]);
    std::array<std::uint8_t, 32> k{}, u{}, vv{};
    crypto_core_ed25519_scalar_reduce(k.data(), k_wide.data());
    ASSERT_EQ(crypto_scalarmult_ed25519_base_noclamp(u.data(), k.data()), 0);
    ASSERT_EQ(crypto_scalarmult_ed25519_noclamp(vv.data(), k.data(), h->point.data()), 0);
    EXPECT_EQ(to_hex(u), v["u"]);
    EXPECT_EQ(to_hex(vv), v["v"]);

    const auto pi = prove(seed, alpha);
    ASSERT_TRUE(pi);
    EXPECT_EQ(to_hex(*pi), v["pi"]);
    const auto beta = proof_to_hash(*pi);
    ASSERT_TRUE(beta);
    EXPECT_EQ(to_hex(*beta), v["beta"]);
    const auto checked = verify(fixed<32>(v["pk"]), fixed<80>(v["pi"]), alpha);
    ASSERT_TRUE(checked) << to_string(checked.error());
    EXPECT_EQ(to_hex(*checked), v["beta"]);
  }
}

TEST(Ecvrf, AProofHoldsOnlyForItsKeyAndInputAndEveryFlippedBitBreaksIt) {
  Seed seed{}, other{};
  randombytes_buf(seed.data(), seed.size());
  randombytes_buf(other.data(), other.size());
  const auto alpha = as_bytes("epoch 7 | alice -> bob | nonce");
  const auto pi = prove(seed, alpha);
  ASSERT_TRUE(pi);
  const auto pk = public_key(seed);
  const auto out = verify(pk, *pi, alpha);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, *proof_to_hash(*pi));
  // Deterministic: the same proof again.
  EXPECT_EQ(*prove(seed, alpha), *pi);

  EXPECT_EQ(verify(pk, *pi, as_bytes("epoch 8 | alice -> bob | nonce")).error(), VrfError::wrong_proof);
  EXPECT_EQ(verify(public_key(other), *pi, alpha).error(), VrfError::wrong_proof);
  // A different seed gives a different output for the same input.
  EXPECT_NE(*proof_to_hash(*prove(other, alpha)), *out);

  for (std::size_t bit = 0; bit < kProofBytes * 8; ++bit) {
    Proof bad = *pi;
    bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(verify(pk, bad, alpha)) << "bit " << bit;
  }
}

TEST(Ecvrf, MalformedKeysAndProofsAreRefusedWithTheirReason) {
  Seed seed{};
  randombytes_buf(seed.data(), seed.size());
  const auto alpha = as_bytes("x");
  const auto pi = *prove(seed, alpha);
  const auto pk = public_key(seed);
  // The identity and a point of order 8 as the key; a key that is not a point at all.
  PublicKey identity{};
  identity[0] = 1;
  EXPECT_EQ(verify(identity, pi, alpha).error(), VrfError::invalid_public_key);
  const auto order8 = fixed<32>("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
  EXPECT_EQ(verify(order8, pi, alpha).error(), VrfError::invalid_public_key);
  PublicKey junk{};
  junk.fill(0xff);
  EXPECT_EQ(verify(junk, pi, alpha).error(), VrfError::invalid_public_key);
  // s replaced by s + L (same value modulo L, but not canonical): refused.
  Proof big = pi;
  const auto order = fixed<32>("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  unsigned carry = 0;
  for (std::size_t i = 0; i < 32; ++i) {
    const unsigned sum = big[48 + i] + order[i] + carry;
    big[48 + i] = static_cast<std::uint8_t>(sum);
    carry = sum >> 8;
  }
  ASSERT_EQ(carry, 0u);
  EXPECT_EQ(verify(pk, big, alpha).error(), VrfError::malformed_proof);
  // Gamma of small order.
  Proof small = pi;
  std::copy(order8.begin(), order8.end(), small.begin());
  EXPECT_EQ(verify(pk, small, alpha).error(), VrfError::malformed_proof);
  EXPECT_FALSE(proof_to_hash(small));
}

}  // namespace
}  // namespace hyphae::vrf
