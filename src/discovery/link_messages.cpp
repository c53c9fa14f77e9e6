// Discovery messages on a link: the one-byte type in front of a record, query or answer.
#include "discovery/link_messages.hpp"

#include "core/error.hpp"

namespace hyphae::discovery {

Bytes encode_link_message(LinkMessageType type, ByteView body) {
  Bytes out;
  out.reserve(body.size() + 1);
  out.push_back(static_cast<std::uint8_t>(type));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::expected<LinkMessage, std::error_code> decode_link_message(ByteView bytes) {
  if (bytes.empty() || bytes.size() - 1 > kMaxLinkMessageBody)
    return std::unexpected(make_error_code(Errc::malformed));
  const auto type = bytes[0];
  if (type < 1 || type > 3) return std::unexpected(make_error_code(Errc::malformed));
  return LinkMessage{static_cast<LinkMessageType>(type), bytes.subspan(1)};
}

}  // namespace hyphae::discovery
