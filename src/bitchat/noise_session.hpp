// bitchat::NoiseSession: the BitChat-flavoured Noise session between two mesh peers, sans-IO.
// Handshake: Noise_XX_25519_ChaChaPoly_SHA256, empty prologue and payloads (messages of 32, 96
// and 64 bytes, carried by the caller in 0x10 packets). The remote static key must hash to the
// peer ID claimed at construction (peer_id_of). Transport: `nonce(4, BE) || ciphertext || tag(16)`
// with a standard Noise AEAD nonce built from that counter, a 1024-message sliding replay window
// on receive, and a sender that stops at 2^32-1. Facts: docs/bitchat.md ("Noise sessions").
// No clock, no timers, no I/O: functions take `now_ms` where time matters; timeouts, retries and
// rekey policy are the caller's (see handshake_timed_out, needs_rekey).
// Ownership: move-only value that owns a copy of the local static key pair (wiped with
// sodium_memzero on destruction, and in the source of a move) and its handshake/transport keys
// (wiped by the Noise types that hold them). Thread-safety: none; one owner (thread/strand).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <system_error>

#include "bitchat/packet.hpp"
#include "core/bytes.hpp"
#include "crypto/noise/cipher_state.hpp"
#include "crypto/noise/handshake_state.hpp"

namespace hyphae::bitchat {

class NoiseSession {
 public:
  static constexpr std::size_t kMessage1Len = 32;  // -> e
  static constexpr std::size_t kMessage2Len = 96;  // <- e, ee, s, es
  static constexpr std::size_t kMessage3Len = 64;  // -> s, se
  static constexpr std::size_t kNoncePrefixLen = 4;
  static constexpr std::size_t kTagLen = noise::CipherState::kTagLen;
  static constexpr std::size_t kOverhead = kNoncePrefixLen + kTagLen;
  static constexpr std::size_t kReplayWindow = 1024;
  // The sender refuses to encrypt once its counter reaches this value: nonces 0 .. 2^32-2 are used.
  static constexpr std::uint64_t kMaxSendNonce = 0xFFFF'FFFFu;

  enum class State : std::uint8_t {
    idle,               // nothing started
    awaiting_message2,  // we are the initiator and sent message 1
    awaiting_message3,  // we are the responder and sent message 2
    established,        // transport keys ready
    failed,             // handshake died (bad message, peer ID mismatch); restart to retry
  };

  // BitChat's peer ID: the first 8 bytes of SHA-256(noise static public key).
  static ShortId peer_id_of(const std::array<std::uint8_t, 32>& noise_static_pub);

  // local_static: our long-term Curve25519 key. remote_peer_id: the peer ID the other side
  // claims (from its packets / announce); the handshake fails unless its static key hashes to it.
  NoiseSession(const noise::KeyPair& local_static, const ShortId& remote_peer_id);
  ~NoiseSession() = default;
  NoiseSession(NoiseSession&&) noexcept = default;
  NoiseSession& operator=(NoiseSession&&) noexcept = default;
  NoiseSession(const NoiseSession&) = delete;
  NoiseSession& operator=(const NoiseSession&) = delete;

  // (Re)starts a handshake as initiator from any state, discarding any previous handshake or
  // transport keys, and returns message 1 (32 bytes). Errors only if Noise itself refuses.
  std::expected<Bytes, std::error_code> start_as_initiator(std::uint64_t now_ms);

  // Processes one received handshake message and returns the message to send back, if any.
  // Messages are recognised by state and exact size (32/96/64); any other size, or a message the
  // state does not expect, is Errc::malformed / Errc::invalid_argument and changes nothing.
  //  - idle, failed, or awaiting message 3: a message 1 (re)starts us as responder -> message 2.
  //  - awaiting message 2 and a message 1 arrives (crossed handshakes, both sides initiated):
  //    the side whose peer ID is LOWER (bytewise over the 8 bytes) stays initiator, ignores it
  //    and returns nullopt; the HIGHER side abandons its own handshake, becomes responder and
  //    returns message 2. Both ends apply the same rule, so exactly one session results.
  //  - awaiting message 2 and message 2 arrives -> message 3; established.
  //  - awaiting message 3 and message 3 arrives -> nullopt; established.
  //  - established: a message 1 is refused with Errc::invalid_argument and the session is kept
  //    (handshake packets are unauthenticated); to accept a re-handshake, run it in a new
  //    NoiseSession and swap it in when that one is established.
  // A message that fails Noise processing (bad tag, low-order key) fails the session with the
  // Noise error; a remote static key not hashing to the claimed peer ID fails it with
  // Errc::peer_id_mismatch (the initiator checks before sending message 3).
  std::expected<std::optional<Bytes>, std::error_code> on_handshake(ByteView message, std::uint64_t now_ms);

  // Transport. Errc::invalid_argument when not established; Errc::too_large once the send
  // counter reaches kMaxSendNonce (re-handshake long before: see needs_rekey).
  std::expected<Bytes, std::error_code> encrypt(ByteView plaintext);
  // Errc::invalid_argument when not established; Errc::truncated if shorter than kOverhead;
  // Errc::replay for a nonce already accepted or more than 1023 behind the highest accepted one;
  // Errc::decrypt_failed on a bad tag. Only successfully decrypted nonces enter the window, so
  // nothing is decrypted twice and a forged message cannot burn a nonce. Out of order is fine.
  std::expected<Bytes, std::error_code> decrypt(ByteView wire);

  State state() const { return state_; }
  bool established() const { return state_ == State::established; }
  bool failed() const { return state_ == State::failed; }
  bool handshaking() const {
    return state_ == State::awaiting_message2 || state_ == State::awaiting_message3;
  }
  // Our role in the current (or last completed) handshake.
  bool is_initiator() const { return initiator_; }

  const ShortId& local_peer_id() const { return local_id_; }
  // The claimed peer ID given at construction; verified once established().
  const ShortId& remote_peer_id() const { return remote_id_; }
  // The peer's Noise static key; all zeros until established().
  const std::array<std::uint8_t, 32>& remote_static() const { return remote_static_; }
  // Noise channel-binding value h; empty until established().
  const Bytes& handshake_hash() const { return handshake_hash_; }

  // When the current handshake (re)started (start_as_initiator, or message 1 as responder).
  std::uint64_t handshake_started_ms() const { return handshake_started_ms_; }
  std::uint64_t established_ms() const { return established_ms_; }
  // True while handshaking for at least the role's timeout (BitChat: 10 s initiator, 20 s
  // responder). The caller then restarts or drops the session.
  bool handshake_timed_out(std::uint64_t now_ms, std::uint64_t initiator_timeout_ms = 10'000,
                           std::uint64_t responder_timeout_ms = 20'000) const;

  // Transport messages encrypted / successfully decrypted since established.
  std::uint64_t messages_sent() const { return send_nonce_; }
  std::uint64_t messages_received() const { return received_; }
  // True once established and either the session is max_age_ms old or sent + received has
  // reached max_messages (Android's policy: 1 h or 1000 messages), or the sender is within
  // max_messages of nonce exhaustion. Rekeying means a fresh handshake, run by the caller.
  bool needs_rekey(std::uint64_t now_ms, std::uint64_t max_age_ms = 3'600'000,
                   std::uint64_t max_messages = 1000) const;

  // Test hook: sets the next send nonce (e.g. near kMaxSendNonce). Never use outside tests.
  void set_send_nonce_for_testing(std::uint64_t n) { send_nonce_ = n; }
  // Test hook: the ephemeral key of the next handshake this session starts (as initiator or
  // responder), for reproducible transcripts (fuzz seeds). Never use outside tests.
  void set_ephemeral_for_testing(const noise::KeyPair& e) { next_ephemeral_.set(e); }

 private:
  std::expected<Bytes, std::error_code> begin_responder(ByteView message1, std::uint64_t now_ms);
  std::error_code finish(std::uint64_t now_ms);
  std::error_code check_remote_static();
  void reset_transport();
  void fail();

  // A key pair wiped with sodium_memzero when destroyed, overwritten, or moved from.
  class SecretKeyPair {
   public:
    SecretKeyPair() = default;
    explicit SecretKeyPair(const noise::KeyPair& k) { set(k); }
    ~SecretKeyPair() { wipe(); }
    SecretKeyPair(SecretKeyPair&& o) noexcept;
    SecretKeyPair& operator=(SecretKeyPair&& o) noexcept;
    SecretKeyPair(const SecretKeyPair&) = delete;
    SecretKeyPair& operator=(const SecretKeyPair&) = delete;
    void set(const noise::KeyPair& k);
    void wipe();
    bool empty() const { return !held_; }
    const noise::KeyPair& get() const { return key_; }

   private:
    noise::KeyPair key_{};
    bool held_ = false;
  };
  std::optional<noise::KeyPair> take_ephemeral();  // the test hook's key, once

  SecretKeyPair local_static_;
  SecretKeyPair next_ephemeral_;  // tests only
  ShortId local_id_{};
  ShortId remote_id_{};
  State state_ = State::idle;
  bool initiator_ = false;
  std::optional<noise::HandshakeState> hs_;
  noise::CipherState send_;
  noise::CipherState recv_;
  std::array<std::uint8_t, 32> remote_static_{};
  Bytes handshake_hash_;
  std::uint64_t handshake_started_ms_ = 0;
  std::uint64_t established_ms_ = 0;
  std::uint64_t send_nonce_ = 0;
  std::uint64_t received_ = 0;
  // Replay window: highest accepted nonce, and a ring of kReplayWindow bits indexed by n % 1024
  // holding the accepted nonces in (highest - 1024, highest].
  bool any_received_ = false;
  std::uint64_t highest_ = 0;
  std::array<std::uint64_t, kReplayWindow / 64> seen_{};
};

}  // namespace hyphae::bitchat
