// The API's JSON shape for the node's views (src/node/node.hpp): connections, peers, routes,
// received messages, broadcasts and message status. Text from the network is made valid UTF-8
// here (a payload that is not UTF-8 goes out as payload_base64).
// Thread-safety: pure functions. Ownership: none.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "node/node.hpp"

namespace hyphae::api {

nlohmann::json to_json(const ConnectionView& c);
nlohmann::json to_json(const PeerView& p);
nlohmann::json to_json(const RouteView& r);
nlohmann::json to_json(const InboxEntry& m);
nlohmann::json to_json(const BroadcastView& b);
nlohmann::json to_json(const MessageStatus& s);
nlohmann::json to_json(const TransportStatus& t);  // the transport's own status, with the node's counters
nlohmann::json to_json(const NodeStatus& s);
nlohmann::json to_json(const ConnectivityView& c);
nlohmann::json to_json(const PowerView& p);
nlohmann::json to_json(const discovery::PeerRecord& r);  // addresses as text multiaddrs
nlohmann::json to_json(const PeerDiscoveryView& v);
nlohmann::json to_json(const DiscoveryCounters& c);
nlohmann::json to_json(const FileTransferView& f);
// The message stream's frame for a file transfer's progress or state change.
std::string file_event_text(const FileTransferView& f);

// A JSON array of the views.
template <class View>
nlohmann::json to_json_array(const std::vector<View>& views) {
  auto out = nlohmann::json::array();
  for (const auto& v : views) out.push_back(to_json(v));
  return out;
}

}  // namespace hyphae::api
