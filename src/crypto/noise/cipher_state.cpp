#include "crypto/noise/cipher_state.hpp"

#include <cstring>
#include <stdexcept>

#include "core/error.hpp"
#include "crypto/noise/primitives.hpp"

namespace hyphae::noise {

static_assert(sizeof(crypto_aead_aes256gcm_state) == 512);
static_assert(alignof(crypto_aead_aes256gcm_state) <= 16);
static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12);
static_assert(crypto_aead_aes256gcm_NPUBBYTES == 12);
static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == CipherState::kTagLen);
static_assert(crypto_aead_aes256gcm_ABYTES == CipherState::kTagLen);

namespace {
crypto_aead_aes256gcm_state* as_aes(void* p) {
  return static_cast<crypto_aead_aes256gcm_state*>(p);
}
}  // namespace

CipherState::CipherState(CipherKind kind, const std::array<std::uint8_t, kKeyLen>& key) : kind_(kind) {
  detail::ensure_sodium();
  if (kind_ == CipherKind::AESGCM && !detail::aesgcm_available())
    throw std::invalid_argument("noise: AESGCM is not available on this CPU");
  install_key(key.data());
}

CipherState::~CipherState() {
  wipe();
}

CipherState::CipherState(CipherState&& other) noexcept
    : kind_(other.kind_), has_key_(other.has_key_), n_(other.n_), nonce_(other.nonce_), k_(other.k_) {
  if (has_key_ && kind_ == CipherKind::AESGCM) std::memcpy(aes_, other.aes_, sizeof aes_);
  other.wipe();
}

CipherState& CipherState::operator=(CipherState&& other) noexcept {
  if (this == &other) return *this;
  wipe();
  kind_ = other.kind_;
  has_key_ = other.has_key_;
  n_ = other.n_;
  nonce_ = other.nonce_;
  k_ = other.k_;
  if (has_key_ && kind_ == CipherKind::AESGCM) std::memcpy(aes_, other.aes_, sizeof aes_);
  other.wipe();
  return *this;
}

void CipherState::wipe() noexcept {
  if (has_key_ && kind_ == CipherKind::AESGCM) sodium_memzero(aes_, sizeof aes_);
  sodium_memzero(k_.data(), k_.size());
  has_key_ = false;
  n_ = 0;
}

void CipherState::install_key(const std::uint8_t* key) {
  std::memmove(k_.data(), key, kKeyLen);
  if (kind_ == CipherKind::AESGCM) crypto_aead_aes256gcm_beforenm(as_aes(aes_state()), k_.data());
  has_key_ = true;
}

void CipherState::write_nonce(std::uint64_t n) {
  // nonce_[0..3] stay zero forever.
  if (kind_ == CipherKind::ChaChaPoly) {
    for (int i = 0; i < 8; ++i) nonce_[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  } else {
    for (int i = 0; i < 8; ++i) nonce_[4 + i] = static_cast<std::uint8_t>(n >> (56 - 8 * i));
  }
}

std::size_t CipherState::encrypt_into(ByteView ad, ByteView plaintext, std::uint8_t* out) {
  if (!has_key_) {
    if (!plaintext.empty() && out != plaintext.data()) std::memmove(out, plaintext.data(), plaintext.size());
    return plaintext.size();
  }
  if (n_ == kMaxNonce) throw std::logic_error("noise: CipherState nonce exhausted");
  write_nonce(n_);
  unsigned long long clen = 0;
  if (kind_ == CipherKind::ChaChaPoly) {
    crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, plaintext.data(), plaintext.size(), ad.data(),
                                              ad.size(), nullptr, nonce_.data(), k_.data());
  } else {
    crypto_aead_aes256gcm_encrypt_afternm(out, &clen, plaintext.data(), plaintext.size(), ad.data(),
                                          ad.size(), nullptr, nonce_.data(), as_aes(aes_state()));
  }
  ++n_;
  return static_cast<std::size_t>(clen);
}

std::expected<std::size_t, std::error_code> CipherState::decrypt_into(ByteView ad, ByteView ciphertext,
                                                                      std::uint8_t* out) {
  if (!has_key_) {
    if (!ciphertext.empty() && out != ciphertext.data())
      std::memmove(out, ciphertext.data(), ciphertext.size());
    return ciphertext.size();
  }
  if (n_ == kMaxNonce || ciphertext.size() < kTagLen)
    return std::unexpected(make_error_code(Errc::decrypt_failed));
  write_nonce(n_);
  unsigned long long mlen = 0;
  int rc;
  if (kind_ == CipherKind::ChaChaPoly) {
    rc = crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, nullptr, ciphertext.data(), ciphertext.size(),
                                                   ad.data(), ad.size(), nonce_.data(), k_.data());
  } else {
    rc = crypto_aead_aes256gcm_decrypt_afternm(out, &mlen, nullptr, ciphertext.data(), ciphertext.size(),
                                               ad.data(), ad.size(), nonce_.data(), as_aes(aes_state()));
  }
  if (rc != 0) return std::unexpected(make_error_code(Errc::decrypt_failed));
  ++n_;
  return static_cast<std::size_t>(mlen);
}

Bytes CipherState::encrypt(ByteView ad, ByteView plaintext) {
  Bytes out(plaintext.size() + (has_key_ ? kTagLen : 0));
  out.resize(encrypt_into(ad, plaintext, out.data()));
  return out;
}

std::expected<Bytes, std::error_code> CipherState::decrypt(ByteView ad, ByteView ciphertext) {
  if (has_key_ && ciphertext.size() < kTagLen) return std::unexpected(make_error_code(Errc::decrypt_failed));
  Bytes out(has_key_ ? ciphertext.size() - kTagLen : ciphertext.size());
  auto n = decrypt_into(ad, ciphertext, out.data());
  if (!n) return std::unexpected(n.error());
  out.resize(*n);
  return out;
}

void CipherState::rekey() {
  if (!has_key_) throw std::logic_error("noise: rekey without a key");
  std::array<std::uint8_t, kKeyLen> zeros{};
  std::array<std::uint8_t, kKeyLen + kTagLen> tmp{};
  write_nonce(kMaxNonce);
  unsigned long long clen = 0;
  if (kind_ == CipherKind::ChaChaPoly) {
    crypto_aead_chacha20poly1305_ietf_encrypt(tmp.data(), &clen, zeros.data(), zeros.size(), nullptr, 0,
                                              nullptr, nonce_.data(), k_.data());
  } else {
    crypto_aead_aes256gcm_encrypt_afternm(tmp.data(), &clen, zeros.data(), zeros.size(), nullptr, 0, nullptr,
                                          nonce_.data(), as_aes(aes_state()));
  }
  install_key(tmp.data());
  sodium_memzero(tmp.data(), tmp.size());
}

}  // namespace hyphae::noise
