#include "betanet/sphinx/sphinx.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace hyphae::sphinx {

namespace {

constexpr std::uint8_t kVersion[kVersionBytes] = {0x01, 0x00};
constexpr std::uint8_t kCmdNull = 0x00, kCmdNextHop = 0x01, kCmdRecipient = 0x02, kCmdSurbReply = 0x03;
constexpr std::size_t kStreamBytes = kRoutingBytes + kPerHopBytes;
constexpr std::size_t kAlphaAt = kVersionBytes, kBetaAt = kAlphaAt + kGroupBytes,
                      kGammaAt = kBetaAt + kRoutingBytes;
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "hyphsphx";

void ensure_sodium() {
  static const int ok = sodium_init();
  if (ok < 0) throw std::runtime_error("libsodium cannot start");
}

// Everything one hop's shared secret gives.
struct HopKeys {
  std::array<std::uint8_t, 32> mac{};
  std::array<std::uint8_t, 32> stream{};
  LionessKey payload{};
  std::array<std::uint8_t, 32> blinding{};
  ~HopKeys() { sodium_memzero(this, sizeof *this); }
};

// libsodium's KDF (keyed BLAKE2b): four 64-byte subkeys of the shared secret. HKDF-SHA256 cost as
// much as a seventh of a whole unwrap; this costs under a microsecond.
void derive(const std::array<std::uint8_t, 32>& shared, HopKeys& k) {
  std::array<std::uint8_t, 4 * 64> out{};
  static_assert(sizeof(HopKeys) <= 4 * 64);
  for (std::size_t i = 0; i < 4; ++i)
    crypto_kdf_derive_from_key(out.data() + 64 * i, 64, i + 1, kKdfContext, shared.data());
  auto at = out.begin();
  std::copy_n(at, 32, k.mac.begin());
  at += 32;
  std::copy_n(at, 32, k.stream.begin());
  at += 32;
  std::copy_n(at, kLionessKeyBytes, k.payload.begin());
  at += kLionessKeyBytes;
  std::copy_n(at, 32, k.blinding.begin());
  sodium_memzero(out.data(), out.size());
}

std::array<std::uint8_t, kStreamBytes> header_stream(const HopKeys& k) {
  std::array<std::uint8_t, kStreamBytes> s{};
  const std::array<std::uint8_t, crypto_stream_chacha20_ietf_NONCEBYTES> nonce{};
  crypto_stream_chacha20_ietf(s.data(), s.size(), nonce.data(), k.stream.data());
  return s;
}

// HMAC-SHA256(mac key, version || alpha || beta), first 16 bytes.
std::array<std::uint8_t, kMacBytes> header_mac(const HopKeys& k, const std::uint8_t* header) {
  std::array<std::uint8_t, crypto_auth_hmacsha256_BYTES> full{};
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, k.mac.data(), k.mac.size());
  crypto_auth_hmacsha256_update(&st, header, kGammaAt);
  crypto_auth_hmacsha256_final(&st, full.data());
  std::array<std::uint8_t, kMacBytes> mac{};
  std::copy_n(full.begin(), kMacBytes, mac.begin());
  return mac;
}

struct Header {
  std::array<std::uint8_t, kHeaderBytes> bytes{};
  std::vector<LionessKey> payload_keys;  // per hop, in path order
};

std::array<std::uint8_t, kPerHopBytes> final_commands(const Destination& d) {
  std::array<std::uint8_t, kPerHopBytes> c{};
  c[0] = kCmdRecipient;
  std::copy(d.recipient.begin(), d.recipient.end(), c.begin() + 1);
  if (d.surb) {
    c[33] = kCmdSurbReply;
    std::copy(d.surb->begin(), d.surb->end(), c.begin() + 34);
  }
  return c;
}

std::expected<Header, SphinxError> create_header(std::span<const Hop> path, const Destination& destination,
                                                 const SecretKey* ephemeral) {
  ensure_sodium();
  const std::size_t n = path.size();
  if (n == 0 || n > kMaxHops) return std::unexpected(SphinxError::bad_path);
  SecretKey x{};
  if (ephemeral)
    x = *ephemeral;
  else
    randombytes_buf(x.data(), x.size());

  std::vector<std::array<std::uint8_t, kGroupBytes>> alphas(n);
  std::vector<HopKeys> keys(n);
  crypto_scalarmult_base(alphas[0].data(), x.data());
  for (std::size_t i = 0; i < n; ++i) {
    // s_i = pk_i ^ (x * b_0 * ... * b_{i-1}), one X25519 per factor.
    std::array<std::uint8_t, 32> shared{};
    if (crypto_scalarmult(shared.data(), x.data(), path[i].key.data()) != 0) {
      sodium_memzero(x.data(), x.size());
      return std::unexpected(SphinxError::bad_path);  // a low-order routing key
    }
    for (std::size_t j = 0; j < i; ++j) {
      std::array<std::uint8_t, 32> next{};
      if (crypto_scalarmult(next.data(), keys[j].blinding.data(), shared.data()) != 0)
        return std::unexpected(SphinxError::bad_path);
      shared = next;
    }
    derive(shared, keys[i]);
    sodium_memzero(shared.data(), shared.size());
    if (i + 1 < n && crypto_scalarmult(alphas[i + 1].data(), keys[i].blinding.data(), alphas[i].data()) != 0)
      return std::unexpected(SphinxError::bad_path);
  }
  sodium_memzero(x.data(), x.size());

  std::vector<std::array<std::uint8_t, kStreamBytes>> streams(n);
  for (std::size_t i = 0; i < n; ++i) streams[i] = header_stream(keys[i]);

  // The filler: what hops 0..n-2 append (their zero-padding, encrypted) lands at the end of the last
  // hop's beta; the sender computes it so that every MAC covers what that hop will see.
  Bytes filler;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    filler.resize(filler.size() + kPerHopBytes, 0);
    const std::size_t from = kStreamBytes - filler.size();
    for (std::size_t b = 0; b < filler.size(); ++b) filler[b] ^= streams[i][from + b];
  }

  // The last hop's beta, then each earlier one around it.
  std::array<std::uint8_t, kRoutingBytes> beta{};
  {
    const auto cmds = final_commands(destination);
    std::copy(cmds.begin(), cmds.end(), beta.begin());
    const std::size_t own = kRoutingBytes - filler.size();
    for (std::size_t b = 0; b < own; ++b) beta[b] ^= streams[n - 1][b];
    std::copy(filler.begin(), filler.end(), beta.begin() + static_cast<std::ptrdiff_t>(own));
  }
  Header h;
  auto& out = h.bytes;
  std::copy(std::begin(kVersion), std::end(kVersion), out.begin());
  auto mac_for = [&](std::size_t i) {
    std::copy(alphas[i].begin(), alphas[i].end(), out.begin() + kAlphaAt);
    std::copy(beta.begin(), beta.end(), out.begin() + kBetaAt);
    return header_mac(keys[i], out.data());
  };
  auto gamma = mac_for(n - 1);
  for (std::size_t i = n - 1; i-- > 0;) {
    std::array<std::uint8_t, kRoutingBytes> prev{};
    prev[0] = kCmdNextHop;
    std::copy(path[i + 1].id.begin(), path[i + 1].id.end(), prev.begin() + 1);
    std::copy(gamma.begin(), gamma.end(), prev.begin() + 33);
    std::copy_n(beta.begin(), kRoutingBytes - kPerHopBytes, prev.begin() + kPerHopBytes);
    for (std::size_t b = 0; b < kRoutingBytes; ++b) prev[b] ^= streams[i][b];
    beta = prev;
    gamma = mac_for(i);
  }
  std::copy(gamma.begin(), gamma.end(), out.begin() + kGammaAt);
  for (const auto& k : keys) h.payload_keys.push_back(k.payload);
  return h;
}

Bytes padded_payload(ByteView body) {
  Bytes payload(kPayloadBytes, 0);
  std::copy(body.begin(), body.end(), payload.begin() + kTagBytes);
  return payload;
}

}  // namespace

const char* to_string(SphinxError e) {
  switch (e) {
    case SphinxError::wrong_size:
      return "a Sphinx packet of the wrong size";
    case SphinxError::bad_path:
      return "no hops, more than 5, or a hop's key is not usable";
    case SphinxError::bad_body:
      return "the body is longer than a Sphinx payload carries";
    case SphinxError::bad_group_element:
      return "the packet's group element is a low-order point";
    case SphinxError::bad_mac:
      return "the header's MAC does not hold (changed, or not for this key)";
    case SphinxError::bad_command:
      return "unknown or inconsistent routing commands";
    case SphinxError::tagged_payload:
      return "the payload was changed in transit";
  }
  return "?";
}

std::pair<PublicKey, SecretKey> generate_routing_key() {
  ensure_sodium();
  SecretKey sk{};
  randombytes_buf(sk.data(), sk.size());
  return {routing_public_key(sk), sk};
}

PublicKey routing_public_key(const SecretKey& secret) {
  ensure_sodium();
  PublicKey pk{};
  crypto_scalarmult_base(pk.data(), secret.data());
  return pk;
}

std::expected<Bytes, SphinxError> create_packet(std::span<const Hop> path, const Destination& destination,
                                                ByteView body, const SecretKey* ephemeral) {
  if (body.size() > kBodyBytes) return std::unexpected(SphinxError::bad_body);
  auto header = create_header(path, destination, ephemeral);
  if (!header) return std::unexpected(header.error());
  Bytes payload = padded_payload(body);
  // Hop i decrypts its layer, so the sender encrypts from the last hop to the first.
  for (std::size_t i = header->payload_keys.size(); i-- > 0;)
    lioness_encrypt(header->payload_keys[i], payload);
  for (auto& k : header->payload_keys) sodium_memzero(k.data(), k.size());
  Bytes packet(header->bytes.begin(), header->bytes.end());
  packet.insert(packet.end(), payload.begin(), payload.end());
  return packet;
}

std::expected<Unwrapped, SphinxError> unwrap(const SecretKey& routing_key, ByteView packet) {
  ensure_sodium();
  if (packet.size() != kPacketBytes) return std::unexpected(SphinxError::wrong_size);
  if (packet[0] != kVersion[0] || packet[1] != kVersion[1]) return std::unexpected(SphinxError::bad_command);
  std::array<std::uint8_t, 32> shared{};
  if (crypto_scalarmult(shared.data(), routing_key.data(), packet.data() + kAlphaAt) != 0)
    return std::unexpected(SphinxError::bad_group_element);
  HopKeys keys;
  derive(shared, keys);
  Unwrapped u;
  crypto_generichash(u.replay_tag.data(), u.replay_tag.size(), shared.data(), shared.size(), nullptr, 0);
  sodium_memzero(shared.data(), shared.size());

  const auto mac = header_mac(keys, packet.data());
  if (sodium_memcmp(mac.data(), packet.data() + kGammaAt, kMacBytes) != 0)
    return std::unexpected(SphinxError::bad_mac);

  std::array<std::uint8_t, kStreamBytes> b = header_stream(keys);
  for (std::size_t i = 0; i < kRoutingBytes; ++i) b[i] ^= packet[kBetaAt + i];
  const std::uint8_t* cmd = b.data();

  if (cmd[0] == kCmdNextHop) {
    if (cmd[49] != kCmdNull) return std::unexpected(SphinxError::bad_command);
    u.forward = true;
    std::copy_n(cmd + 1, 32, u.next_hop.begin());
    // The next packet is built in one buffer; the payload is decrypted in place there.
    u.packet.resize(kPacketBytes);
    std::copy(std::begin(kVersion), std::end(kVersion), u.packet.begin());
    if (crypto_scalarmult(u.packet.data() + kAlphaAt, keys.blinding.data(), packet.data() + kAlphaAt) != 0)
      return std::unexpected(SphinxError::bad_group_element);
    std::copy_n(b.begin() + kPerHopBytes, kRoutingBytes, u.packet.begin() + kBetaAt);
    std::copy_n(cmd + 33, kMacBytes, u.packet.begin() + kGammaAt);
    std::copy(packet.begin() + kHeaderBytes, packet.end(), u.packet.begin() + kHeaderBytes);
    lioness_decrypt(keys.payload, std::span(u.packet).subspan(kHeaderBytes));
    return u;
  }
  Bytes payload(packet.begin() + kHeaderBytes, packet.end());
  lioness_decrypt(keys.payload, payload);
  if (cmd[0] != kCmdRecipient) return std::unexpected(SphinxError::bad_command);
  std::copy_n(cmd + 1, 32, u.recipient.begin());
  if (cmd[33] == kCmdSurbReply) {
    u.surb.emplace();
    std::copy_n(cmd + 34, 16, u.surb->begin());
  } else if (cmd[33] != kCmdNull) {
    return std::unexpected(SphinxError::bad_command);
  }
  if (!u.surb) {
    if (!sodium_is_zero(payload.data(), kTagBytes)) return std::unexpected(SphinxError::tagged_payload);
    u.body.assign(payload.begin() + kTagBytes, payload.end());
  }
  u.payload = std::move(payload);
  return u;
}

Bytes Surb::serialize() const {
  Bytes out(header.begin(), header.end());
  out.insert(out.end(), first_hop.begin(), first_hop.end());
  out.insert(out.end(), key.begin(), key.end());
  return out;
}

std::expected<Surb, SphinxError> Surb::parse(ByteView bytes) {
  if (bytes.size() != kSurbBytes) return std::unexpected(SphinxError::wrong_size);
  Surb s;
  std::copy_n(bytes.begin(), kHeaderBytes, s.header.begin());
  std::copy_n(bytes.begin() + kHeaderBytes, 32, s.first_hop.begin());
  std::copy_n(bytes.begin() + kHeaderBytes + 32, kLionessKeyBytes, s.key.begin());
  if (s.header[0] != kVersion[0] || s.header[1] != kVersion[1])
    return std::unexpected(SphinxError::bad_command);
  return s;
}

SurbSecrets::~SurbSecrets() {
  sodium_memzero(key.data(), key.size());
  for (auto& k : hop_keys) sodium_memzero(k.data(), k.size());
}

std::expected<std::pair<Surb, SurbSecrets>, SphinxError> create_surb(std::span<const Hop> path,
                                                                     const Destination& destination,
                                                                     const SecretKey* ephemeral,
                                                                     const LionessKey* surb_key) {
  if (!destination.surb) return std::unexpected(SphinxError::bad_command);
  auto header = create_header(path, destination, ephemeral);
  if (!header) return std::unexpected(header.error());
  std::pair<Surb, SurbSecrets> out;
  out.first.header = header->bytes;
  out.first.first_hop = path[0].id;
  if (surb_key)
    out.first.key = *surb_key;
  else
    randombytes_buf(out.first.key.data(), out.first.key.size());
  out.second.id = *destination.surb;
  out.second.key = out.first.key;
  out.second.hop_keys = std::move(header->payload_keys);
  return out;
}

std::expected<Bytes, SphinxError> surb_packet(const Surb& surb, ByteView body) {
  if (body.size() > kBodyBytes) return std::unexpected(SphinxError::bad_body);
  Bytes payload = padded_payload(body);
  lioness_encrypt(surb.key, payload);
  Bytes packet(surb.header.begin(), surb.header.end());
  packet.insert(packet.end(), payload.begin(), payload.end());
  return packet;
}

std::expected<Bytes, SphinxError> open_reply(const SurbSecrets& secrets, ByteView payload) {
  if (payload.size() != kPayloadBytes) return std::unexpected(SphinxError::wrong_size);
  Bytes p(payload.begin(), payload.end());
  // Every hop decrypted its layer: put them back, last hop first, then remove the replier's layer.
  for (std::size_t i = secrets.hop_keys.size(); i-- > 0;) lioness_encrypt(secrets.hop_keys[i], p);
  lioness_decrypt(secrets.key, p);
  if (!sodium_is_zero(p.data(), kTagBytes)) return std::unexpected(SphinxError::tagged_payload);
  return Bytes(p.begin() + kTagBytes, p.end());
}

}  // namespace hyphae::sphinx
