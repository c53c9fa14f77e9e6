// Signed peer records: how a node describes itself to others (its addresses, role, services,
// resources, the coordinators it is attached to), signed with its Ed25519 key so that no registry,
// coordinator or relay that passes it on can forge it, and numbered so that none can replay an
// older one.
//
// A record is a libp2p peer record (RFC 0003: domain "libp2p-peer-record", payload type 0x0301,
// fields 1 peer_id, 2 seq, 3 addresses) in a signed envelope, so other libp2p implementations read
// its PeerId, sequence number and addresses. Hyphae's own fields use numbers from 16 up, which they
// skip as unknown: 16 role, 17 services, 18 expires_ms, 19 coordinators, 20 region,
// 21 max_connections, 22 bandwidth_kbps, 23 storage_mb.
// Thread-safety: pure functions. Ownership: values.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"
#include "core/identity.hpp"
#include "core/peer_id.hpp"

namespace hyphae::discovery {

inline constexpr std::string_view kPeerRecordDomain = "libp2p-peer-record";
inline constexpr std::array<std::uint8_t, 2> kPeerRecordCodec{0x03, 0x01};

// Decoding bounds: a record over them is refused as malformed.
inline constexpr std::size_t kMaxRecordAddresses = 32, kMaxRecordServices = 16, kMaxRecordCoordinators = 16;
inline constexpr std::size_t kMaxRecordText = 64;

enum class PeerRole : std::uint8_t { basic = 0, relay = 1, super_peer = 2 };
std::string_view to_string(PeerRole role);

struct PeerRecord {
  PeerId peer;
  std::uint64_t seq = 0;         // larger is newer (the wall clock in ms at signing, by convention)
  std::vector<Bytes> addresses;  // binary multiaddrs (discovery/multiaddr.hpp)
  PeerRole role = PeerRole::basic;
  std::vector<std::string> services;  // e.g. "messaging", "file_transfer", "relay"
  std::uint64_t expires_ms = 0;       // wall clock; 0: no expiry given
  std::vector<PeerId> coordinators;   // super peers it is attached to
  std::string region;
  std::uint64_t max_connections = 0, bandwidth_kbps = 0, storage_mb = 0;

  friend bool operator==(const PeerRecord&, const PeerRecord&) = default;
};

// The payload (the PeerRecord protobuf) and its decoder.
Bytes encode_peer_record(const PeerRecord& record);
std::expected<PeerRecord, std::error_code> decode_peer_record(ByteView payload);

// Signs `record` as `signer` (whose PeerId it must carry: Errc::invalid_argument otherwise).
std::expected<Bytes, std::error_code> seal_peer_record(const Identity& signer, const PeerRecord& record);
// Opens an envelope: the signature must verify, the payload type must be a peer record's and the
// record's PeerId must be the signer's. Errors: Errc::malformed, Errc::bad_signature,
// Errc::peer_id_mismatch (a record signed by someone other than the peer it names).
std::expected<PeerRecord, std::error_code> open_peer_record(ByteView envelope);

// Whether `candidate` may replace `current` (the record held for the same peer, if any) at wall
// time `now_ms`: it must not have expired and must be newer (a higher seq). An equal seq is a
// repeat (nothing to do), a lower one a replay.
enum class RecordVerdict { accept, repeat, replay, expired };
RecordVerdict judge_record(const PeerRecord* current, const PeerRecord& candidate, std::uint64_t now_ms);

}  // namespace hyphae::discovery
