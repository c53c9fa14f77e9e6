// Peer records: the payload codec, sealing and opening, and the freshness rule.
#include "discovery/peer_record.hpp"

#include "core/error.hpp"
#include "discovery/multiaddr.hpp"
#include "discovery/signed_envelope.hpp"
#include "util/protobuf.hpp"

namespace hyphae::discovery {
namespace {

enum : std::uint64_t {
  kPeerId = 1,
  kSeq = 2,
  kAddresses = 3,  // AddressInfo { bytes multiaddr = 1; }
  kRole = 16,
  kServices = 17,
  kExpires = 18,
  kCoordinators = 19,
  kRegion = 20,
  kMaxConnections = 21,
  kBandwidth = 22,
  kStorage = 23,
};
constexpr std::uint64_t kAddressMultiaddr = 1;

ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

bool printable(ByteView text) {
  for (auto c : text)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

std::string_view to_string(PeerRole role) {
  switch (role) {
    case PeerRole::basic:
      return "BASIC";
    case PeerRole::relay:
      return "RELAY";
    case PeerRole::super_peer:
      return "SUPER_PEER";
  }
  return "BASIC";
}

Bytes encode_peer_record(const PeerRecord& r) {
  Bytes out;
  protobuf::put_bytes_field(out, kPeerId, r.peer.bytes());
  if (r.seq) protobuf::put_varint_field(out, kSeq, r.seq);  // proto3: a zero is left out
  for (const auto& a : r.addresses) {
    Bytes info;
    protobuf::put_bytes_field(info, kAddressMultiaddr, a);
    protobuf::put_bytes_field(out, kAddresses, info);
  }
  if (r.role != PeerRole::basic) protobuf::put_varint_field(out, kRole, static_cast<std::uint64_t>(r.role));
  for (const auto& s : r.services) protobuf::put_bytes_field(out, kServices, as_bytes(s));
  if (r.expires_ms) protobuf::put_varint_field(out, kExpires, r.expires_ms);
  for (const auto& c : r.coordinators) protobuf::put_bytes_field(out, kCoordinators, c.bytes());
  if (!r.region.empty()) protobuf::put_bytes_field(out, kRegion, as_bytes(r.region));
  if (r.max_connections) protobuf::put_varint_field(out, kMaxConnections, r.max_connections);
  if (r.bandwidth_kbps) protobuf::put_varint_field(out, kBandwidth, r.bandwidth_kbps);
  if (r.storage_mb) protobuf::put_varint_field(out, kStorage, r.storage_mb);
  return out;
}

std::expected<PeerRecord, std::error_code> decode_peer_record(ByteView payload) {
  const auto malformed = [] { return std::unexpected(make_error_code(Errc::malformed)); };
  PeerRecord r;
  bool has_peer = false;
  protobuf::Field f;
  for (std::size_t pos = 0; pos < payload.size();) {
    if (!protobuf::next_field(payload, pos, f)) return malformed();
    const bool bytes = f.wire_type == protobuf::kLengthDelimited;
    const bool varint = f.wire_type == protobuf::kVarint;
    switch (f.number) {
      case kPeerId: {
        if (!bytes) return malformed();
        auto peer = PeerId::from_bytes(f.bytes);
        if (!peer) return malformed();
        r.peer = *peer;
        has_peer = true;
        break;
      }
      case kSeq:
        if (!varint) return malformed();
        r.seq = f.varint;
        break;
      case kAddresses: {
        if (!bytes || r.addresses.size() >= kMaxRecordAddresses) return malformed();
        ByteView address;
        protobuf::Field inner;
        for (std::size_t p = 0; p < f.bytes.size();) {
          if (!protobuf::next_field(f.bytes, p, inner)) return malformed();
          if (inner.number == kAddressMultiaddr && inner.wire_type == protobuf::kLengthDelimited)
            address = inner.bytes;
        }
        if (!multiaddr_to_text(address)) return malformed();  // known protocols, well-formed values
        r.addresses.emplace_back(address.begin(), address.end());
        break;
      }
      case kRole:
        if (!varint || f.varint > static_cast<std::uint64_t>(PeerRole::super_peer)) return malformed();
        r.role = static_cast<PeerRole>(f.varint);
        break;
      case kServices:
        if (!bytes || f.bytes.empty() || f.bytes.size() > kMaxRecordText || !printable(f.bytes) ||
            r.services.size() >= kMaxRecordServices)
          return malformed();
        r.services.emplace_back(f.bytes.begin(), f.bytes.end());
        break;
      case kExpires:
        if (!varint) return malformed();
        r.expires_ms = f.varint;
        break;
      case kCoordinators: {
        if (!bytes || r.coordinators.size() >= kMaxRecordCoordinators) return malformed();
        auto peer = PeerId::from_bytes(f.bytes);
        if (!peer) return malformed();
        r.coordinators.push_back(*peer);
        break;
      }
      case kRegion:
        if (!bytes || f.bytes.size() > kMaxRecordText || !printable(f.bytes)) return malformed();
        r.region.assign(f.bytes.begin(), f.bytes.end());
        break;
      case kMaxConnections:
      case kBandwidth:
      case kStorage:
        if (!varint) return malformed();
        (f.number == kMaxConnections ? r.max_connections
         : f.number == kBandwidth    ? r.bandwidth_kbps
                                     : r.storage_mb) = f.varint;
        break;
      default:
        break;  // unknown fields are skipped, as protobuf does
    }
  }
  if (!has_peer) return malformed();
  return r;
}

std::expected<Bytes, std::error_code> seal_peer_record(const Identity& signer, const PeerRecord& record) {
  if (record.peer != signer.peer_id()) return std::unexpected(make_error_code(Errc::invalid_argument));
  return seal_envelope(signer, kPeerRecordDomain, kPeerRecordCodec, encode_peer_record(record));
}

std::expected<PeerRecord, std::error_code> open_peer_record(ByteView envelope) {
  auto opened = open_envelope(envelope, kPeerRecordDomain);
  if (!opened) return std::unexpected(opened.error());
  if (!std::equal(opened->payload_type.begin(), opened->payload_type.end(), kPeerRecordCodec.begin(),
                  kPeerRecordCodec.end()))
    return std::unexpected(make_error_code(Errc::malformed));
  auto record = decode_peer_record(opened->payload);
  if (!record) return std::unexpected(record.error());
  if (record->peer != opened->signer) return std::unexpected(make_error_code(Errc::peer_id_mismatch));
  return record;
}

RecordVerdict judge_record(const PeerRecord* current, const PeerRecord& candidate, std::uint64_t now_ms) {
  if (candidate.expires_ms && candidate.expires_ms <= now_ms) return RecordVerdict::expired;
  if (!current) return RecordVerdict::accept;
  if (candidate.seq == current->seq) return RecordVerdict::repeat;
  return candidate.seq > current->seq ? RecordVerdict::accept : RecordVerdict::replay;
}

}  // namespace hyphae::discovery
