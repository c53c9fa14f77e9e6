// MdnsService: the UDP multicast socket, the query timer and the answers.
#include "discovery/mdns_service.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <optional>
#include <set>

#include "net/interfaces.hpp"

namespace hyphae::discovery {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {
std::uint64_t steady_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}
}  // namespace

struct MdnsService::Impl : std::enable_shared_from_this<MdnsService::Impl> {
  Impl(Strand s, PeerId id, MdnsOptions o, FoundHandler f, std::shared_ptr<spdlog::logger> l)
      : strand(std::move(s)),
        self(std::move(id)),
        options(o),
        on_found(std::move(f)),
        log(std::move(l)),
        socket(strand),
        timer(strand),
        peer_name(random_mdns_peer_name()) {}

  Strand strand;
  PeerId self;
  MdnsOptions options;
  FoundHandler on_found;
  std::shared_ptr<spdlog::logger> log;
  udp::socket socket;
  asio::steady_timer timer;
  std::string peer_name;
  std::uint16_t tcp_port = 0;
  std::string listen_host;
  std::vector<net::Ipv4Interface> joined;
  std::array<std::uint8_t, kMaxDnsMessageBytes + 1> buffer{};
  udp::endpoint sender;
  udp::endpoint group{asio::ip::make_address_v4(std::string(kMdnsAddress)), kMdnsPort};
  std::uint64_t last_answer_ms = 0;
  bool running = false;
  MdnsCounters counters;

  void join_interfaces() {
    auto found = net::ipv4_interfaces({});
    if (!found) return;
    for (const auto& iface : *found) {
      if (std::find(joined.begin(), joined.end(), iface) != joined.end()) continue;
      boost::system::error_code ec;
      socket.set_option(asio::ip::multicast::join_group(group.address().to_v4(), iface.address), ec);
      if (ec && ec != asio::error::address_in_use) {
        log->debug("mdns: cannot join {} on {}: {}", kMdnsAddress, iface.name, ec.message());
        continue;
      }
      joined.push_back(iface);
    }
  }

  void send(const Bytes& packet) {
    for (const auto& iface : joined) {
      boost::system::error_code ec;
      socket.set_option(asio::ip::multicast::outbound_interface(iface.address), ec);
      if (!ec) socket.send_to(asio::buffer(packet), group, 0, ec);
      if (ec) log->debug("mdns: send on {}: {}", iface.name, ec.message());
    }
  }

  std::optional<Bytes> answer() {
    if (!tcp_port) return std::nullopt;
    MdnsAdvert advert;
    advert.self = self;
    advert.peer_name = peer_name;
    advert.port = tcp_port;
    advert.ttl = options.ttl_s;
    boost::system::error_code ec;
    const auto host = asio::ip::make_address(listen_host, ec);
    const bool wildcard = listen_host.empty() || (!ec && host.is_unspecified());
    if (!wildcard && (ec || host.is_loopback() || !host.is_v4()))
      return std::nullopt;  // nothing the LAN can dial
    for (const auto& iface : joined) {
      if (!wildcard && iface.address != host.to_v4()) continue;
      advert.addresses.push_back("/ip4/" + iface.address.to_string() + "/tcp/" + std::to_string(tcp_port));
      advert.ipv4.push_back(iface.address.to_bytes());
    }
    if (advert.addresses.empty()) return std::nullopt;
    auto bytes = mdns_response(advert);
    if (!bytes) return std::nullopt;
    return std::move(*bytes);
  }

  void receive() {
    socket.async_receive_from(asio::buffer(buffer), sender,
                              [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                                if (!self->running || ec == asio::error::operation_aborted) return;
                                if (!ec) self->on_packet(ByteView(self->buffer.data(), n));
                                self->receive();
                              });
  }

  void on_packet(ByteView bytes) {
    ++counters.packets_received;
    auto message = decode_dns_message(bytes);
    if (!message) {
      ++counters.packets_dropped;
      return;
    }
    if (asks_for_p2p(*message)) {
      const auto now = steady_ms();
      if (now >= last_answer_ms + 1000) {  // RFC 6762 §6: a record multicast at most once a second
        if (auto packet = answer()) {
          last_answer_ms = now;
          send(*packet);
          ++counters.answers_sent;
        }
      }
      return;
    }
    if (!message->is_response()) return;
    for (const auto& peer : peers_in(*message)) {
      if (peer.peer == self) continue;
      ++counters.peers_heard;
      on_found(peer);
    }
  }

  // RFC 6762 §5.2: the first queries one second apart, then each interval twice the last, up to
  // query_interval_ms (a peer that missed an early answer hears the next one soon).
  std::uint64_t next_wait_ms = 1000;
  void tick() {
    const auto wait = std::min(next_wait_ms, options.query_interval_ms);
    next_wait_ms = std::min(next_wait_ms * 2, options.query_interval_ms);
    timer.expires_after(std::chrono::milliseconds(wait));
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || !self->running) return;
      self->join_interfaces();  // interfaces come and go
      self->query();
      self->tick();
    });
  }

  void query() {
    send(mdns_query());
    ++counters.queries_sent;
  }
};

MdnsService::MdnsService(Strand strand, PeerId self, MdnsOptions options, FoundHandler on_found,
                         std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_shared<Impl>(std::move(strand), std::move(self), options, std::move(on_found),
                                   std::move(log))) {}

MdnsService::~MdnsService() {
  stop();
}

std::expected<void, std::string> MdnsService::start(std::uint16_t tcp_port, const std::string& listen_host) {
  auto& i = *impl_;
  i.tcp_port = tcp_port;
  i.listen_host = listen_host;
  boost::system::error_code ec;
  i.socket.open(udp::v4(), ec);
  if (!ec) i.socket.set_option(udp::socket::reuse_address(true), ec);
  if (!ec) {
    int one = 1;  // share 5353 with other responders on this host (avahi-daemon, other nodes)
    ::setsockopt(i.socket.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
#ifdef IP_MULTICAST_ALL
    int zero = 0;
    ::setsockopt(i.socket.native_handle(), IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
#endif
  }
  if (!ec) i.socket.bind(udp::endpoint(asio::ip::address_v4::any(), kMdnsPort), ec);
  if (ec) return std::unexpected("mdns: cannot bind UDP port 5353: " + ec.message());
  boost::system::error_code ignored;
  i.socket.set_option(asio::ip::multicast::hops(255), ignored);  // RFC 6762 §11
  i.socket.set_option(asio::ip::multicast::enable_loopback(true), ignored);
  i.join_interfaces();
  i.running = true;
  i.receive();
  // Announce at once and ask who is there.
  if (auto packet = i.answer()) {
    i.send(*packet);
    ++i.counters.answers_sent;
  }
  i.query();
  i.tick();
  return {};
}

void MdnsService::stop() {
  auto& i = *impl_;
  if (!i.running) return;
  i.running = false;
  boost::system::error_code ec;
  i.timer.cancel();
  i.socket.close(ec);
}

void MdnsService::query_now() {
  if (impl_->running) impl_->query();
}

const MdnsCounters& MdnsService::counters() const {
  return impl_->counters;
}

}  // namespace hyphae::discovery
