// Node: its own signed peer record, and the records it learns from others (kept in the store's
// peer_records, newest sequence number only). A record's TCP addresses go to the first TCP
// transport when a message waits for that PeerId (or the discovery chain finds it in the cache), so
// the message goes out without anyone typing an address.
#include <algorithm>

#include "core/address.hpp"
#include "core/error.hpp"
#include "core/ws_address.hpp"
#include "discovery/multiaddr.hpp"
#include "node/node_impl.hpp"

namespace hyphae {

namespace {

// "/ip4/h/tcp/p" (or /ip6/, /dns/) for a TCP listener at host:port; empty for a wildcard host,
// which says nothing about where to dial.
std::string tcp_multiaddr(const std::string& host, std::uint16_t port) {
  if (host.empty() || host == "0.0.0.0" || host == "::") return {};
  const bool v4 = host.find_first_not_of("0123456789.") == std::string::npos;
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(v4 ? "/ip4/" : v6 ? "/ip6/" : "/dns/") + host + "/tcp/" + std::to_string(port);
}

}  // namespace

std::expected<Bytes, std::error_code> Node::signed_record() {
  impl_->assert_on_strand();
  return impl_->sign_own_record();
}

std::expected<Bytes, std::error_code> Node::Impl::sign_own_record() {
  auto& i = *this;
  discovery::PeerRecord record;
  record.peer = i.identity.peer_id();
  // Newer than any record this node signed before, also across restarts (the wall clock).
  record.seq = std::max(i.own_record_seq + 1, i.clock->wall_ms());
  i.own_record_seq = record.seq;
  record.services = {"messaging"};
  if (i.config.role == "relay" || i.config.role == "super_peer") {
    record.role = i.config.role == "relay" ? discovery::PeerRole::relay : discovery::PeerRole::super_peer;
    record.services.push_back("relay");
  }
  record.expires_ms = i.clock->wall_ms() + kOwnRecordTtlMs;
  if (i.relay_transport) record.coordinators = i.relay_transport->reserved_relays();
  for (const auto& slot : i.transports) {
    if (slot.transport->type() == "webrtc") {  // reachable through its signaling server
      const auto section = i.config.transports.find(slot.name);
      if (section == i.config.transports.end()) continue;
      auto signal = section->second.options.find("signal");
      if (signal == section->second.options.end()) continue;
      auto server = ws::parse_ws_address(signal->second);
      ws::WsAddress plain;
      if (!server && parse_address(signal->second, plain.host, plain.port)) server = plain;
      if (!server) continue;
      if (auto bytes = discovery::multiaddr_from_text(ws::webrtc_star_multiaddr(*server)))
        record.addresses.push_back(std::move(*bytes));
      continue;
    }
    const bool websocket = slot.transport->type() == "websocket";
    if ((slot.transport->type() != "tcp" && !websocket) || !slot.transport->listen_port()) continue;
    const auto section = i.config.transports.find(slot.name);
    std::string listen = i.config.listen;
    bool tls = false;
    if (section != i.config.transports.end()) {
      if (slot.name != kDirectTransport || websocket)
        if (auto it = section->second.options.find("listen"); it != section->second.options.end())
          listen = it->second;
      if (auto it = section->second.options.find("tls"); it != section->second.options.end())
        tls = it->second == "true";
    }
    if (websocket && section == i.config.transports.end()) listen = "127.0.0.1:0";
    std::string host;
    std::uint16_t port = 0;
    if (!parse_address(listen, host, port)) continue;
    auto text = tcp_multiaddr(host, slot.transport->listen_port());
    if (text.empty()) continue;
    if (websocket) text += tls ? "/tls/ws" : "/ws";
    if (auto bytes = discovery::multiaddr_from_text(text)) record.addresses.push_back(std::move(*bytes));
  }
  return discovery::seal_peer_record(i.identity, record);
}

std::vector<std::string> Node::Impl::dialable_addresses(const discovery::PeerRecord& record) const {
  std::vector<std::string> out;
  auto has = [&](std::string_view type) {
    return std::any_of(transports.begin(), transports.end(),
                       [&](const TransportSlot& s) { return s.transport->type() == type; });
  };
  const bool has_tcp = has("tcp"), has_websocket = has("websocket"), has_webrtc = has("webrtc");
  if (!has_tcp && !has_websocket && !has_webrtc) return out;
  for (const auto& bytes : record.addresses) {
    auto text = discovery::multiaddr_to_text(bytes);
    if (!text) continue;
    std::string host;
    std::uint16_t port = 0;
    if (has_tcp && parse_address(*text, host, port))
      out.push_back(*text);  // a TCP address
    else if (has_websocket && ws::parse_ws_address(*text))
      out.push_back(*text);  // a WebSocket one
    else if (has_webrtc && ws::parse_webrtc_star_address(*text))
      out.push_back(*text);  // a signaling server to reach it by WebRTC
  }
  if (!has_tcp) return out;
  // Its coordinators relay to it: a circuit through one of them.
  if (relay_transport)
    for (const auto& c : record.coordinators)
      if (c != identity.peer_id() && c != record.peer)
        out.push_back("/p2p/" + c.to_string() + "/p2p-circuit");
  return out;
}

std::vector<std::string> Node::Impl::give_record_addresses(const discovery::PeerRecord& record) {
  auto given = dialable_addresses(record);
  if (given.empty()) return given;
  give_relays(record.peer, record.coordinators);
  auto first_of = [&](std::string_view type) {
    return std::find_if(transports.begin(), transports.end(),
                        [&](const TransportSlot& s) { return s.transport->type() == type; });
  };
  const auto tcp = first_of("tcp"), websocket = first_of("websocket"), webrtc = first_of("webrtc");
  std::vector<std::string> named;
  for (const auto& a : given) {
    if (a.ends_with("/p2p-circuit")) continue;
    const bool is_ws = ws::parse_ws_address(a).has_value();
    const bool is_webrtc = ws::parse_webrtc_star_address(a).has_value();
    const auto slot = is_webrtc ? webrtc : is_ws ? websocket : tcp;
    if (slot != transports.end()) named.push_back(slot->name + "=" + a);
  }
  if (named.empty()) return given;
  if (auto ec = give_addresses(record.peer, named))
    log->warn("the record of {} has addresses this node cannot use: {}", record.peer.to_string(),
              ec.message());
  return given;
}

void Node::learn_record(ByteView envelope, std::string source,
                        std::function<void(std::expected<LearnedRecord, std::error_code>)> done) {
  impl_->assert_on_strand();
  impl_->learn_record(envelope, std::move(source), std::move(done));
}

std::optional<discovery::PeerRecord> Node::Impl::held_record(const PeerId& peer, Bytes* envelope) const {
  auto row = store->peer_record(Bytes(peer.bytes().begin(), peer.bytes().end()));
  if (!row || (row->expires_ms && row->expires_ms <= clock->wall_ms())) return std::nullopt;
  auto record = discovery::open_peer_record(row->envelope);  // checked again: the file is not trusted
  if (!record || record->peer != peer) return std::nullopt;
  if (envelope) *envelope = std::move(row->envelope);
  return std::move(*record);
}

void Node::Impl::learn_record(ByteView envelope, std::string source,
                              std::function<void(std::expected<LearnedRecord, std::error_code>)> done) {
  auto& i = *this;
  auto record = discovery::open_peer_record(envelope);
  if (!record) return done(std::unexpected(record.error()));
  if (record->peer == i.identity.peer_id())
    return done(std::unexpected(make_error_code(Errc::invalid_argument)));
  const Bytes peer_bytes(record->peer.bytes().begin(), record->peer.bytes().end());
  std::optional<discovery::PeerRecord> held;
  if (auto row = i.store->peer_record(peer_bytes)) {
    discovery::PeerRecord current;
    current.peer = record->peer;
    current.seq = row->seq;
    current.expires_ms = row->expires_ms;
    held = current;
  }
  const auto now = i.clock->wall_ms();
  switch (discovery::judge_record(held ? &*held : nullptr, *record, now)) {
    case discovery::RecordVerdict::expired:
      return done(std::unexpected(make_error_code(Errc::stale)));
    case discovery::RecordVerdict::replay:
      return done(std::unexpected(make_error_code(Errc::replay)));
    case discovery::RecordVerdict::repeat:
    case discovery::RecordVerdict::accept:
      break;
  }
  // The transports get the addresses only when something waits for the peer (or a search runs);
  // otherwise the discovery chain's cache step hands them over when they are needed.
  const bool wanted = i.has_pending(record->peer) || i.chain.running_for(record->peer);
  LearnedRecord learned{*record, wanted ? i.give_record_addresses(*record) : i.dialable_addresses(*record),
                        false};
  if (held && held->seq == record->seq) return done(std::move(learned));  // a repeat: nothing to write
  learned.stored = true;
  store::WriteBatch batch;
  batch.record_upserts.push_back(store::PeerRecordRow{peer_bytes, record->seq,
                                                      Bytes(envelope.begin(), envelope.end()),
                                                      std::move(source), now, record->expires_ms});
  i.stage(std::move(batch),
          [done = std::move(done), learned = std::move(learned)](std::error_code ec) mutable {
            if (ec) return done(std::unexpected(ec));
            done(std::move(learned));
          });
  if (i.running && i.has_pending(record->peer))
    for (auto& t : i.transports) t.transport->connect_soon(record->peer);
}

void Node::Impl::load_records() {
  const auto now = clock->wall_ms();
  std::size_t loaded = 0;
  for (const auto& row : store->peer_records()) {
    if (row.expires_ms && row.expires_ms <= now) continue;
    auto record = discovery::open_peer_record(row.envelope);  // checked again: the file is not trusted
    if (!record) continue;
    if (has_pending(record->peer)) give_record_addresses(*record);
    ++loaded;
  }
  if (loaded) log->info("{} peer records reloaded", loaded);
}

}  // namespace hyphae
