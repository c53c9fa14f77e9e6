// The host's IPv4 interfaces (getifaddrs).
#include "net/interfaces.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace hyphae::net {

namespace asio = boost::asio;

std::expected<std::vector<Ipv4Interface>, std::string> ipv4_interfaces(
    const std::vector<std::string>& names) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::unexpected(std::string("getifaddrs: ") + std::strerror(errno));
  std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> guard(list, ::freeifaddrs);
  auto ipv4_of = [](const ifaddrs* ifa) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(ifa->ifa_addr);
    return asio::ip::address_v4(ntohl(sin->sin_addr.s_addr));
  };
  std::vector<Ipv4Interface> out;
  auto have = [&](const std::string& name) {
    return std::any_of(out.begin(), out.end(), [&](const Ipv4Interface& i) { return i.name == name; });
  };
  if (names.empty()) {
    for (const ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
      if (ifa->ifa_addr == nullptr || ifa->ifa_addr->sa_family != AF_INET) continue;
      unsigned flags = ifa->ifa_flags;
      if (!(flags & IFF_UP) || !(flags & IFF_MULTICAST) || (flags & IFF_LOOPBACK)) continue;
      if (!have(ifa->ifa_name)) out.push_back({ifa->ifa_name, ipv4_of(ifa)});
    }
    return out;
  }
  for (const auto& name : names) {
    if (have(name)) continue;
    const ifaddrs* found = nullptr;
    for (const ifaddrs* ifa = list; ifa != nullptr && !found; ifa = ifa->ifa_next)
      if (ifa->ifa_addr != nullptr && ifa->ifa_addr->sa_family == AF_INET && name == ifa->ifa_name)
        found = ifa;
    if (!found) {
      if (::if_nametoindex(name.c_str()) == 0)
        return std::unexpected("interface " + name + " does not exist");
      return std::unexpected("interface " + name + " has no IPv4 address");
    }
    if (!(found->ifa_flags & IFF_UP)) spdlog::warn("interface {} is down", name);
    out.push_back({name, ipv4_of(found)});
  }
  return out;
}

}  // namespace hyphae::net
