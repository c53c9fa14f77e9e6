#include "crypto/hkdf/hkdf.hpp"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

namespace hyphae::hkdf {

Prk extract(ByteView salt, ByteView ikm) {
  const std::array<std::uint8_t, 32> zeros{};
  const ByteView key = salt.empty() ? ByteView(zeros) : salt;
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  crypto_auth_hmacsha256_update(&st, ikm.data(), ikm.size());
  Prk prk{};
  crypto_auth_hmacsha256_final(&st, prk.data());
  sodium_memzero(&st, sizeof st);
  return prk;
}

void expand(const Prk& prk, ByteView info, std::span<std::uint8_t> out) {
  if (out.size() > 255 * 32) throw std::logic_error("hkdf: more than 255 blocks asked for");
  std::array<std::uint8_t, 32> block{};
  std::size_t done = 0;
  for (std::uint8_t counter = 1; done < out.size(); ++counter) {
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, prk.data(), prk.size());
    if (counter > 1) crypto_auth_hmacsha256_update(&st, block.data(), block.size());
    crypto_auth_hmacsha256_update(&st, info.data(), info.size());
    crypto_auth_hmacsha256_update(&st, &counter, 1);
    crypto_auth_hmacsha256_final(&st, block.data());
    const std::size_t n = std::min(block.size(), out.size() - done);
    std::copy_n(block.begin(), n, out.begin() + static_cast<std::ptrdiff_t>(done));
    done += n;
  }
  sodium_memzero(block.data(), block.size());
}

void derive(ByteView salt, ByteView ikm, ByteView info, std::span<std::uint8_t> out) {
  auto prk = extract(salt, ikm);
  expand(prk, info, out);
  sodium_memzero(prk.data(), prk.size());
}

}  // namespace hyphae::hkdf
