// The host's IPv4 interfaces, for the sockets that join multicast groups on each of them (the
// BitChat LAN link, mDNS discovery).
// Thread-safety: pure functions (they read the kernel's interface list). Ownership: values.
#pragma once

#include <boost/asio/ip/address_v4.hpp>
#include <expected>
#include <string>
#include <vector>

namespace hyphae::net {

struct Ipv4Interface {
  std::string name;
  boost::asio::ip::address_v4 address;
  bool operator==(const Ipv4Interface&) const = default;
};

// Every interface that is up, multicast-capable and not loopback (names empty), or the named ones
// (an error names one that does not exist or has no IPv4 address); each with its first IPv4 address.
std::expected<std::vector<Ipv4Interface>, std::string> ipv4_interfaces(const std::vector<std::string>& names);

}  // namespace hyphae::net
