// BitChatTransport: the offline mesh as a Hyphae transport (type "bitchat"). A MeshNode (the
// BitChat protocol: announces, Noise sessions, relay, fragments, sync, broadcasts) on one LanLink
// (UDP multicast discovery, unicast frames on chosen interfaces). A transport session is a mesh
// peer that is up in the MeshNode: reachable, announced and Noise-established; records travel
// inside that session over as many hops as it takes (at most 7).
// Options (text, from `transport.<name>` in the configuration): the LanLink's (interfaces, group,
// group_port, listen, static_peers, beacon_interval_ms, neighbour_timeout_ms, mtu) and the mesh's
// (nickname, announce_interval_ms, peer_timeout_ms, sync_interval_ms, handshake_timeout_ms,
// eager_sessions, per_sender_rate, total_rate, and the bounds max_sender_buckets, max_known_peers,
// max_sync_reply_bytes, sync_reply_rate, sync_reply_total_rate, handshake_reply_rate), plus caps.* overrides
// of the capability table's BitChat column. Thread-safety and ownership: as Transport (everything on the
// node's strand; the node owns it).
#pragma once

#include <expected>
#include <memory>
#include <string>

#include "transport/transport.hpp"

namespace hyphae::bitchat {
class RadioMedia;
}

namespace hyphae::transport {

// Radio media (link: radio) are found by name in `media`; transports made with the same directory
// share them.
std::expected<std::unique_ptr<Transport>, std::string> make_bitchat_transport(
    TransportContext context, const std::shared_ptr<bitchat::RadioMedia>& media);
// Type "bitchat": its options and a factory with a directory of radio media of its own.
TransportType bitchat_transport_type();

}  // namespace hyphae::transport
