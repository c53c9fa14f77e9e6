// Lioness (Anderson and Biham, 1996): a wide-block cipher (a strong pseudorandom permutation) over
// ChaCha20 and keyed BLAKE2b, used for Sphinx payloads. Any change to the ciphertext scrambles the
// whole plaintext, so a tagged payload is caught by its zero tag at the last hop.
// The block is split into L (32 bytes) and R (the rest); with keys K1..K4 (32 bytes each):
//   encrypt: R ^= S(L ^ K1); L ^= H(K2, R); R ^= S(L ^ K3); L ^= H(K4, R)
//   decrypt: the same four steps in reverse order
// where S(k) is the ChaCha20 (IETF) keystream under key k and a zero nonce, and H(k, x) is BLAKE2b
// keyed with k, 32 bytes out. Thread-safety: stateless. Ownership: works in place on the caller's
// buffer.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace hyphae::sphinx {

inline constexpr std::size_t kLionessKeyBytes = 128;
inline constexpr std::size_t kLionessMinBlock = 33;  // L plus at least one byte of R
using LionessKey = std::array<std::uint8_t, kLionessKeyBytes>;

// Both need block.size() >= kLionessMinBlock (a programming error otherwise).
void lioness_encrypt(const LionessKey& key, std::span<std::uint8_t> block);
void lioness_decrypt(const LionessKey& key, std::span<std::uint8_t> block);

}  // namespace hyphae::sphinx
