// libp2p's mDNS discovery (libp2p specs, discovery/mdns.md) as messages, without sockets: a node
// asks for PTR `_p2p._udp.local` on 224.0.0.251:5353; each node answers with a PTR to
// `<peer-name>._p2p._udp.local` (peer-name: random, not the PeerId) and a TXT record of that name
// holding one `dnsaddr=<multiaddr>/p2p/<PeerId>` string per address. Hyphae also adds SRV and A
// records (so DNS-SD browsers such as avahi-browse can resolve the service) and reads TXT records
// from both the answers and the additional records, as other implementations put them.
// Thread-safety: pure functions. Ownership: values.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"
#include "core/peer_id.hpp"
#include "discovery/dns_message.hpp"

namespace hyphae::discovery {

inline constexpr std::string_view kMdnsServiceName = "_p2p._udp.local";
inline constexpr std::string_view kMdnsAddress = "224.0.0.251";
inline constexpr std::uint16_t kMdnsPort = 5353;
inline constexpr std::size_t kMaxMdnsAddressesPerPeer = 16;

struct MdnsPeer {
  PeerId peer;
  std::vector<std::string> addresses;  // text multiaddrs without the /p2p part
};

struct MdnsAdvert {
  PeerId self;
  std::string peer_name;                          // one label, at most 63 characters
  std::vector<std::string> addresses;             // text multiaddrs, e.g. /ip4/10.0.0.2/tcp/4001
  std::vector<std::array<std::uint8_t, 4>> ipv4;  // for the A records
  std::uint16_t port = 0;                         // for the SRV record
  std::uint32_t ttl = 120;
};

Bytes mdns_query();
// Errc::invalid_argument for a bad peer name or nothing to advertise.
std::expected<Bytes, std::error_code> mdns_response(const MdnsAdvert& advert);
// Whether a message asks for `_p2p._udp.local` (a query we should answer).
bool asks_for_p2p(const DnsMessage& message);
// The peers a response advertises (TXT `dnsaddr=` strings ending in /p2p/<PeerId>), at most
// kMaxMdnsAddressesPerPeer addresses each; strings that do not parse are skipped.
std::vector<MdnsPeer> peers_in(const DnsMessage& message);
// A random peer name: 32 lowercase letters and digits.
std::string random_mdns_peer_name();

}  // namespace hyphae::discovery
