// Noise protocol names (Noise Protocol Framework, revision 34): the handshake pattern table,
// psk modifiers and the cipher/hash choices, parsed from and printed as
// "Noise_<pattern><modifiers>_25519_<cipher>_<hash>". Plain value types and constant tables;
// immutable after construction and safe to share between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "core/error.hpp"  // hyphae::Errc, the codes in every std::error_code returned here

namespace hyphae::noise {

// Every pattern of sections 7.4 (one-way), 7.5 (interactive fundamental) and 7.6 (deferred).
enum class Pattern : std::uint8_t {
  // One-way.
  N,
  K,
  X,
  // Interactive fundamental.
  NN,
  NK,
  NX,
  KN,
  KK,
  KX,
  XN,
  XK,
  XX,
  IN,
  IK,
  IX,
  // Deferred.
  NK1,
  NX1,
  X1N,
  X1K,
  XK1,
  X1K1,
  X1X,
  XX1,
  X1X1,
  K1N,
  K1K,
  KK1,
  K1K1,
  K1X,
  KX1,
  K1X1,
  I1N,
  I1K,
  IK1,
  I1K1,
  I1X,
  IX1,
  I1X1,
};
inline constexpr std::size_t kPatternCount = static_cast<std::size_t>(Pattern::I1X1) + 1;

enum class CipherKind : std::uint8_t { ChaChaPoly, AESGCM };
enum class HashKind : std::uint8_t { SHA256, BLAKE2b };

// Noise's own framing limit: no handshake message may exceed this many bytes.
inline constexpr std::size_t kMaxMessageLen = 65535;

struct Protocol {
  Pattern pattern;
  CipherKind cipher = CipherKind::ChaChaPoly;
  HashKind hash = HashKind::SHA256;
  // psk modifiers: bit n set means "pskN" (n = 0 .. message count). 0 = no psk.
  std::uint8_t psk_modifiers = 0;

  // Errc::malformed if the name is not of the Noise_<pattern>_<dh>_<cipher>_<hash> form or the
  // modifiers are out of order / out of range; Errc::unsupported for an unknown pattern, DH,
  // cipher, hash or modifier (only 25519 and pskN are supported).
  static std::expected<Protocol, std::error_code> parse(std::string_view name);
  std::string name() const;

  bool operator==(const Protocol&) const = default;
};

// The pattern's name as written in the spec ("XX", "X1K1", ...).
std::string_view pattern_name(Pattern p);
bool is_one_way(Pattern p);
// Number of handshake messages of the pattern (1 for one-way patterns).
std::size_t message_count(Pattern p);
std::string_view cipher_name(CipherKind c);
std::string_view hash_name(HashKind h);

// True if this build/CPU can run the given cipher (AESGCM needs libsodium's AES-NI path).
bool cipher_available(CipherKind c);

// --- Token-level description of a pattern (used by HandshakeState; exposed for tests) ---
enum class Token : std::uint8_t { e, s, ee, es, se, ss, psk };

// Pre-messages and messages in the spec's notation: tokens separated by ',', messages by '|';
// messages alternate initiator -> responder, responder -> initiator, starting with the initiator.
struct PatternSpec {
  Pattern pattern;
  std::string_view name;
  std::string_view pre_initiator;  // "" or "s"
  std::string_view pre_responder;  // "" or "s"
  std::string_view messages;
};
const PatternSpec& pattern_spec(Pattern p);
std::span<const PatternSpec> all_patterns();

}  // namespace hyphae::noise
