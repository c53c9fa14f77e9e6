#include "transport/betanet/betanet_record.hpp"

#include <algorithm>

namespace hyphae::transport::betanet_record {

namespace {

constexpr std::string_view kDomain = "hyphae-betanet-record-v1";

Bytes signed_bytes(const PeerId& recipient, const PrivateId& id, std::uint8_t kind, ByteView body) {
  Bytes m;
  m.reserve(kDomain.size() + recipient.bytes().size() + id.size() + 1 + body.size());
  m.insert(m.end(), kDomain.begin(), kDomain.end());
  m.insert(m.end(), recipient.bytes().begin(), recipient.bytes().end());
  m.insert(m.end(), id.begin(), id.end());
  m.push_back(kind);
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

}  // namespace

std::size_t overhead(const PeerId& sender) {
  return 3 + sender.bytes().size() + kSignatureBytes;
}

Bytes encode(const Identity& sender, const PeerId& recipient, const PrivateId& id, std::uint8_t kind,
             ByteView body) {
  const auto from = sender.peer_id();
  const auto signature = sender.sign(signed_bytes(recipient, id, kind, body));
  Bytes out;
  out.reserve(overhead(from) + body.size());
  out.push_back(kVersion);
  out.push_back(kind);
  out.push_back(static_cast<std::uint8_t>(from.bytes().size()));
  out.insert(out.end(), from.bytes().begin(), from.bytes().end());
  out.insert(out.end(), signature.begin(), signature.end());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::expected<Record, std::string> decode(ByteView bytes, const PeerId& self, const PrivateId& id) {
  if (bytes.size() < 3) return std::unexpected("record: truncated");
  if (bytes[0] != kVersion) return std::unexpected("record: unknown version " + std::to_string(bytes[0]));
  Record r;
  r.kind = bytes[1];
  const std::size_t peer_len = bytes[2];
  if (peer_len == 0 || bytes.size() < 3 + peer_len + kSignatureBytes)
    return std::unexpected("record: truncated");
  auto sender = PeerId::from_bytes(bytes.subspan(3, peer_len));
  if (!sender) return std::unexpected("record: the sender is not a PeerId");
  auto key = sender->ed25519_public_key();
  if (!key) return std::unexpected("record: the sender's PeerId holds no Ed25519 key");
  std::array<std::uint8_t, kSignatureBytes> signature{};
  std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(3 + peer_len), kSignatureBytes, signature.begin());
  const auto body = bytes.subspan(3 + peer_len + kSignatureBytes);
  if (!Identity::verify(*key, signed_bytes(self, id, r.kind, body), signature))
    return std::unexpected("record: bad signature");
  r.sender = *sender;
  r.body.assign(body.begin(), body.end());
  return r;
}

Bytes encode_broadcast_body(std::string_view channel, std::uint64_t timestamp_ms, ByteView payload) {
  Bytes out;
  out.reserve(1 + channel.size() + 8 + payload.size());
  out.push_back(static_cast<std::uint8_t>(std::min(channel.size(), kMaxChannel)));
  out.insert(out.end(), channel.begin(),
             channel.begin() + static_cast<std::ptrdiff_t>(std::min(channel.size(), kMaxChannel)));
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(timestamp_ms >> shift));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::expected<BroadcastBody, std::string> decode_broadcast_body(ByteView body) {
  if (body.empty()) return std::unexpected("broadcast: truncated");
  const std::size_t n = body[0];
  if (n > kMaxChannel) return std::unexpected("broadcast: channel too long");
  if (body.size() < 1 + n + 8) return std::unexpected("broadcast: truncated");
  BroadcastBody b;
  b.channel.assign(reinterpret_cast<const char*>(body.data() + 1), n);
  for (std::size_t i = 0; i < 8; ++i) b.timestamp_ms = b.timestamp_ms << 8 | body[1 + n + i];
  b.payload.assign(body.begin() + static_cast<std::ptrdiff_t>(1 + n + 8), body.end());
  return b;
}

}  // namespace hyphae::transport::betanet_record
