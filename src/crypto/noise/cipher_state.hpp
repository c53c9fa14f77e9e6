// CipherState (Noise spec section 5.1): one direction of a Noise session, i.e. an AEAD key k and
// a 64-bit counter nonce n. Used inside the handshake and, after HandshakeState::split(), for
// transport messages (the hot path: no heap allocation in encrypt_into/decrypt_into, the 12-byte
// nonce buffer lives inside the object, AES-GCM keys are expanded once).
// Ownership: move-only value; the key is wiped on destruction and moved-from objects have no key.
// Thread-safety: none; one CipherState belongs to one thread (or one strand) at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <system_error>

#include "core/bytes.hpp"
#include "crypto/noise/protocol.hpp"

namespace hyphae::noise {

class CipherState {
 public:
  static constexpr std::size_t kTagLen = 16;
  static constexpr std::size_t kKeyLen = 32;
  static constexpr std::uint64_t kMaxNonce = ~std::uint64_t{0};  // reserved, never used for data

  // No key: encrypt/decrypt pass data through unchanged (spec: EncryptWithAd with empty k).
  CipherState() = default;
  // InitializeKey(key) with n = 0. Throws std::invalid_argument for AESGCM when
  // cipher_available(CipherKind::AESGCM) is false.
  CipherState(CipherKind kind, const std::array<std::uint8_t, kKeyLen>& key);
  ~CipherState();
  CipherState(CipherState&& other) noexcept;
  CipherState& operator=(CipherState&& other) noexcept;
  CipherState(const CipherState&) = delete;
  CipherState& operator=(const CipherState&) = delete;

  CipherKind kind() const { return kind_; }
  bool has_key() const { return has_key_; }
  std::uint64_t nonce() const { return n_; }
  // For transports that carry the nonce explicitly; the caller must never reuse a nonce.
  void set_nonce(std::uint64_t n) { n_ = n; }

  // Encrypts plaintext with associated data ad and writes plaintext.size()+16 bytes to out
  // (plaintext.size() bytes if there is no key). out may be exactly plaintext.data() (in place)
  // but must not otherwise overlap it. Throws std::logic_error when the nonce is exhausted
  // (n == 2^64-1). Returns the number of bytes written.
  std::size_t encrypt_into(ByteView ad, ByteView plaintext, std::uint8_t* out);
  // Verifies and decrypts ciphertext (tag included) into out (ciphertext.size()-16 bytes; may be
  // exactly ciphertext.data()). Errc::decrypt_failed on a short input, a bad tag or an exhausted
  // nonce; the nonce advances only on success, and out's contents (the input too, when
  // decrypting in place) are unspecified on failure.
  std::expected<std::size_t, std::error_code> decrypt_into(ByteView ad, ByteView ciphertext,
                                                           std::uint8_t* out);

  // Allocating conveniences over the two calls above.
  Bytes encrypt(ByteView ad, ByteView plaintext);
  std::expected<Bytes, std::error_code> decrypt(ByteView ad, ByteView ciphertext);

  // k = REKEY(k): first 32 bytes of ENCRYPT(k, 2^64-1, "", 32 zero bytes). n is unchanged.
  // Throws std::logic_error if there is no key.
  void rekey();

 private:
  void install_key(const std::uint8_t* key);
  void write_nonce(std::uint64_t n);
  void wipe() noexcept;
  void* aes_state() { return aes_; }

  CipherKind kind_ = CipherKind::ChaChaPoly;
  bool has_key_ = false;
  std::uint64_t n_ = 0;
  std::array<std::uint8_t, 12> nonce_{};  // 4 zero bytes || 64-bit counter (LE ChaCha, BE AES)
  std::array<std::uint8_t, kKeyLen> k_{};
  alignas(16) unsigned char aes_[512];  // libsodium crypto_aead_aes256gcm_state (AESGCM only)
};

}  // namespace hyphae::noise
