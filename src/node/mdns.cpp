// Node::Impl's mDNS discovery: the service on the node's strand, the peers it heard of (bounded),
// and their addresses handed to the TCP transport when a message waits for them or a search runs
// (the discovery chain's cache step reads them too).
#include "core/address.hpp"
#include "node/node_impl.hpp"

namespace hyphae {

void Node::Impl::start_mdns() {
  if (!config.mdns) return;
  const auto tcp = std::find_if(transports.begin(), transports.end(),
                                [](const TransportSlot& s) { return s.transport->type() == "tcp"; });
  std::uint16_t port = 0;
  std::string host;
  if (tcp != transports.end()) {
    port = tcp->transport->listen_port();
    std::uint16_t ignored = 0;
    std::string listen = config.listen;
    if (tcp->name != kDirectTransport)
      if (auto section = config.transports.find(tcp->name); section != config.transports.end())
        if (auto it = section->second.options.find("listen"); it != section->second.options.end())
          listen = it->second;
    parse_address(listen, host, ignored);
  }
  discovery::MdnsOptions options;
  options.query_interval_ms = config.mdns_interval_ms;
  mdns = std::make_unique<discovery::MdnsService>(
      strand, identity.peer_id(), options,
      [self = weak_from_this()](const discovery::MdnsPeer& peer) {
        if (auto impl = self.lock()) impl->on_mdns_peer(peer);
      },
      log);
  if (auto started = mdns->start(port, host); !started) {
    log->warn("{}: LAN discovery is off", started.error());
    mdns.reset();
  }
}

void Node::Impl::on_mdns_peer(const discovery::MdnsPeer& peer) {
  if (!running || peer.peer == identity.peer_id()) return;
  auto it = mdns_peers.find(peer.peer);
  if (it == mdns_peers.end()) {
    if (mdns_peers.size() >= kMaxMdnsPeers) {  // forget the one heard of longest ago
      auto oldest = std::min_element(mdns_peers.begin(), mdns_peers.end(), [](const auto& a, const auto& b) {
        return a.second.heard_ms < b.second.heard_ms;
      });
      mdns_peers.erase(oldest);
    }
    log->info("mdns: heard of {} at {}", peer.peer.to_string(), peer.addresses.front());
    it = mdns_peers.emplace(peer.peer, MdnsPeerEntry{}).first;
  }
  it->second.addresses = peer.addresses;
  it->second.heard_ms = clock->monotonic_ms();
  if (has_pending(peer.peer) || chain.running_for(peer.peer)) {
    give_mdns_addresses(peer.peer);
    for (auto& t : transports) t.transport->connect_soon(peer.peer);
  }
}

bool Node::Impl::give_mdns_addresses(const PeerId& peer) {
  auto it = mdns_peers.find(peer);
  if (it == mdns_peers.end()) return false;
  const auto tcp = std::find_if(transports.begin(), transports.end(),
                                [](const TransportSlot& s) { return s.transport->type() == "tcp"; });
  if (tcp == transports.end()) return false;
  std::vector<std::string> named;
  for (const auto& a : it->second.addresses) {
    std::string host;
    std::uint16_t port = 0;
    if (parse_address(a, host, port)) named.push_back(tcp->name + "=" + a);
  }
  if (named.empty()) return false;
  return !give_addresses(peer, named);
}

}  // namespace hyphae
