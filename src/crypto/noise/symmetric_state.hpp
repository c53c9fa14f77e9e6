// SymmetricState (Noise spec section 5.2): the chaining key ck, the handshake hash h and the
// handshake CipherState. Internal to HandshakeState; not part of the public API.
// Ownership: move-only value; ck and h are wiped on destruction. Thread-safety: none.
#pragma once

#include <cstddef>
#include <expected>
#include <system_error>
#include <utility>

#include "core/bytes.hpp"
#include "crypto/noise/cipher_state.hpp"
#include "crypto/noise/primitives.hpp"
#include "crypto/noise/protocol.hpp"

namespace hyphae::noise::detail {

class SymmetricState {
 public:
  // InitializeSymmetric(protocol.name()).
  explicit SymmetricState(const Protocol& protocol);
  ~SymmetricState();
  SymmetricState(SymmetricState&& other) noexcept;
  SymmetricState& operator=(SymmetricState&& other) noexcept;
  SymmetricState(const SymmetricState&) = delete;
  SymmetricState& operator=(const SymmetricState&) = delete;

  void mix_key(ByteView ikm);
  void mix_hash(ByteView data);
  void mix_key_and_hash(ByteView ikm);
  bool has_key() const { return cs_.has_key(); }

  // Appends EncryptAndHash(plaintext) to out.
  void encrypt_and_hash(ByteView plaintext, Bytes& out);
  // DecryptAndHash(ciphertext) into out (resized); Errc::decrypt_failed on a bad tag.
  std::expected<void, std::error_code> decrypt_and_hash(ByteView ciphertext, Bytes& out);
  // Split(): (initiator->responder, responder->initiator). Wipes ck afterwards.
  std::pair<CipherState, CipherState> split();

  ByteView h() const { return {h_.data(), hash_len_}; }
  std::size_t hash_len() const { return hash_len_; }

 private:
  HashKind hash_;
  CipherKind cipher_;
  std::size_t hash_len_;
  Digest ck_{};
  Digest h_{};
  CipherState cs_;
};

}  // namespace hyphae::noise::detail
