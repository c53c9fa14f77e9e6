#include "crypto/vrf/ecvrf.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace hyphae::vrf {

namespace {

constexpr std::uint8_t kSuite = 0x03;  // ECVRF-EDWARDS25519-SHA512-TAI
constexpr std::size_t kChallengeBytes = 16;
using Scalar = std::array<std::uint8_t, 32>;
using Hash512 = std::array<std::uint8_t, 64>;

void ensure_sodium() {
  static const int ok = sodium_init();
  if (ok < 0) throw std::runtime_error("libsodium cannot start");
}

struct Sha512 {
  crypto_hash_sha512_state state;
  Sha512() { crypto_hash_sha512_init(&state); }
  Sha512& put(ByteView b) {
    crypto_hash_sha512_update(&state, b.data(), b.size());
    return *this;
  }
  Sha512& put(std::uint8_t b) { return put(ByteView(&b, 1)); }
  Hash512 done() {
    Hash512 out{};
    crypto_hash_sha512_final(&state, out.data());
    return out;
  }
};

// RFC 8032 decoding refuses a y coordinate at or above p = 2^255 - 19; libsodium reduces it.
bool canonical_y(const Point& p) {
  if ((p[31] & 0x7f) != 0x7f) return true;
  for (int i = 30; i >= 1; --i)
    if (p[i] != 0xff) return true;
  return p[0] < 0xed;
}

// 8 * p, by three doublings: crypto_core_ed25519_add takes any point on the curve, not only those
// of the prime-order subgroup (which every other libsodium operation insists on).
std::optional<Point> times_cofactor(const Point& p) {
  Point a = p, b{};
  for (int i = 0; i < 3; ++i) {
    if (crypto_core_ed25519_add(b.data(), a.data(), a.data()) != 0) return std::nullopt;
    a = b;
  }
  return a;
}

bool is_identity(const Point& p) {
  static const Point identity = [] {
    Point i{};
    i[0] = 1;
    return i;
  }();
  return sodium_memcmp(p.data(), identity.data(), p.size()) == 0;
}

Scalar reduce(const Hash512& wide) {
  Scalar out{};
  crypto_core_ed25519_scalar_reduce(out.data(), wide.data());
  return out;
}

Scalar reduce32(const Scalar& s) {
  Hash512 wide{};
  std::copy(s.begin(), s.end(), wide.begin());
  return reduce(wide);
}

Scalar challenge(const Point& y, const Point& h, const Point& gamma, const Point& u, const Point& v) {
  const auto digest = Sha512()
                          .put(kSuite)
                          .put(std::uint8_t{0x02})
                          .put(y)
                          .put(h)
                          .put(gamma)
                          .put(u)
                          .put(v)
                          .put(std::uint8_t{0x00})
                          .done();
  Scalar c{};
  std::copy_n(digest.begin(), kChallengeBytes, c.begin());
  return c;
}

// a * P - b * Q, or nullopt when a step lands on the identity (libsodium refuses it).
std::optional<Point> combine(const Scalar& a, const Point& p, const Scalar& b, const Point& q,
                             bool p_is_base) {
  Point ap{}, bq{}, out{};
  const int r1 = p_is_base ? crypto_scalarmult_ed25519_base_noclamp(ap.data(), a.data())
                           : crypto_scalarmult_ed25519_noclamp(ap.data(), a.data(), p.data());
  if (r1 != 0) return std::nullopt;
  if (crypto_scalarmult_ed25519_noclamp(bq.data(), b.data(), q.data()) != 0) return std::nullopt;
  if (crypto_core_ed25519_sub(out.data(), ap.data(), bq.data()) != 0) return std::nullopt;
  return out;
}

struct Expanded {
  Scalar x;          // reduced secret scalar
  Scalar nonce_key;  // the second half of SHA-512(seed)
};

Expanded expand(const Seed& seed) {
  Hash512 h{};
  crypto_hash_sha512(h.data(), seed.data(), seed.size());
  Expanded e{};
  Scalar clamped{};
  std::copy_n(h.begin(), 32, clamped.begin());
  clamped[0] &= 248;
  clamped[31] &= 127;
  clamped[31] |= 64;
  e.x = reduce32(clamped);
  std::copy_n(h.begin() + 32, 32, e.nonce_key.begin());
  sodium_memzero(h.data(), h.size());
  sodium_memzero(clamped.data(), clamped.size());
  return e;
}

}  // namespace

const char* to_string(VrfError e) {
  switch (e) {
    case VrfError::invalid_public_key:
      return "the VRF public key is not a valid point";
    case VrfError::malformed_proof:
      return "the VRF proof is malformed";
    case VrfError::wrong_proof:
      return "the VRF proof does not hold";
    case VrfError::no_point:
      return "hash to curve found no point";
  }
  return "?";
}

std::array<std::uint8_t, 32> secret_scalar(const Seed& seed) {
  ensure_sodium();
  Hash512 h{};
  crypto_hash_sha512(h.data(), seed.data(), seed.size());
  std::array<std::uint8_t, 32> x{};
  std::copy_n(h.begin(), 32, x.begin());
  x[0] &= 248;
  x[31] &= 127;
  x[31] |= 64;
  sodium_memzero(h.data(), h.size());
  return x;
}

PublicKey public_key(const Seed& seed) {
  ensure_sodium();
  auto e = expand(seed);
  PublicKey y{};
  if (crypto_scalarmult_ed25519_base_noclamp(y.data(), e.x.data()) != 0)
    throw std::logic_error("a clamped scalar is never zero modulo the group order");
  sodium_memzero(&e, sizeof e);
  return y;
}

std::optional<TaiPoint> encode_to_curve(const PublicKey& salt, ByteView alpha) {
  ensure_sodium();
  for (unsigned ctr = 0; ctr < 256; ++ctr) {
    const auto digest = Sha512()
                            .put(kSuite)
                            .put(std::uint8_t{0x01})
                            .put(salt)
                            .put(alpha)
                            .put(static_cast<std::uint8_t>(ctr))
                            .put(std::uint8_t{0x00})
                            .done();
    Point candidate{};
    std::copy_n(digest.begin(), 32, candidate.begin());
    if (!canonical_y(candidate)) continue;
    auto h = times_cofactor(candidate);
    if (!h || is_identity(*h)) continue;
    return TaiPoint{*h, ctr};
  }
  return std::nullopt;
}

std::expected<Proof, VrfError> prove(const Seed& seed, ByteView alpha) {
  ensure_sodium();
  auto e = expand(seed);
  PublicKey y{};
  Point gamma{}, u{}, v{};
  const auto h = crypto_scalarmult_ed25519_base_noclamp(y.data(), e.x.data()) == 0
                     ? encode_to_curve(y, alpha)
                     : std::nullopt;
  // x is never 0 modulo the group order and H has prime order: Gamma = x·H always exists.
  if (!h || crypto_scalarmult_ed25519_noclamp(gamma.data(), e.x.data(), h->point.data()) != 0) {
    sodium_memzero(&e, sizeof e);
    return std::unexpected(VrfError::no_point);
  }
  const auto k_wide = Sha512().put(e.nonce_key).put(h->point).done();
  Scalar k = reduce(k_wide);
  if (crypto_scalarmult_ed25519_base_noclamp(u.data(), k.data()) != 0 ||
      crypto_scalarmult_ed25519_noclamp(v.data(), k.data(), h->point.data()) != 0) {
    sodium_memzero(&e, sizeof e);
    return std::unexpected(VrfError::no_point);  // k = 0: a SHA-512 output of 2^-252 probability
  }
  const Scalar c = challenge(y, h->point, gamma, u, v);
  Scalar cx{}, s{};
  crypto_core_ed25519_scalar_mul(cx.data(), c.data(), e.x.data());
  crypto_core_ed25519_scalar_add(s.data(), k.data(), cx.data());
  Proof pi{};
  std::copy(gamma.begin(), gamma.end(), pi.begin());
  std::copy_n(c.begin(), kChallengeBytes, pi.begin() + 32);
  std::copy(s.begin(), s.end(), pi.begin() + 48);
  sodium_memzero(&e, sizeof e);
  sodium_memzero(k.data(), k.size());
  sodium_memzero(cx.data(), cx.size());
  return pi;
}

std::expected<Output, VrfError> proof_to_hash(const Proof& proof) {
  ensure_sodium();
  Point gamma{};
  std::copy_n(proof.begin(), 32, gamma.begin());
  if (!crypto_core_ed25519_is_valid_point(gamma.data())) return std::unexpected(VrfError::malformed_proof);
  const auto cleared = times_cofactor(gamma);
  if (!cleared) return std::unexpected(VrfError::malformed_proof);
  return Sha512().put(kSuite).put(std::uint8_t{0x03}).put(*cleared).put(std::uint8_t{0x00}).done();
}

std::expected<Output, VrfError> verify(const PublicKey& key, const Proof& proof, ByteView alpha) {
  ensure_sodium();
  if (!crypto_core_ed25519_is_valid_point(key.data())) return std::unexpected(VrfError::invalid_public_key);
  Point gamma{};
  Scalar c{}, s{};
  std::copy_n(proof.begin(), 32, gamma.begin());
  std::copy_n(proof.begin() + 32, kChallengeBytes, c.begin());
  std::copy_n(proof.begin() + 48, 32, s.begin());
  if (!crypto_core_ed25519_is_valid_point(gamma.data())) return std::unexpected(VrfError::malformed_proof);
  if (reduce32(s) != s) return std::unexpected(VrfError::malformed_proof);  // s >= the group order
  const auto h = encode_to_curve(key, alpha);
  if (!h) return std::unexpected(VrfError::no_point);
  const auto u = combine(s, Point{}, c, key, true);
  const auto v = combine(s, h->point, c, gamma, false);
  if (!u || !v) return std::unexpected(VrfError::wrong_proof);
  const Scalar expected = challenge(key, h->point, gamma, *u, *v);
  if (sodium_memcmp(expected.data(), c.data(), kChallengeBytes) != 0)
    return std::unexpected(VrfError::wrong_proof);
  return proof_to_hash(proof);
}

}  // namespace hyphae::vrf
