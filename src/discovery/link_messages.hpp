// Discovery messages on a link: what a node sends its neighbours to be found and to find others.
// One discovery record (link record type 8; RecordKind::discovery) carries one message:
//   type (1 byte) | body
//   1 record      the sender's own signed peer record (peer_record.hpp), sent when a session comes up
//   2 peer_query  PEER_QUERY (peer_query.hpp)
//   3 peer_found  PEER_FOUND (peer_query.hpp)
// Bodies are at most kMaxLinkMessageBody bytes; anything else is malformed.
// Thread-safety: pure functions. Ownership: the decoded body views the input.
#pragma once

#include <cstdint>
#include <expected>
#include <system_error>

#include "core/bytes.hpp"

namespace hyphae::discovery {

enum class LinkMessageType : std::uint8_t { record = 1, peer_query = 2, peer_found = 3 };
inline constexpr std::size_t kMaxLinkMessageBody = 8192;

struct LinkMessage {
  LinkMessageType type;
  ByteView body;
};

Bytes encode_link_message(LinkMessageType type, ByteView body);
// Errc::malformed: empty, an unknown type, or a body over kMaxLinkMessageBody.
std::expected<LinkMessage, std::error_code> decode_link_message(ByteView bytes);

}  // namespace hyphae::discovery
