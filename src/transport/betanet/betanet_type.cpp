#include "transport/betanet/betanet_type.hpp"

namespace hyphae::transport {

TransportType betanet_transport_type() {
  using K = OptionSpec::Kind;
  return {"betanet",
          "the privacy mixnet (configuration only in this build)",
          {
              {"type",
               K::choice,
               0,
               0,
               {"betanet"},
               "betanet",
               "the type, for an instance with a name of its own"},
              {"port", K::integer, 1, 65535, {}, "", "listening port"},
              {"compression", K::choice, 0, 0, {"lz4", "none"}, "lz4", "frame compression"},
              {"encryption",
               K::choice,
               0,
               0,
               {"aes-256-gcm", "chacha20-poly1305"},
               "chacha20-poly1305",
               "frame AEAD"},
              {"max_frame_size", K::integer, 1024, 16'777'215, {}, "", "largest frame"},
              {"api_url", K::text, 0, 0, {}, "", "BetaNet API"},
              {"privacy_mode", K::boolean, 0, 0, {}, "", "route every message through mixes"},
              {"max_hops", K::integer, 1, 10, {}, "", "mix hops"},
          },
          nullptr};
}

}  // namespace hyphae::transport
