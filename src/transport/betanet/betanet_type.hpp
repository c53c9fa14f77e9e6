// Type "betanet": the privacy mixnet's options. The configuration knows and checks them; the
// transport itself is not in this build yet (its type has no factory).
#pragma once

#include "transport/transport.hpp"

namespace hyphae::transport {

TransportType betanet_transport_type();

}  // namespace hyphae::transport
