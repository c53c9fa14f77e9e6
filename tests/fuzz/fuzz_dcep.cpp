// Fuzz target: data channel establishment messages (RFC 8832) as a remote peer sends them on the
// SCTP stream it opens. A decoded OPEN encodes to bytes that decode to the same message (not
// necessarily the same bytes: a reliable channel's reliability parameter is ignored on receipt, as
// RFC 8832 says, and sent as 0); label and protocol stay within their bound.
#include <cstdlib>

#include "webrtc/dcep.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyphae::webrtc;
  auto m = decode_dcep(hyphae::ByteView(data, size));
  if (!m) return 0;
  if (const auto* open = std::get_if<DcepOpen>(&*m)) {
    if (open->label.size() > kMaxDcepLabelBytes || open->protocol.size() > kMaxDcepLabelBytes) std::abort();
    auto bytes = encode_dcep_open(*open);
    if (!bytes) std::abort();
    auto again = decode_dcep(*bytes);
    if (!again || !std::holds_alternative<DcepOpen>(*again) || !(std::get<DcepOpen>(*again) == *open))
      std::abort();
  } else if (encode_dcep_ack() != hyphae::Bytes(data, data + size)) {
    std::abort();
  }
  return 0;
}
