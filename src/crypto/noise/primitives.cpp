#include "crypto/noise/primitives.hpp"

#include <algorithm>
#include <cstdlib>

namespace hyphae::noise::detail {

void ensure_sodium() {
  static const bool ok = [] { return sodium_init() >= 0; }();
  if (!ok) std::abort();  // no safe way to continue without a working CSPRNG
}

bool aesgcm_available() {
  ensure_sodium();
  return crypto_aead_aes256gcm_is_available() == 1;
}

Hasher::Hasher(HashKind kind) : kind_(kind) {
  if (kind_ == HashKind::BLAKE2b) {
    crypto_generichash_init(&st_.blake, nullptr, 0, 64);
  } else {
    crypto_hash_sha256_init(&st_.sha);
  }
}

Hasher::~Hasher() {
  sodium_memzero(&st_, sizeof st_);
}

void Hasher::update(ByteView data) {
  if (kind_ == HashKind::BLAKE2b) {
    crypto_generichash_update(&st_.blake, data.data(), data.size());
  } else {
    crypto_hash_sha256_update(&st_.sha, data.data(), data.size());
  }
}

void Hasher::final(std::uint8_t* out) {
  if (kind_ == HashKind::BLAKE2b) {
    crypto_generichash_final(&st_.blake, out, 64);
  } else {
    crypto_hash_sha256_final(&st_.sha, out);
  }
}

void hmac(HashKind kind, ByteView key, ByteView data, std::uint8_t* out) {
  const std::size_t b = block_len(kind);
  const std::size_t l = hash_len(kind);
  std::array<std::uint8_t, 128> k{};  // key padded with zeros to the block length
  if (key.size() > b) {
    Hasher h(kind);
    h.update(key);
    h.final(k.data());
  } else {
    std::copy(key.begin(), key.end(), k.begin());
  }
  std::array<std::uint8_t, 128> pad{};
  Digest inner{};

  for (std::size_t i = 0; i < b; ++i) pad[i] = static_cast<std::uint8_t>(k[i] ^ 0x36);
  {
    Hasher h(kind);
    h.update(ByteView(pad.data(), b));
    h.update(data);
    h.final(inner.data());
  }
  for (std::size_t i = 0; i < b; ++i) pad[i] = static_cast<std::uint8_t>(k[i] ^ 0x5c);
  {
    Hasher h(kind);
    h.update(ByteView(pad.data(), b));
    h.update(ByteView(inner.data(), l));
    h.final(out);
  }
  sodium_memzero(k.data(), k.size());
  sodium_memzero(pad.data(), pad.size());
  sodium_memzero(inner.data(), inner.size());
}

void hkdf(HashKind kind, ByteView chaining_key, ByteView ikm, std::uint8_t* out1, std::uint8_t* out2,
          std::uint8_t* out3) {
  const std::size_t l = hash_len(kind);
  Digest temp_key{};
  hmac(kind, chaining_key, ikm, temp_key.data());
  const ByteView tk(temp_key.data(), l);

  std::array<std::uint8_t, kMaxHashLen + 1> buf{};
  buf[0] = 0x01;
  hmac(kind, tk, ByteView(buf.data(), 1), out1);

  std::copy(out1, out1 + l, buf.begin());
  buf[l] = 0x02;
  hmac(kind, tk, ByteView(buf.data(), l + 1), out2);

  if (out3 != nullptr) {
    std::copy(out2, out2 + l, buf.begin());
    buf[l] = 0x03;
    hmac(kind, tk, ByteView(buf.data(), l + 1), out3);
  }
  sodium_memzero(temp_key.data(), temp_key.size());
  sodium_memzero(buf.data(), buf.size());
}

bool dh(const std::array<std::uint8_t, 32>& priv, const std::array<std::uint8_t, 32>& pub,
        std::array<std::uint8_t, 32>& out) {
  ensure_sodium();
  return crypto_scalarmult(out.data(), priv.data(), pub.data()) == 0;
}

}  // namespace hyphae::noise::detail
