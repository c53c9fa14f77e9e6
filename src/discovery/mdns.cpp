// libp2p mDNS discovery messages.
#include "discovery/mdns.hpp"

#include <sodium.h>

#include <algorithm>
#include <unordered_map>

#include "core/error.hpp"
#include "discovery/multiaddr.hpp"

namespace hyphae::discovery {

Bytes mdns_query() {
  DnsMessage m;
  m.questions.push_back(DnsQuestion{std::string(kMdnsServiceName), dns_type::ptr, false});
  return *encode_dns_message(m);
}

std::expected<Bytes, std::error_code> mdns_response(const MdnsAdvert& a) {
  if (a.peer_name.empty() || a.peer_name.size() > 63 || a.peer_name.find('.') != std::string::npos ||
      a.addresses.empty())
    return std::unexpected(make_error_code(Errc::invalid_argument));
  const std::string instance = a.peer_name + "." + std::string(kMdnsServiceName);
  const std::string host = a.peer_name + ".local";
  DnsMessage m;
  m.flags = 0x8400;
  DnsRecord ptr;
  ptr.name = std::string(kMdnsServiceName);
  ptr.type = dns_type::ptr;
  ptr.ttl = a.ttl;
  ptr.ptr = instance;
  m.answers.push_back(ptr);
  DnsRecord txt;
  txt.name = instance;
  txt.type = dns_type::txt;
  txt.ttl = a.ttl;
  txt.cache_flush = true;
  const auto id = a.self.to_string();
  for (const auto& addr : a.addresses) {
    auto s = "dnsaddr=" + addr + "/p2p/" + id;
    if (s.size() <= 255) txt.txt.push_back(std::move(s));  // longer strings do not fit a TXT string
  }
  if (txt.txt.empty()) return std::unexpected(make_error_code(Errc::invalid_argument));
  m.additionals.push_back(txt);
  if (a.port) {
    DnsRecord srv;
    srv.name = instance;
    srv.type = dns_type::srv;
    srv.ttl = a.ttl;
    srv.cache_flush = true;
    srv.rdata = srv_rdata(a.port, host);
    m.additionals.push_back(srv);
  }
  for (const auto& ip : a.ipv4) {
    DnsRecord rec;
    rec.name = host;
    rec.type = dns_type::a;
    rec.ttl = a.ttl;
    rec.cache_flush = true;
    rec.rdata.assign(ip.begin(), ip.end());
    m.additionals.push_back(rec);
  }
  return encode_dns_message(m);
}

bool asks_for_p2p(const DnsMessage& message) {
  if (message.is_response()) return false;
  return std::any_of(message.questions.begin(), message.questions.end(), [](const DnsQuestion& q) {
    return (q.type == dns_type::ptr || q.type == dns_type::any) && q.name == kMdnsServiceName;
  });
}

std::vector<MdnsPeer> peers_in(const DnsMessage& message) {
  std::unordered_map<PeerId, std::vector<std::string>> found;
  std::vector<PeerId> order;
  for (const auto* section : {&message.answers, &message.additionals})
    for (const auto& rec : *section) {
      if (rec.type != dns_type::txt) continue;
      for (const auto& s : rec.txt) {
        constexpr std::string_view kPrefix = "dnsaddr=";
        if (!std::string_view(s).starts_with(kPrefix)) continue;
        const std::string_view addr = std::string_view(s).substr(kPrefix.size());
        const auto p2p = addr.rfind("/p2p/");
        if (p2p == std::string_view::npos) continue;
        auto peer = PeerId::from_string(addr.substr(p2p + 5));
        const std::string base(addr.substr(0, p2p));
        if (!peer || base.empty() || !multiaddr_from_text(base)) continue;
        auto [it, inserted] = found.try_emplace(*peer);
        if (inserted) order.push_back(*peer);
        if (it->second.size() < kMaxMdnsAddressesPerPeer &&
            std::find(it->second.begin(), it->second.end(), base) == it->second.end())
          it->second.push_back(base);
      }
    }
  std::vector<MdnsPeer> out;
  for (const auto& peer : order) out.push_back(MdnsPeer{peer, std::move(found[peer])});
  return out;
}

std::string random_mdns_peer_name() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string name(32, 'a');
  for (auto& c : name) c = kAlphabet[randombytes_uniform(sizeof kAlphabet - 1)];
  return name;
}

}  // namespace hyphae::discovery
