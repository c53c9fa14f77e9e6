// JSON for the node's views.
#include "api/node_views.hpp"

#include "discovery/multiaddr.hpp"
#include "files/transfer_core.hpp"
#include "power/policy.hpp"
#include "router/connectivity.hpp"
#include "transport/transport.hpp"
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

nlohmann::json to_json(const PeerDiscoveryView& v) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : v.steps) {
    nlohmann::json j{{"step", s.step},
                     {"budget_ms", s.budget_ms},
                     {"started_after_ms", s.started_after_ms},
                     {"outcome", s.outcome}};
    j["took_ms"] = s.took_ms ? nlohmann::json(*s.took_ms) : nlohmann::json(nullptr);
    steps.push_back(std::move(j));
  }
  nlohmann::json j{{"peer", v.peer.to_string()}, {"state", v.state},       {"age_ms", v.age_ms},
                   {"steps", std::move(steps)},  {"sessions", v.sessions}, {"addresses", v.addresses},
                   {"pending", v.pending}};
  j["found_by"] = v.found_by.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.found_by);
  if (v.record_seq)
    j["record"] = {
        {"seq", *v.record_seq}, {"source", v.record_source}, {"coordinators", v.record_coordinators}};
  return j;
}

nlohmann::json to_json(const DiscoveryCounters& c) {
  return {{"searches", c.searches},
          {"found", c.found},
          {"store_and_forward", c.store_and_forward},
          {"queries_sent", c.queries_sent},
          {"queries_received", c.queries_received},
          {"queries_answered", c.queries_answered},
          {"queries_forwarded", c.queries_forwarded},
          {"queries_dropped", c.queries_dropped},
          {"answers_received", c.answers_received},
          {"answers_unsolicited", c.answers_unsolicited},
          {"answers_passed_back", c.answers_passed_back},
          {"records_pushed", c.records_pushed},
          {"records_learned", c.records_learned},
          {"records_refused", c.records_refused},
          {"malformed", c.malformed},
          {"mdns",
           {{"running", c.mdns_running},
            {"peers", c.mdns_peers},
            {"queries_sent", c.mdns_queries_sent},
            {"answers_sent", c.mdns_answers_sent},
            {"packets_dropped", c.mdns_packets_dropped}}}};
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

nlohmann::json to_json(const discovery::PeerRecord& r) {
  auto addresses = nlohmann::json::array();
  for (const auto& a : r.addresses)
    if (auto text = discovery::multiaddr_to_text(a)) addresses.push_back(*text);
  auto coordinators = nlohmann::json::array();
  for (const auto& c : r.coordinators) coordinators.push_back(c.to_string());
  nlohmann::json j{{"peer_id", r.peer.to_string()}, {"seq", r.seq},
                   {"addresses", addresses},        {"role", std::string(discovery::to_string(r.role))},
                   {"services", r.services},        {"coordinators", coordinators}};
  if (r.expires_ms) j["expires_ms"] = r.expires_ms;
  if (!r.region.empty()) j["region"] = r.region;
  return j;
}

nlohmann::json to_json(const TransportStatus& t) {
  auto j = t.transport->status_json();
  j["name"] = t.name;
  j["degraded_peers"] = t.degraded_peers;
  j["redundant_wins"] = t.redundant_wins;
  j["failovers_to"] = t.failovers_to;
  j["fault_injection"] = t.fault_injection;
  return j;
}

nlohmann::json to_json(const NodeStatus& s) {
  const auto& c = s.counters;
  const auto& in = s.inbox;
  return {{"peer_id", s.peer_id.to_string()},
          {"listen", s.listen},
          {"listen_port", s.listen_port},
          {"running", s.running},
          {"has_internet", s.has_internet},
          {"connectivity_basis", s.connectivity_basis},
          {"transports", to_json_array(s.transports)},
          {"connections", s.connections},
          {"known_peers", s.known_peers},
          {"outbox", {{"queued", s.outbox_queued}, {"in_flight", s.outbox_in_flight}}},
          {"counters",
           {{"sent", c.sent},
            {"delivered", c.delivered},
            {"received", c.received},
            {"duplicates", c.duplicates},
            {"rejected", c.rejected},
            {"ephemeral_sent", c.ephemeral_sent},
            {"ephemeral_received", c.ephemeral_received},
            {"links_up", c.links_up},
            {"links_down", c.links_down},
            {"inbox_full", c.inbox_full},
            {"receive_pauses", c.receive_pauses}}},
          {"inbox",
           {{"unacknowledged", in.unacknowledged},
            {"from_strangers", in.from_strangers},
            {"senders", in.senders},
            {"max_per_peer", in.max_per_peer},
            {"max_messages", in.max_messages},
            {"uncommitted_bytes", in.uncommitted_bytes},
            {"uncommitted_peak_bytes", in.uncommitted_peak_bytes},
            {"sessions_paused", in.sessions_paused},
            {"max_uncommitted_bytes", in.max_uncommitted_bytes}}},
          {"strangers_forgotten", s.strangers_forgotten}};
}

nlohmann::json to_json(const ConnectivityView& view) {
  const auto& c = *view.state;
  auto history = nlohmann::json::array();
  for (const auto& h : c.history())
    history.push_back({{"online", h.online},
                       {"at_ms", h.at_ms},
                       {"basis", std::string(router::to_string(h.basis))},
                       {"detail", h.detail}});
  nlohmann::json out = {{"online", c.online()},
                        {"basis", std::string(router::to_string(c.basis()))},
                        {"since_ms", c.since_ms()},
                        {"probe", view.probe},
                        {"history", history}};
  out["override"] = c.override_value() ? nlohmann::json(*c.override_value()) : nlohmann::json(nullptr);
  return out;
}

nlohmann::json to_json(const PowerView& view) {
  auto opt = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  const auto& measured = *view.measured;
  const auto& overrides = *view.overrides;
  const auto& effective = *view.effective;
  const auto& p = *view.policy;
  return {{"measured",
           {{"battery", opt(measured.battery_fraction)},
            {"charging", measured.charging},
            {"temperature_c", opt(measured.temperature_c)},
            {"sysfs_root", view.sysfs_root},
            {"notes", view.notes}}},
          {"overrides",
           {{"battery", opt(overrides.battery_fraction)},
            {"charging", opt(overrides.charging)},
            {"temperature_c", opt(overrides.temperature_c)}}},
          {"effective",
           {{"battery", opt(effective.battery_fraction)},
            {"charging", effective.charging},
            {"temperature_c", opt(effective.temperature_c)}}},
          {"policy",
           {{"battery_level", std::string(power::to_string(p.battery_level))},
            {"thermal_level", std::string(power::to_string(p.thermal_level))},
            {"allowed_transports", power::to_string(p.allowed_transports)},
            {"keepalive_interval_ms", p.heartbeat_interval.count()},
            {"discovery_enabled", p.discovery_enabled},
            {"discovery_interval_ms", p.discovery_interval.count()},
            {"max_connections", p.max_connections},
            {"thermal_throttling", p.thermal_throttling},
            {"throughput_factor", p.throughput_factor},
            {"reasons", p.reasons}}}};
}

nlohmann::json to_json(const FileTransferView& f) {
  using json = nlohmann::json;
  const auto& t = *f.transfer;
  json out{{"id", files::to_hex(t.id)},
           {"peer", t.peer.to_string()},
           {"direction", files::to_string(t.direction)},
           {"name", t.name},
           {"media_type", t.media_type},
           {"size", t.size},
           {"sha256", to_hex(ByteView(t.sha256.data(), t.sha256.size()))},
           {"state", files::to_string(t.state)},
           {"bytes", t.done_bytes},
           {"progress", t.size ? static_cast<double>(t.done_bytes) / static_cast<double>(t.size) : 1.0},
           {"rate_bps", f.rate_bps},
           {"created_ms", t.created_ms},
           {"updated_ms", t.updated_ms}};
  if (f.rate_bps > 0 && t.done_bytes < t.size)
    out["eta_s"] = static_cast<double>(t.size - t.done_bytes) / f.rate_bps;
  if (!t.path.empty()) out["path"] = t.path;
  if (!t.error.empty()) out["error"] = t.error;
  return out;
}

std::string file_event_text(const FileTransferView& f) {
  return nlohmann::json{{"event", "file"}, {"file", to_json(f)}}.dump();
}

}  // namespace hyphae::api
