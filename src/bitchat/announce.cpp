// Building and checking BitChat announces (see announce.hpp).
#include "bitchat/announce.hpp"

#include <sodium.h>

#include "core/error.hpp"

namespace hyphae::bitchat {

ShortId mesh_id_of(const Key32& noise_public) {
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> h;
  crypto_hash_sha256(h.data(), noise_public.data(), noise_public.size());
  ShortId id;
  std::copy_n(h.begin(), id.size(), id.begin());
  return id;
}

std::expected<Packet, std::error_code> make_announce(const Identity& identity, const Key32& noise_public,
                                                     const AnnounceOptions& options, std::uint64_t now_ms) {
  Announce a;
  a.nickname = options.nickname;
  a.noise_key = noise_public;
  a.signing_key = identity.public_key();
  a.neighbours = options.neighbours;
  if (a.neighbours.size() > kMaxAnnouncedNeighbours) a.neighbours.resize(kMaxAnnouncedNeighbours);
  a.capabilities = options.capabilities;
  auto payload = encode_announce(a);
  if (!payload) return std::unexpected(payload.error());
  Packet p;
  p.version = 1;
  p.type = static_cast<std::uint8_t>(MessageType::announce);
  p.ttl = kDefaultTtl;
  p.timestamp_ms = now_ms;
  p.sender = mesh_id_of(noise_public);
  p.payload = std::move(*payload);
  if (auto ec = sign_with(p, [&](ByteView bytes) { return identity.sign(bytes); }))
    return std::unexpected(ec);
  return p;
}

std::expected<VerifiedAnnounce, std::error_code> verify_announce(const Packet& packet, std::uint64_t now_ms,
                                                                 std::uint64_t max_skew_ms) {
  if (packet.type != static_cast<std::uint8_t>(MessageType::announce))
    return std::unexpected(make_error_code(Errc::invalid_argument));
  auto a = decode_announce(packet.payload);
  if (!a) return std::unexpected(make_error_code(Errc::malformed));
  if (!packet.signature) return std::unexpected(make_error_code(Errc::malformed));
  if (mesh_id_of(a->noise_key) != packet.sender)
    return std::unexpected(make_error_code(Errc::peer_id_mismatch));
  if (auto ec = verify(packet, a->signing_key)) return std::unexpected(ec);
  const auto skew =
      now_ms > packet.timestamp_ms ? now_ms - packet.timestamp_ms : packet.timestamp_ms - now_ms;
  if (skew > max_skew_ms) return std::unexpected(make_error_code(Errc::stale));
  VerifiedAnnounce out;
  out.mesh_id = packet.sender;
  out.peer_id = PeerId::from_ed25519(a->signing_key);
  out.announce = std::move(*a);
  return out;
}

}  // namespace hyphae::bitchat
