#include "node/sealing.hpp"

#include <sodium.h>

#include "core/error.hpp"

namespace hyphae {
namespace {
constexpr std::string_view kPrologue = "hyphae-seal-v1";
constexpr std::size_t kSealedKeySize = 128;  // noise::kSealOverhead + 32-byte key
}  // namespace

std::expected<Bytes, std::error_code> seal_payload(const noise::KeyPair& sender,
                                                   const std::array<std::uint8_t, 32>& recipient,
                                                   ByteView payload) {
  std::array<std::uint8_t, crypto_aead_chacha20poly1305_ietf_KEYBYTES> key{};
  crypto_aead_chacha20poly1305_ietf_keygen(key.data());
  auto sealed_key = noise::seal(sender, recipient, as_bytes(kPrologue), key);
  if (!sealed_key) return std::unexpected(sealed_key.error());
  if (sealed_key->size() != kSealedKeySize) return std::unexpected(make_error_code(Errc::bad_seal));
  Bytes out = std::move(*sealed_key);
  std::size_t offset = out.size();
  out.resize(offset + payload.size() + crypto_aead_chacha20poly1305_ietf_ABYTES);
  std::array<std::uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES> nonce{};  // fresh key per message
  unsigned long long written = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out.data() + offset, &written, payload.data(), payload.size(),
                                            out.data(), kSealedKeySize, nullptr, nonce.data(), key.data());
  sodium_memzero(key.data(), key.size());
  return out;
}

std::expected<OpenedPayload, std::error_code> open_payload(const noise::KeyPair& recipient, ByteView sealed) {
  if (sealed.size() < kSealedPayloadOverhead) return std::unexpected(make_error_code(Errc::bad_seal));
  auto opened = noise::open(recipient, as_bytes(kPrologue), sealed.first(kSealedKeySize));
  if (!opened || opened->plaintext.size() != crypto_aead_chacha20poly1305_ietf_KEYBYTES)
    return std::unexpected(make_error_code(Errc::bad_seal));
  OpenedPayload out;
  out.sender_pub = opened->sender_pub;
  auto body = sealed.subspan(kSealedKeySize);
  out.payload.resize(body.size() - crypto_aead_chacha20poly1305_ietf_ABYTES);
  std::array<std::uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES> nonce{};
  unsigned long long written = 0;
  int rc = crypto_aead_chacha20poly1305_ietf_decrypt(out.payload.data(), &written, nullptr, body.data(),
                                                     body.size(), sealed.data(), kSealedKeySize, nonce.data(),
                                                     opened->plaintext.data());
  sodium_memzero(opened->plaintext.data(), opened->plaintext.size());
  if (rc != 0) return std::unexpected(make_error_code(Errc::bad_seal));
  return out;
}

}  // namespace hyphae
