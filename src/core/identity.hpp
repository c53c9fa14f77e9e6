// Identity: a node's Ed25519 key pair, its PeerId, and the X25519 key pair derived from it
// (the recipient key for sealed store-and-forward payloads).
// Immutable after creation; safe to share const across threads. Owns its secret key material,
// which is wiped when the object is destroyed (copies hold their own copy).
// On disk: DIR/identity.key = libp2p protobuf PrivateKey{Type=Ed25519(1), Data=seed||pub (64 bytes)},
// raw bytes, mode 0600 (the legacy 96-byte seed||pub||pub form is also read).
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <system_error>

#include "core/bytes.hpp"
#include "core/peer_id.hpp"

namespace hyphae {

class Identity {
 public:
  static Identity generate();
  static Identity from_seed(const std::array<std::uint8_t, 32>& seed);
  // Loads DIR/identity.key or creates it (and DIR, mode 0700, if missing). A new key is written to a
  // temporary file opened with O_CREAT|O_EXCL and mode 0600, fsync'd, then published with link(2),
  // so a crash or a concurrent loader never sees a half-written key and an existing key is never
  // replaced. Errors: Errc::insecure_key_file if the existing file grants any group/other
  // permission or is not a regular file; Errc::malformed if its contents are not a valid key;
  // std::system_category() codes for I/O failures.
  static std::expected<Identity, std::error_code> load_or_create(const std::filesystem::path& dir);
  // Parses / produces the identity.key file contents (libp2p PrivateKey protobuf).
  static std::expected<Identity, std::error_code> from_private_key_protobuf(ByteView pb);
  Bytes private_key_protobuf() const;

  Identity(const Identity&) = default;
  Identity& operator=(const Identity&) = default;
  ~Identity();

  const PeerId& peer_id() const { return peer_id_; }
  const std::array<std::uint8_t, 32>& public_key() const { return public_key_; }

  std::array<std::uint8_t, 64> sign(ByteView msg) const;
  static bool verify(const std::array<std::uint8_t, 32>& pub, ByteView msg,
                     const std::array<std::uint8_t, 64>& sig);

  // X25519 key pair derived from the Ed25519 key (crypto_sign_ed25519_sk_to_curve25519 /
  // crypto_sign_ed25519_pk_to_curve25519).
  const std::array<std::uint8_t, 32>& x25519_private() const { return x25519_private_; }
  const std::array<std::uint8_t, 32>& x25519_public() const { return x25519_public_; }
  // The X25519 public key of a peer from its Ed25519 PeerId. Errc::unsupported for non-Ed25519
  // IDs, Errc::invalid_argument for an empty one, Errc::malformed if the key is not a valid point.
  static std::expected<std::array<std::uint8_t, 32>, std::error_code> x25519_public_of(const PeerId& peer);

 private:
  Identity() = default;

  std::array<std::uint8_t, 64> secret_key_{};  // libsodium form: seed || public key
  std::array<std::uint8_t, 32> public_key_{};
  std::array<std::uint8_t, 32> x25519_private_{};
  std::array<std::uint8_t, 32> x25519_public_{};
  PeerId peer_id_;
};

}  // namespace hyphae
