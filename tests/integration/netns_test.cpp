// Nodes and datagrams in Linux network namespaces (netns.hpp): a node started under
// `ip netns exec` answers its API from the root namespace through ApiEndpoint::netns, and a veth
// pair carries UDP multicast until it is cut. Skipped where namespaces cannot be created.
#include "netns.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <utility>

#include "harness.hpp"

namespace hyphae::testing {
namespace {

using namespace std::chrono_literals;

#define SKIP_WITHOUT_NETNS()                                                 \
  do {                                                                       \
    if (auto why = NetnsLine::unavailable_reason())                          \
      GTEST_SKIP() << "network namespaces are not available here: " << *why; \
  } while (0)

// A file descriptor closed on destruction.
struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

sockaddr_in ipv4(const std::string& host, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) throw std::invalid_argument("bad IPv4 " + host);
  return a;
}

// Whether a TCP connection to host:port succeeds from the calling thread's namespace.
bool tcp_reachable(const std::string& host, std::uint16_t port) {
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.fd < 0) return false;
  auto a = ipv4(host, port);
  return ::connect(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

TEST(Netns, ANodeInANamespaceAnswersItsApiFromTheRootNamespace) {
  SKIP_WITHOUT_NETNS();
  NetnsLine line(2);
  TempDir dir;
  // The peer listener comes from the config file alone (no --listen): ns(0)'s veth address.
  const auto listen_port = free_tcp_port();
  const std::string listen_host = line.address(0, line.interfaces(0).at(0));
  auto config = dir.path() / "node.yaml";
  std::ofstream(config) << "listen: \"" << listen_host << ":" << listen_port << "\"\n";
  LocalNode node{"n0", hyphae_binary(), dir.path() / "n0"};
  node.set_netns(line.ns(0));
  node.set_config_file(config);
  node.set_listen_host("");
  node.start();
  EXPECT_EQ(node.endpoint().netns, line.ns(0));
  EXPECT_EQ(node.listen_port(), listen_port);

  auto status = ok(node.api().request("GET", "/v1/p2p/status"));
  EXPECT_EQ(status["peer_id"], node.peer_id());
  EXPECT_EQ(status["listen"], listen_host + ":" + std::to_string(listen_port));
  // `ip netns exec` execs the node: the child we signal is the node itself.
  std::ifstream info(node.data_dir() / "node.json");
  EXPECT_EQ(nlohmann::json::parse(info)["pid"].get<int>(), node.pid());
  // The stream connects from inside the namespace too (idle: no messages).
  EXPECT_EQ(drain_stream(node, 200), 0u);

  // From the root namespace the API port on 127.0.0.1 is not this node.
  ApiEndpoint root = node.endpoint();
  root.netns.clear();
  ApiClient root_client(root);
  try {
    auto r = root_client.request("GET", "/v1/p2p/status");
    EXPECT_FALSE(r.status == 200 && r.body.value("peer_id", "") == node.peer_id())
        << "the node's API answered in the root namespace";
  } catch (const std::runtime_error&) {
    // connection refused: expected
  }
  // Its peer listener is reachable from the neighbour namespace, not from the root one.
  EXPECT_TRUE(in_netns(line.ns(1), [&] { return tcp_reachable(listen_host, listen_port); }));
  EXPECT_FALSE(tcp_reachable(listen_host, listen_port));

  // A namespace that does not exist is an error naming it.
  ApiEndpoint missing = node.endpoint();
  missing.netns = line.ns(0) + "-missing";
  ApiClient missing_client(missing);
  try {
    missing_client.request("GET", "/v1/p2p/status");
    ADD_FAILURE() << "a request through a missing namespace succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.netns), std::string::npos) << e.what();
  }

  // Stop, restart and crash work on the namespaced process.
  node.stop();
  EXPECT_FALSE(node.running());
  node.start();
  ok(node.api().request("GET", "/v1/p2p/status"));
  node.kill_hard();
  EXPECT_FALSE(node.running());
}

constexpr const char* kGroup = "239.255.66.77";
constexpr std::uint16_t kPort = 47477;

// A UDP socket in the calling thread's namespace sending to kGroup out of the interface with `local`.
Fd multicast_sender(const std::string& local) {
  Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (s.fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  in_addr iface = ipv4(local, 0).sin_addr;
  if (::setsockopt(s.fd, IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof iface) != 0)
    throw std::runtime_error(std::string("IP_MULTICAST_IF: ") + std::strerror(errno));
  unsigned char ttl = 1;
  ::setsockopt(s.fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
  return s;
}

// A UDP socket bound to 0.0.0.0:kPort that joined kGroup on the interface with `local`.
Fd multicast_receiver(const std::string& local) {
  Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (s.fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto any = ipv4("0.0.0.0", kPort);
  if (::bind(s.fd, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0)
    throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
  ip_mreq join{};
  join.imr_multiaddr = ipv4(kGroup, 0).sin_addr;
  join.imr_interface = ipv4(local, 0).sin_addr;
  if (::setsockopt(s.fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, sizeof join) != 0)
    throw std::runtime_error(std::string("IP_ADD_MEMBERSHIP: ") + std::strerror(errno));
  return s;
}

void send_datagram(const Fd& s, const std::string& text) {
  auto group = ipv4(kGroup, kPort);
  // Errors (e.g. ENETDOWN while the link is cut) count as a lost datagram.
  (void)::sendto(s.fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&group), sizeof group);
}

// The next datagram within `timeout`, if any.
std::optional<std::string> receive_datagram(const Fd& s, std::chrono::milliseconds timeout) {
  pollfd p{s.fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  char buffer[2048];
  auto n = ::recv(s.fd, buffer, sizeof buffer, 0);
  if (n < 0) return std::nullopt;
  return std::string(buffer, static_cast<std::size_t>(n));
}

// Sends `text` every 100 ms until it arrives (true) or `timeout` passes (false).
bool arrives(const Fd& tx, const Fd& rx, const std::string& text, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    send_datagram(tx, text);
    auto until = std::chrono::steady_clock::now() + 100ms;
    while (auto got = receive_datagram(rx, std::chrono::duration_cast<std::chrono::milliseconds>(
                                               until - std::chrono::steady_clock::now()))) {
      if (*got == text) return true;
    }
  }
  return false;
}

TEST(Netns, VethPairCarriesUdpMulticastBetweenNeighbours) {
  SKIP_WITHOUT_NETNS();
  NetnsLine line(2);
  ASSERT_EQ(line.interfaces(0).size(), 1u);
  ASSERT_EQ(line.interfaces(1).size(), 1u);
  const auto left = line.address(0, line.interfaces(0)[0]);
  const auto right = line.address(1, line.interfaces(1)[0]);
  Fd tx = in_netns(line.ns(0), [&] { return multicast_sender(left); });
  Fd rx = in_netns(line.ns(1), [&] { return multicast_receiver(right); });

  send_datagram(tx, "first");
  auto got = receive_datagram(rx, 2000ms);
  ASSERT_TRUE(got.has_value()) << "no multicast datagram crossed the veth pair";
  EXPECT_EQ(*got, "first");

  line.cut(0);
  send_datagram(tx, "while cut");
  EXPECT_EQ(receive_datagram(rx, 500ms), std::nullopt) << "a datagram crossed a cut pair";

  line.heal(0);
  EXPECT_TRUE(arrives(tx, rx, "after heal", 5s)) << "nothing arrived after the pair was healed";
}

TEST(Netns, ALineOfEightCarriesMulticastOnlyOutOfTheChosenVeth) {
  SKIP_WITHOUT_NETNS();
  NetnsLine line(8);
  ASSERT_EQ(line.size(), 8u);
  EXPECT_EQ(line.interfaces(0), (std::vector<std::string>{"to1"}));
  EXPECT_EQ(line.interfaces(3), (std::vector<std::string>{"to2", "to4"}));
  EXPECT_EQ(line.interfaces(7), (std::vector<std::string>{"to6"}));
  EXPECT_EQ(line.address(3, "to2"), "10.77.2.2");
  EXPECT_EQ(line.address(3, "to4"), "10.77.3.1");
  // ns(3) sends out of its veth toward ns(4): ns(4) hears it; ns(2), on the other veth, does not.
  Fd tx = in_netns(line.ns(3), [&] { return multicast_sender(line.address(3, "to4")); });
  Fd right = in_netns(line.ns(4), [&] { return multicast_receiver(line.address(4, "to3")); });
  Fd left = in_netns(line.ns(2), [&] { return multicast_receiver(line.address(2, "to3")); });
  EXPECT_TRUE(arrives(tx, right, "to the right", 2s));
  EXPECT_EQ(receive_datagram(left, 300ms), std::nullopt);
}

}  // namespace
}  // namespace hyphae::testing
