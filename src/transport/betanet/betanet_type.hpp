// Type "betanet": the privacy mixnet as a node transport (BetanetTransport), its options and its
// factory.
#pragma once

#include "transport/transport.hpp"

namespace hyphae::transport {

TransportType betanet_transport_type();

}  // namespace hyphae::transport
