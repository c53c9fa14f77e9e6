#include "betanet/sphinx/lioness.hpp"

#include <sodium.h>

#include <stdexcept>

namespace hyphae::sphinx {

namespace {

constexpr std::size_t kHalf = 32;

void stream_round(std::span<std::uint8_t> block, const std::uint8_t* subkey) {
  std::array<std::uint8_t, kHalf> key{};
  for (std::size_t i = 0; i < kHalf; ++i) key[i] = block[i] ^ subkey[i];
  const std::array<std::uint8_t, crypto_stream_chacha20_ietf_NONCEBYTES> nonce{};
  crypto_stream_chacha20_ietf_xor(block.data() + kHalf, block.data() + kHalf, block.size() - kHalf,
                                  nonce.data(), key.data());
  sodium_memzero(key.data(), key.size());
}

void hash_round(std::span<std::uint8_t> block, const std::uint8_t* subkey) {
  std::array<std::uint8_t, kHalf> digest{};
  crypto_generichash(digest.data(), digest.size(), block.data() + kHalf, block.size() - kHalf, subkey, kHalf);
  for (std::size_t i = 0; i < kHalf; ++i) block[i] ^= digest[i];
}

void check(std::span<std::uint8_t> block) {
  if (block.size() < kLionessMinBlock) throw std::logic_error("lioness: block shorter than 33 bytes");
}

}  // namespace

void lioness_encrypt(const LionessKey& key, std::span<std::uint8_t> block) {
  check(block);
  stream_round(block, key.data());
  hash_round(block, key.data() + 32);
  stream_round(block, key.data() + 64);
  hash_round(block, key.data() + 96);
}

void lioness_decrypt(const LionessKey& key, std::span<std::uint8_t> block) {
  check(block);
  hash_round(block, key.data() + 96);
  stream_round(block, key.data() + 64);
  hash_round(block, key.data() + 32);
  stream_round(block, key.data());
}

}  // namespace hyphae::sphinx
