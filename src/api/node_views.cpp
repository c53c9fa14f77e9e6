// JSON for the node's views.
#include "api/node_views.hpp"

#include "util/json_util.hpp"

namespace hyphae::api {

nlohmann::json to_json(const ConnectionView& c) {
  return {{"peer_id", c.peer.to_string()},
          {"transport", c.transport},
          {"session", c.session},
          {"remote_address", c.remote_address},
          {"direction", c.initiator ? "outbound" : "inbound"},
          {"age_ms", c.age_ms},
          {"bytes_in", c.bytes_in},
          {"bytes_out", c.bytes_out},
          {"records_in", c.records_in},
          {"records_out", c.records_out},
          {"hops", c.hops},
          {"next_hop", c.next_hop ? c.next_hop->to_string() : c.peer.to_string()}};
}

nlohmann::json to_json(const PeerView& p) {
  return {{"peer_id", p.peer.to_string()},
          {"addresses", p.addresses},
          {"connected", p.connected},
          {"last_seen_ms", p.last_seen_ms}};
}

nlohmann::json to_json(const RouteView& r) {
  nlohmann::json j = {{"destination", r.destination.to_string()},
                      {"next_hop", r.next_hop.to_string()},
                      {"transport", r.transport},
                      {"kind", r.kind},
                      {"hops", r.hops},
                      {"updated_ms", r.updated_ms}};
  if (r.expires_ms) j["expires_ms"] = r.expires_ms;
  return j;
}

nlohmann::json to_json(const InboxEntry& m) {
  nlohmann::json j{{"seq", m.seq},
                   {"id", m.id.to_hex()},
                   {"from", m.from.to_string()},
                   {"timestamp_ms", m.timestamp_ms},
                   {"type", m.type},
                   {"acknowledged", m.acknowledged}};
  put_payload(j, m.payload);  // a payload that is not UTF-8 goes out as payload_base64
  return j;
}

nlohmann::json to_json(const BroadcastView& b) {
  nlohmann::json j{{"seq", b.seq},
                   {"via", b.via},
                   {"channel", b.channel},
                   // Display text from the network: made valid UTF-8.
                   {"text", sanitize_utf8(std::string(b.payload.begin(), b.payload.end()))},
                   {"verified", b.verified},
                   {"own", b.own},
                   {"sent_ms", b.sent_ms},
                   {"received_ms", b.received_ms}};
  // What the transport knows of the sender (the BitChat mesh: nickname and mesh_id).
  for (const auto& [key, value] : b.sender_details)
    if (!j.contains(key)) j[key] = sanitize_utf8(value);
  if (b.sender) j["from"] = b.sender->to_string();
  return j;
}

nlohmann::json to_json(const MessageStatus& s) {
  return {{"id", s.id.to_hex()},        {"direction", s.direction},
          {"status", s.state},          {"peer", s.peer.to_string()},
          {"transport", s.transport},   {"transport_reason", s.transport_reason},
          {"reason", s.reason},         {"created_ms", s.created_ms},
          {"updated_ms", s.updated_ms}, {"attempts", s.attempts}};
}

}  // namespace hyphae::api
