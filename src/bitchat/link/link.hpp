// bitchat::Link: one way of reaching mesh neighbours (LAN multicast today; BLE GATT later). A link
// finds neighbours, tells its sink when one appears or disappears, carries whole BitChat frames to
// one neighbour at a time and hands up the frames neighbours send. It knows nothing of packets,
// sessions or relaying: that is MeshNode's (src/bitchat/mesh_node.hpp).
// Every neighbour gets a LinkId from next_link_id(), unique in the process, so one transport can
// run several links side by side and MeshCore sees one id space.
// Thread-safety: a link runs on the strand it was made with; every method and every sink call runs
// there. Ownership: the transport owns its links; the sink outlives them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <system_error>

#include "bitchat/mesh_core.hpp"
#include "core/bytes.hpp"

namespace hyphae::bitchat {

// Process-wide neighbour ids (never 0).
LinkId next_link_id();

class LinkSink {
 public:
  virtual ~LinkSink() = default;
  // A neighbour appeared. `claimed` is the mesh ID it says it has (unverified until its announce);
  // `address` is for status views; `mtu` is the largest frame to send it.
  virtual void on_neighbour_up(LinkId link, const ShortId& claimed, const std::string& address,
                               std::size_t mtu) = 0;
  virtual void on_neighbour_down(LinkId link, const std::string& reason) = 0;
  virtual void on_frame(LinkId link, ByteView frame) = 0;
};

class Link {
 public:
  virtual ~Link() = default;
  virtual std::string_view kind() const = 0;  // "lan", ...
  virtual std::error_code start() = 0;
  virtual void stop() = 0;  // says goodbye where it can; the sink hears every neighbour go down
  // Queues one frame to a neighbour; false if the neighbour is unknown or the frame too large.
  virtual bool send(LinkId neighbour, ByteView frame) = 0;
  // Forgets a neighbour now (e.g. it sent malformed frames); it comes back with its next beacon.
  virtual void drop(LinkId neighbour, const std::string& reason) = 0;
  virtual std::size_t mtu() const = 0;
  virtual nlohmann::json status_json() const = 0;
};

}  // namespace hyphae::bitchat
