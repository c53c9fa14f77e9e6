// LinkConnector: what makes a MeshTransport's streams when they come neither from a TCP listener
// nor from a TCP dial: WebRTC data channels negotiated through a signaling server. The transport
// keeps everything else (Noise links, sessions, backoff); the connector only delivers streams,
// dialed (this side runs the Noise initiator) or accepted (the responder), each with the PeerId the
// far end claimed, which the Noise handshake must then prove.
// Thread-safety: on the transport's strand. Ownership: owned by its MeshTransport.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <system_error>

#include "core/peer_id.hpp"
#include "transport/stream/byte_stream.hpp"

namespace hyphae::mesh {

class LinkConnector {
 public:
  // A stream the peer opened toward us.
  using Accepted = std::function<void(std::unique_ptr<stream::ByteStream> stream, const PeerId& remote)>;
  // A dial's end: the stream, or null and why not.
  using Dialed = std::function<void(std::unique_ptr<stream::ByteStream> stream, std::string failure)>;

  virtual ~LinkConnector() = default;
  virtual std::string_view type() const = 0;
  virtual std::error_code start(Accepted accepted) = 0;
  virtual void stop() = 0;
  virtual bool valid_address(const std::string& address) const = 0;
  // `done` runs later on the strand, exactly once, unless the connector stopped first.
  virtual void dial(const PeerId& peer, const std::string& address, Dialed done) = 0;
  virtual void tick(std::uint64_t now_ms) = 0;
  virtual nlohmann::json status_json() const = 0;
};

}  // namespace hyphae::mesh
