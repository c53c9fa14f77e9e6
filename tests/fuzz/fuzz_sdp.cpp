// Fuzz target: session descriptions and ICE candidate lines as a remote peer (a browser, through
// the signaling server) sends them. parse_sdp within its bounds; a parsed description builds back
// into SDP that parses to the same description (when its credentials are ones we would write);
// parse_candidate on each line, and format_candidate of a parsed candidate parses back equal.
#include <cstdlib>
#include <string_view>

#include "webrtc/sdp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyphae::webrtc;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto parsed = parse_sdp(text)) {
    if (parsed->candidates.size() > kMaxSdpCandidates) std::abort();
    if (auto built = build_sdp(*parsed)) {
      auto again = parse_sdp(*built);
      if (!again) std::abort();
      if (again->ice_ufrag != parsed->ice_ufrag || again->ice_pwd != parsed->ice_pwd ||
          again->fingerprint != parsed->fingerprint || again->setup != parsed->setup ||
          again->candidates != parsed->candidates)
        std::abort();
    }
  }
  std::size_t start = 0;
  for (std::size_t lines = 0; start < text.size() && lines < 64; ++lines) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (auto c = parse_candidate(text.substr(start, end - start))) {
      auto back = parse_candidate(format_candidate(*c));
      if (!back || !(*back == *c)) std::abort();
    }
    start = end + 1;
  }
  return 0;
}
