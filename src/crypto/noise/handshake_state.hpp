// HandshakeState (Noise spec section 5.3): a sans-IO Noise handshake driven token by token from
// the pattern table in protocol.hpp, for one side (initiator or responder). The caller moves
// bytes: write_message() produces the next message to send, read_message() consumes the
// peer's; when is_complete(), split() yields the two transport CipherStates.
// Ownership: move-only value; owns copies of the keys given in HandshakeConfig and wipes its
// private keys / psks on destruction. Thread-safety: none; use from one thread (or strand).
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "core/bytes.hpp"
#include "crypto/noise/cipher_state.hpp"
#include "crypto/noise/protocol.hpp"
#include "crypto/noise/symmetric_state.hpp"

namespace hyphae::noise {

// An X25519 key pair. Plain value; the owner is responsible for wiping it.
// Every copy wipes its private key when it is destroyed (sodium_memzero), so a key held by a
// link, a session or a handshake does not linger in freed memory.
struct KeyPair {
  std::array<std::uint8_t, 32> priv{}, pub{};
  static KeyPair generate();  // CSPRNG (libsodium randombytes)
  static KeyPair from_private(const std::array<std::uint8_t, 32>& priv);
  KeyPair() = default;
  KeyPair(const KeyPair&) = default;
  KeyPair& operator=(const KeyPair&) = default;
  ~KeyPair();
};

struct HandshakeConfig {
  Protocol protocol{Pattern::NN};
  bool initiator = true;
  Bytes prologue{};
  std::optional<KeyPair> s{};  // local static; required iff the pattern uses ours
  std::optional<KeyPair> e{};  // fixed ephemeral, tests/vectors only
  // Remote static known in advance: required iff the pattern pre-shares it (N, K, X, NK, KK, IK,
  // XK, ...), rejected otherwise (an XX/NN handshake would not check it).
  std::optional<std::array<std::uint8_t, 32>> rs{};
  std::vector<std::array<std::uint8_t, 32>> psks{};  // one per pskN modifier, in token order
};

class HandshakeState {
 public:
  // Errc::invalid_argument if required keys are missing, rs is given for a pattern that does not
  // pre-share the remote static, or the psk count does not match the modifiers;
  // Errc::unsupported if the cipher is not available on this CPU (AESGCM without AES-NI).
  static std::expected<HandshakeState, std::error_code> create(HandshakeConfig config);

  ~HandshakeState();
  HandshakeState(HandshakeState&&) noexcept = default;
  HandshakeState& operator=(HandshakeState&&) noexcept = default;
  HandshakeState(const HandshakeState&) = delete;
  HandshakeState& operator=(const HandshakeState&) = delete;

  // Produces the next handshake message carrying payload.
  // Errc::invalid_argument if it is not our turn or the handshake is complete; Errc::too_large if
  // the message would exceed 65535 bytes (neither changes any state); Errc::handshake_failed if
  // the handshake is dead or a DH yields an all-zero secret (which kills it).
  std::expected<Bytes, std::error_code> write_message(ByteView payload);
  // Consumes the peer's next handshake message and returns its payload.
  // Errc::invalid_argument if it is our turn to write or the handshake is complete (no state
  // change). Otherwise any error kills the handshake: Errc::too_large (> 65535 bytes),
  // Errc::truncated, Errc::decrypt_failed (bad tag), Errc::malformed (a DH with a received key
  // gave an all-zero secret); later calls then return Errc::handshake_failed.
  std::expected<Bytes, std::error_code> read_message(ByteView message);

  bool is_complete() const { return idx_ == msgs_.size(); }
  bool is_initiator() const { return initiator_; }
  bool has_failed() const { return failed_; }
  // True if the next step is write_message (false when complete or failed).
  bool my_turn() const { return !failed_ && !is_complete() && ((idx_ % 2 == 0) == initiator_); }
  // The remote static key; all zeros until has_remote_static().
  const std::array<std::uint8_t, 32>& remote_static() const { return rs_; }
  bool has_remote_static() const { return has_rs_; }
  // The current handshake hash h (32 or 64 bytes); the channel binding value once complete.
  Bytes handshake_hash() const;
  const Protocol& protocol() const { return protocol_; }

  // After completion: first = initiator->responder cipher, second = responder->initiator (unused
  // for the one-way patterns N, K, X). Throws std::logic_error if not complete, failed, or
  // already split (calling it twice would duplicate keys and nonces).
  std::pair<CipherState, CipherState> split();

 private:
  HandshakeState(const HandshakeConfig& config, std::vector<std::vector<Token>> msgs);
  bool mix_dh(Token t);

  Protocol protocol_;
  bool initiator_;
  bool psk_mode_;
  detail::SymmetricState ss_;
  std::vector<std::vector<Token>> msgs_;
  std::size_t idx_ = 0;  // index of the next message
  std::optional<KeyPair> s_;
  std::optional<KeyPair> e_;
  std::array<std::uint8_t, 32> rs_{};
  std::array<std::uint8_t, 32> re_{};
  bool has_rs_ = false;
  bool has_re_ = false;
  std::vector<std::array<std::uint8_t, 32>> psks_;
  std::size_t psk_idx_ = 0;
  bool failed_ = false;
  bool split_done_ = false;
};

}  // namespace hyphae::noise
