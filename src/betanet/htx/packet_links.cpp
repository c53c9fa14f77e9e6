#include "betanet/htx/packet_links.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

namespace hyphae::htx {

namespace asio = boost::asio;
using sphinx::kPacketBytes;
using sphinx::NodeId;

namespace {
constexpr std::size_t kMaxWaitingPerLink = 64;
}  // namespace

std::optional<PacketPeer> packet_peer(const std::string& a, const std::array<std::uint8_t, 32>& link_key) {
  std::vector<std::string> parts;
  for (std::size_t at = 1; at <= a.size();) {
    const auto end = std::min(a.find('/', at), a.size());
    parts.push_back(a.substr(at, end - at));
    at = end + 1;
  }
  if (parts.size() < 4 || parts[2] != "tcp" || parts[1].empty()) return std::nullopt;
  PacketPeer p;
  p.host = parts[1];
  p.link_key = link_key;
  try {
    const auto port = std::stoul(parts[3]);
    if (port == 0 || port > 65535) return std::nullopt;
    p.port = static_cast<std::uint16_t>(port);
  } catch (...) {
    return std::nullopt;
  }
  return p;
}

struct PacketLinks::Impl {
  Impl(Strand s, const noise::KeyPair& l, std::size_t max, Resolve r, OnPacket p,
       std::shared_ptr<spdlog::logger> lg)
      : strand(std::move(s)),
        local(l),
        max_links(max),
        resolve(std::move(r)),
        on_packet(std::move(p)),
        log(std::move(lg)),
        acceptor(strand),
        server_tls(htx_server_tls()),
        client_tls(htx_client_tls()) {}

  Strand strand;
  noise::KeyPair local;
  std::size_t max_links;
  Resolve resolve;
  OnPacket on_packet;
  std::shared_ptr<spdlog::logger> log;
  asio::ip::tcp::acceptor acceptor;
  std::shared_ptr<asio::ssl::context> server_tls, client_tls;
  struct Incoming {
    std::shared_ptr<HtxLink> link;
    Bytes partial;
  };
  std::map<std::uint64_t, Incoming> incoming;
  std::uint64_t next_incoming = 0;
  struct Outgoing {
    std::shared_ptr<HtxLink> link;
    std::deque<Bytes> waiting;
    bool up = false;
    std::uint64_t stream = 0;
  };
  std::map<NodeId, Outgoing> outgoing;
  PacketLinkCounters counters;
  bool closed = false;
};

PacketLinks::PacketLinks(Strand strand, const noise::KeyPair& local, std::size_t max_links, Resolve resolve,
                         OnPacket on_packet, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<Impl>(std::move(strand), local, max_links, std::move(resolve),
                                   std::move(on_packet), std::move(log))) {}

PacketLinks::~PacketLinks() = default;

std::expected<std::string, std::string> PacketLinks::listen(const std::string& host_port) {
  auto& i = *impl_;
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos) return std::unexpected("the address must be host:port");
  const auto host = host_port.substr(0, colon);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return std::unexpected("an IP address is needed, not " + host);
  unsigned long port = 0;
  try {
    port = std::stoul(host_port.substr(colon + 1));
  } catch (...) {
    return std::unexpected("bad port in " + host_port);
  }
  const asio::ip::tcp::endpoint endpoint(address, static_cast<std::uint16_t>(port));
  i.acceptor.open(endpoint.protocol(), ec);
  if (!ec) i.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(endpoint, ec);
  if (!ec) i.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected("cannot listen on " + host_port + ": " + ec.message());
  asio::post(i.strand, [self = shared_from_this()] { self->accept_next(); });
  return std::string(address.is_v6() ? "/ip6/" : "/ip4/") + host + "/tcp/" +
         std::to_string(i.acceptor.local_endpoint().port());
}

void PacketLinks::accept_next() {
  std::weak_ptr<PacketLinks> weak = shared_from_this();
  impl_->acceptor.async_accept([weak](boost::system::error_code ec, asio::ip::tcp::socket socket) {
    auto self = weak.lock();
    if (!self || ec || self->impl_->closed) return;
    auto& i = *self->impl_;
    if (i.incoming.size() >= i.max_links) {
      ++i.counters.links_refused;
      boost::system::error_code ignored;
      socket.close(ignored);
    } else {
      const auto id = i.next_incoming++;
      HtxLinkCallbacks cb;
      cb.on_data = [weak, id](std::uint64_t, Bytes data) {
        auto s = weak.lock();
        if (!s) return;
        auto it = s->impl_->incoming.find(id);
        if (it == s->impl_->incoming.end()) return;
        auto& counters = s->impl_->counters;
        ++counters.frames_in;
        if (data.empty() || data.size() % kPacketBytes != 0) ++counters.frames_not_whole_packets;
        auto& partial = it->second.partial;
        partial.insert(partial.end(), data.begin(), data.end());
        std::size_t used = 0;
        for (; partial.size() - used >= kPacketBytes; used += kPacketBytes) {
          ++counters.packets_in;
          s->impl_->on_packet(ByteView(partial.data() + used, kPacketBytes));
        }
        partial.erase(partial.begin(), partial.begin() + static_cast<std::ptrdiff_t>(used));
      };
      cb.on_closed = [weak, id](const std::string&) {
        auto s = weak.lock();
        if (s) asio::post(s->impl_->strand, [s, id] { s->impl_->incoming.erase(id); });
      };
      i.incoming[id].link =
          HtxLink::accept(i.strand, i.server_tls, std::move(socket), i.local, std::move(cb));
    }
    self->accept_next();
  });
}

std::uint16_t PacketLinks::port() const {
  boost::system::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void PacketLinks::send(const NodeId& to, Bytes packet) {
  auto& i = *impl_;
  if (i.closed) return;
  auto it = i.outgoing.find(to);
  if (it == i.outgoing.end()) {
    const auto peer = i.resolve(to);
    if (!peer) {
      ++i.counters.unknown_next_hop;
      return;
    }
    if (i.outgoing.size() >= i.max_links) {
      ++i.counters.dropped;
      return;
    }
    it = i.outgoing.emplace(to, Impl::Outgoing{}).first;
    HtxLinkCallbacks cb;
    std::weak_ptr<PacketLinks> weak = shared_from_this();
    cb.on_established = [weak, to] {
      auto self = weak.lock();
      if (!self) return;
      auto o = self->impl_->outgoing.find(to);
      if (o == self->impl_->outgoing.end()) return;
      o->second.up = true;
      o->second.stream = o->second.link->open_stream();
      while (!o->second.waiting.empty()) {
        if (o->second.link->send(o->second.stream, o->second.waiting.front()))
          ++self->impl_->counters.dropped;
        o->second.waiting.pop_front();
      }
    };
    cb.on_closed = [weak, to](const std::string& why) {
      auto self = weak.lock();
      if (!self) return;
      self->impl_->log->debug("htx: link to a next hop closed: {}", why);
      asio::post(self->impl_->strand, [self, to] { self->impl_->outgoing.erase(to); });
    };
    it->second.link = HtxLink::connect(i.strand, i.client_tls, peer->host, peer->port, i.local,
                                       peer->link_key, std::move(cb));
  }
  auto& o = it->second;
  if (o.up) {
    if (o.link->send(o.stream, packet)) ++i.counters.dropped;
  } else if (o.waiting.size() < kMaxWaitingPerLink) {
    o.waiting.push_back(std::move(packet));
  } else {
    ++i.counters.dropped;
  }
}

void PacketLinks::close() {
  auto& i = *impl_;
  if (i.closed) return;
  i.closed = true;
  boost::system::error_code ignored;
  i.acceptor.close(ignored);
  for (auto& [id, in] : i.incoming) in.link->close();
  for (auto& [id, out] : i.outgoing) out.link->close();
}

std::size_t PacketLinks::links_in() const {
  return impl_->incoming.size();
}

std::size_t PacketLinks::links_out() const {
  return impl_->outgoing.size();
}

const PacketLinkCounters& PacketLinks::counters() const {
  return impl_->counters;
}

}  // namespace hyphae::htx
