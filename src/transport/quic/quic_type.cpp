#include "transport/quic/quic_type.hpp"

namespace hyphae::transport {

TransportType quic_transport_type() {
  using K = OptionSpec::Kind;
  return {"quic",
          "QUIC (configuration only in this build)",
          {
              {"type", K::choice, 0, 0, {"quic"}, "quic", "the type, for an instance with a name of its own"},
              {"port", K::integer, 1, 65535, {}, "", "listening port"},
              {"max_streams", K::integer, 1, 100'000, {}, "", "concurrent streams"},
              {"idle_timeout", K::number, 0.1, 86'400, {}, "", "seconds before an idle connection closes"},
              {"keep_alive", K::number, 0.1, 86'400, {}, "", "keep-alive period in seconds"},
          },
          nullptr};
}

}  // namespace hyphae::transport
