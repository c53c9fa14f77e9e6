// mDNS discovery messages: our query and response decode as libp2p's mDNS spec describes them;
// names compressed the way responders write them are read; hostile packets (pointer loops,
// truncation, bad labels, too many records) are refused; peers come out of TXT `dnsaddr=` strings
// in the answers or the additional records, bounded per peer.
#include "discovery/mdns.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/identity.hpp"

namespace hyphae::discovery {
namespace {

TEST(Mdns, OurResponseAdvertisesThePeerAsTheSpecSays) {
  const auto self = Identity::generate().peer_id();
  MdnsAdvert a;
  a.self = self;
  a.peer_name = random_mdns_peer_name();
  a.addresses = {"/ip4/10.77.0.11/tcp/4001", "/ip4/127.0.0.1/tcp/4001"};
  a.ipv4 = {{10, 77, 0, 11}};
  a.port = 4001;
  auto bytes = mdns_response(a);
  ASSERT_TRUE(bytes);
  auto m = decode_dns_message(*bytes);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->is_response());
  EXPECT_FALSE(asks_for_p2p(*m));
  ASSERT_EQ(m->answers.size(), 1u);
  EXPECT_EQ(m->answers[0].type, dns_type::ptr);
  EXPECT_EQ(m->answers[0].name, "_p2p._udp.local");
  EXPECT_EQ(m->answers[0].ptr, a.peer_name + "._p2p._udp.local");
  ASSERT_EQ(m->additionals.size(), 3u);  // TXT, SRV, A
  EXPECT_EQ(m->additionals[0].txt[0], "dnsaddr=/ip4/10.77.0.11/tcp/4001/p2p/" + self.to_string());
  EXPECT_EQ(m->additionals[2].rdata, (Bytes{10, 77, 0, 11}));
  auto peers = peers_in(*m);
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].peer, self);
  EXPECT_EQ(peers[0].addresses, a.addresses);
  // The query asks for the service's PTR.
  auto q = decode_dns_message(mdns_query());
  ASSERT_TRUE(q);
  EXPECT_TRUE(asks_for_p2p(*q));
  EXPECT_EQ(q->questions[0].name, "_p2p._udp.local");
  // Bad names and nothing to advertise are refused.
  a.peer_name = "has.dot";
  EXPECT_FALSE(mdns_response(a));
  a.peer_name = std::string(64, 'x');
  EXPECT_FALSE(mdns_response(a));
}

// A response as a responder writes it, with compression pointers: the PTR's data and the TXT
// record's name point back into earlier names.
TEST(Mdns, CompressedNamesAreReadAndTxtInTheAnswersCounts) {
  const auto peer = Identity::generate().peer_id();
  Bytes m = {0, 0, 0x84, 0, 0, 0, 0, 2, 0, 0, 0, 0};
  // answer 1: _p2p._udp.local PTR -> abc.<ptr to offset 12>
  const std::size_t service_at = m.size();
  for (std::string_view label : {"_p2p", "_udp", "local"}) {
    m.push_back(static_cast<std::uint8_t>(label.size()));
    m.insert(m.end(), label.begin(), label.end());
  }
  m.push_back(0);
  m.insert(m.end(), {0, 12, 0, 1, 0, 0, 0, 120, 0, 6});
  const std::size_t instance_at = m.size();
  m.insert(m.end(), {3, 'a', 'b', 'c', 0xC0, static_cast<std::uint8_t>(service_at)});
  // answer 2: <ptr to abc._p2p._udp.local> TXT dnsaddr=...
  m.insert(m.end(), {0xC0, static_cast<std::uint8_t>(instance_at), 0, 16, 0x80, 1, 0, 0, 0, 120});
  const std::string txt = "dnsaddr=/ip4/192.168.1.20/tcp/4001/p2p/" + peer.to_string();
  m.push_back(0);
  m.push_back(static_cast<std::uint8_t>(txt.size() + 1));
  m.push_back(static_cast<std::uint8_t>(txt.size()));
  m.insert(m.end(), txt.begin(), txt.end());
  auto decoded = decode_dns_message(m);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->answers[0].ptr, "abc._p2p._udp.local");
  EXPECT_EQ(decoded->answers[1].name, "abc._p2p._udp.local");
  EXPECT_TRUE(decoded->answers[1].cache_flush);
  auto peers = peers_in(*decoded);
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].addresses, std::vector<std::string>{"/ip4/192.168.1.20/tcp/4001"});
}

TEST(Mdns, HostilePacketsAreRefusedAndPeersAreBounded) {
  // A pointer to itself, a pointer past the end, a truncated header, a reserved label type.
  EXPECT_FALSE(decode_dns_message(Bytes{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 12, 0, 1}));
  EXPECT_FALSE(decode_dns_message(Bytes{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 200, 0, 12, 0, 1}));
  EXPECT_FALSE(decode_dns_message(Bytes{0, 0, 0}));
  EXPECT_FALSE(decode_dns_message(Bytes{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 12, 0, 1}));
  // More records than the bound, and more bytes than an mDNS message may have.
  EXPECT_FALSE(decode_dns_message(Bytes{0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(decode_dns_message(Bytes(kMaxDnsMessageBytes + 1, 0)).error(), make_error_code(Errc::too_large));
  // One peer advertising 100 addresses keeps 16; strings that do not parse are skipped.
  const auto peer = Identity::generate().peer_id();
  DnsMessage m;
  m.flags = 0x8400;
  DnsRecord txt;
  txt.name = "x._p2p._udp.local";
  txt.type = dns_type::txt;
  for (int i = 0; i < 100; ++i)
    txt.txt.push_back("dnsaddr=/ip4/10.0.0." + std::to_string(i) + "/tcp/1/p2p/" + peer.to_string());
  txt.txt.push_back("dnsaddr=/nonsense/p2p/" + peer.to_string());
  txt.txt.push_back("dnsaddr=/ip4/10.0.0.1/tcp/1/p2p/not-a-peer");
  txt.txt.push_back("something else");
  m.additionals.push_back(txt);
  auto peers = peers_in(m);
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].addresses.size(), kMaxMdnsAddressesPerPeer);
}

}  // namespace
}  // namespace hyphae::discovery
