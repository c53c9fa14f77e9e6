// Hyphae's error codes: one std::error_category ("hyphae") used at async edges and inside
// std::expected<T, std::error_code> for decoders. Stateless; safe from any thread.
#pragma once

#include <system_error>

namespace hyphae {

enum class Errc {
  ok = 0,
  malformed,          // bytes do not follow the format
  truncated,          // input ended early
  too_large,          // over a configured size limit
  bad_signature,      // Ed25519 signature does not verify
  bad_seal,           // sealed payload could not be opened
  decrypt_failed,     // AEAD tag mismatch
  stale,              // timestamp outside the accepted window
  replay,             // message id already seen
  handshake_failed,   // Noise handshake did not complete
  peer_id_mismatch,   // static key / identity does not match the claimed PeerId
  no_link,            // no live link to the peer (ephemeral send)
  unknown_peer,       // no address or key known for the peer
  not_found,          // no such record
  invalid_argument,   // caller error
  store_failed,       // SQLite refused a write or read
  insecure_key_file,  // identity key file has a mode wider than 0600
  closed,             // the component is shutting down
  timeout,            // deadline passed
  backpressure,       // queue full; try later
  unsupported,        // valid but not supported by this implementation
};

const std::error_category& hyphae_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), hyphae_category()};
}

}  // namespace hyphae

template <>
struct std::is_error_code_enum<hyphae::Errc> : std::true_type {};
