// The transport types this build has: one line per transport folder.
#include "transport/betanet/betanet_type.hpp"
#include "transport/bitchat/bitchat_transport.hpp"
#include "transport/mesh/mesh_transport.hpp"
#include "transport/quic/quic_type.hpp"

namespace hyphae::transport {

TransportRegistry builtin_registry() {
  TransportRegistry r;
  r.add(MeshTransport::type_info());
  r.add(MeshTransport::websocket_type_info());
  r.add(MeshTransport::webrtc_type_info());
  r.add(bitchat_transport_type());
  r.add(betanet_transport_type());
  r.add(quic_transport_type());
  return r;
}

}  // namespace hyphae::transport
