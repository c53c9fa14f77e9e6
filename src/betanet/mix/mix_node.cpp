#include "betanet/mix/mix_node.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <deque>
#include <fstream>

#include "betanet/directory/directory.hpp"
#include "betanet/htx/htx_link.hpp"
#include "core/clock.hpp"
#include "core/identity.hpp"
#include "net/http_fetch.hpp"
#include "util/json_util.hpp"

namespace hyphae::mix {

namespace asio = boost::asio;
using namespace hyphae::sphinx;

namespace {

std::uint64_t monotonic_ms() {
  return SystemClock().monotonic_ms();
}

std::uint64_t wall_ms() {
  return SystemClock().wall_ms();
}

// "/ip4/HOST/tcp/PORT" (or ip6/dns) -> host, port.
bool parse_address(const std::string& a, std::string& host, std::uint16_t& port) {
  std::vector<std::string> parts;
  for (std::size_t at = 1; at <= a.size();) {
    const auto end = std::min(a.find('/', at), a.size());
    parts.push_back(a.substr(at, end - at));
    at = end + 1;
  }
  if (parts.size() < 4 || parts[2] != "tcp") return false;
  host = parts[1];
  try {
    const auto p = std::stoul(parts[3]);
    if (p == 0 || p > 65535) return false;
    port = static_cast<std::uint16_t>(p);
  } catch (...) {
    return false;
  }
  return true;
}

constexpr std::size_t kMaxWaitingPerLink = 64;

}  // namespace

struct MixNode::Impl : std::enable_shared_from_this<MixNode::Impl> {
  Impl(asio::io_context& io, MixNodeOptions o, std::shared_ptr<spdlog::logger> l)
      : strand(asio::make_strand(io.get_executor())),
        options(std::move(o)),
        log(std::move(l)),
        acceptor(strand),
        poll_timer(strand),
        epoch_timer(strand),
        refresh_timer(strand),
        status_timer(strand) {}

  asio::strand<asio::any_io_executor> strand;
  MixNodeOptions options;
  std::shared_ptr<spdlog::logger> log;
  std::optional<Identity> identity;
  noise::KeyPair link_key;
  NodeId self{};
  asio::ip::tcp::acceptor acceptor;
  std::string advertised;
  std::shared_ptr<asio::ssl::context> server_tls, client_tls;
  std::unique_ptr<MixCore> core;
  betanet::TopologyBook book;
  std::optional<PeerId> registry;
  std::map<std::uint64_t, PublicKey> published;  // our public routing keys by epoch
  std::uint64_t epoch = 0;
  struct Incoming {
    std::shared_ptr<htx::HtxLink> link;
    Bytes partial;
  };
  std::map<std::uint64_t, Incoming> incoming;
  std::uint64_t next_incoming = 0;
  struct Outgoing {
    std::shared_ptr<htx::HtxLink> link;
    std::deque<Bytes> waiting;
    bool up = false;
    std::uint64_t stream = 0;
  };
  std::map<NodeId, Outgoing> outgoing;
  asio::steady_timer poll_timer, epoch_timer, refresh_timer, status_timer;
  bool stopped = false;
  std::uint64_t started_ms = monotonic_ms();
  std::mt19937_64 rng{randombytes_random()};
  std::uint64_t links_refused = 0, unknown_next_hop = 0, waiting_dropped = 0, publish_failures = 0,
                publishes = 0, topology_failures = 0, topologies = 0;

  std::uint64_t epoch_now() const { return wall_ms() / std::max<std::uint64_t>(1, options.epoch_ms); }

  void install_key(std::uint64_t e) {
    if (core->has_key(e)) return;
    auto [pk, sk] = generate_routing_key();
    core->add_key(e, sk);
    sodium_memzero(sk.data(), sk.size());
    published[e] = pk;
  }

  std::string registry_url(const std::string& tail) const {
    return options.registry_url + "/network/" + options.network + tail;
  }

  void publish() {
    if (options.registry_url.empty()) return;
    betanet::MixDescriptor d;
    d.address = advertised;
    d.layer = options.layer;
    d.group = options.group;
    for (const auto& [e, pk] : published) d.keys.push_back({e, pk});
    d.link_key = link_key.pub;
    d.published_ms = wall_ms();
    net::HttpRequest r;
    r.method = "POST";
    r.url = registry_url("/mixes");
    r.bearer_token = options.token;
    r.body =
        nlohmann::json{{"envelope_base64", base64_encode(betanet::sign_descriptor(*identity, d))}}.dump();
    net::http_fetch(strand, r, [self = shared_from_this()](net::HttpResult result) {
      if (self->stopped) return;
      if (result.status == 200) {
        ++self->publishes;
      } else {
        ++self->publish_failures;
        self->log->warn("mixnode: publishing the descriptor failed: {} {}", result.status,
                        result.error.empty() ? result.body : result.error);
      }
    });
  }

  void fetch(std::uint64_t e) {
    if (options.registry_url.empty()) return;
    net::HttpRequest r;
    r.url = registry_url("/mix-topology?epoch=" + std::to_string(e));
    r.bearer_token = options.token;
    net::http_fetch(strand, r, [self = shared_from_this()](net::HttpResult result) {
      if (self->stopped) return;
      auto body = nlohmann::json::parse(result.body, nullptr, false);
      if (result.status != 200 || !body.is_object() || !body.contains("envelope_base64")) {
        ++self->topology_failures;
        return;
      }
      if (!self->registry) {
        auto claimed = PeerId::from_string(body.value("registry", std::string()));
        if (!claimed) {
          ++self->topology_failures;
          return;
        }
        self->registry = *claimed;
        self->log->warn("mixnode: trusting the registry key {} on first use (set --registry-peer)",
                        claimed->to_string());
      }
      const auto bytes = base64_decode(body["envelope_base64"].get<std::string>());
      auto t = bytes ? betanet::open_topology(*bytes, *self->registry)
                     : std::expected<betanet::Topology, std::string>(std::unexpected("not base64"));
      if (!t) {
        ++self->topology_failures;
        self->log->warn("mixnode: topology refused: {}", t.error());
        return;
      }
      ++self->topologies;
      self->book.add(std::move(*t), self->epoch);
    });
  }

  void on_epoch() {
    const auto e = epoch_now();
    if (e != epoch) {
      epoch = e;
      install_key(e);
      install_key(e + 1);
      core->set_epoch(e);
      book.set_epoch(e);
      std::erase_if(published, [&](const auto& entry) { return entry.first < e; });
      publish();
      fetch(e);
      fetch(e + 1);
    }
    const auto next = (e + 1) * options.epoch_ms;
    const auto now = wall_ms();
    epoch_timer.expires_after(std::chrono::milliseconds(next > now ? next - now : 1));
    epoch_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->stopped) self->on_epoch();
    });
  }

  void refresh() {
    fetch(epoch);
    fetch(epoch + 1);
    // Every second while the network forms (our first 10 s, or while the topology does not list
    // us yet), then a few times an epoch: other mixes publish after us.
    std::uint64_t every = std::clamp<std::uint64_t>(options.epoch_ms / 6, 500, 60'000);
    const auto* t = book.usable(epoch);
    if (monotonic_ms() < started_ms + 10'000 || !t || !t->find(self))
      every = std::min<std::uint64_t>(every, 1000);
    refresh_timer.expires_after(std::chrono::milliseconds(every));
    refresh_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->stopped) self->refresh();
    });
  }

  const betanet::MixDescriptor* find(const NodeId& id) const {
    for (const auto* t : {book.usable(epoch), book.exact(epoch + 1)})
      if (t)
        if (const auto* d = t->find(id)) return d;
    return nullptr;
  }

  std::optional<std::vector<Hop>> cover_route(CoverKind kind) {
    const auto* t = book.usable(epoch);
    if (!t) return std::nullopt;
    std::vector<const betanet::MixDescriptor*> others;
    for (const auto& m : t->mixes)
      if (m.node_id != self && m.key_for(t->epoch)) others.push_back(&m);
    if (others.empty()) return std::nullopt;
    std::shuffle(others.begin(), others.end(), rng);
    std::vector<Hop> hops;
    const std::size_t n = std::min<std::size_t>(others.size(), 2);
    for (std::size_t i = 0; i < n; ++i) hops.push_back(others[i]->hop(t->epoch));
    if (kind == CoverKind::loop) {
      auto own = published.find(t->epoch);
      if (own == published.end()) return std::nullopt;
      hops.push_back({self, own->second});
    }
    return hops;
  }

  void send_to(const NodeId& id, Bytes packet) {
    auto it = outgoing.find(id);
    if (it == outgoing.end()) {
      const auto* d = find(id);
      std::string host;
      std::uint16_t port = 0;
      if (!d || !parse_address(d->address, host, port)) {
        ++unknown_next_hop;
        return;
      }
      if (outgoing.size() >= options.max_links) {
        ++waiting_dropped;
        return;
      }
      it = outgoing.emplace(id, Outgoing{}).first;
      htx::HtxLinkCallbacks cb;
      std::weak_ptr<Impl> weak = shared_from_this();
      cb.on_established = [weak, id] {
        auto self = weak.lock();
        if (!self) return;
        auto o = self->outgoing.find(id);
        if (o == self->outgoing.end()) return;
        o->second.up = true;
        o->second.stream = o->second.link->open_stream();
        while (!o->second.waiting.empty()) {
          o->second.link->send(o->second.stream, o->second.waiting.front());
          o->second.waiting.pop_front();
        }
      };
      cb.on_closed = [weak, id](const std::string& why) {
        auto self = weak.lock();
        if (!self) return;
        self->log->debug("mixnode: link to a next hop closed: {}", why);
        asio::post(self->strand, [self, id] { self->outgoing.erase(id); });
      };
      it->second.link =
          htx::HtxLink::connect(strand, client_tls, host, port, link_key, d->link_key, std::move(cb));
    }
    auto& o = it->second;
    if (o.up) {
      if (o.link->send(o.stream, packet)) ++waiting_dropped;
    } else if (o.waiting.size() < kMaxWaitingPerLink) {
      o.waiting.push_back(std::move(packet));
    } else {
      ++waiting_dropped;
    }
  }

  void pump() {
    if (stopped) return;
    const auto now = monotonic_ms();
    auto out = core->poll(now, [this](CoverKind k) { return cover_route(k); });
    for (auto& o : out) send_to(o.next_hop, std::move(o.packet));
    const auto at = core->next_wakeup();
    poll_timer.expires_after(std::chrono::milliseconds(at ? (*at > now ? *at - now : 0) : 1000));
    poll_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->stopped) self->pump();
    });
  }

  void accept() {
    acceptor.async_accept(
        [self = shared_from_this()](boost::system::error_code ec, asio::ip::tcp::socket socket) {
          if (ec || self->stopped) return;
          if (self->incoming.size() >= self->options.max_links) {
            ++self->links_refused;
            boost::system::error_code ignored;
            socket.close(ignored);
          } else {
            const auto id = self->next_incoming++;
            htx::HtxLinkCallbacks cb;
            std::weak_ptr<Impl> weak = self;
            cb.on_data = [weak, id](std::uint64_t, Bytes data) {
              auto s = weak.lock();
              if (!s) return;
              auto it = s->incoming.find(id);
              if (it == s->incoming.end()) return;
              auto& partial = it->second.partial;
              partial.insert(partial.end(), data.begin(), data.end());
              std::size_t used = 0;
              for (; partial.size() - used >= kPacketBytes; used += kPacketBytes)
                s->core->on_packet(ByteView(partial.data() + used, kPacketBytes), monotonic_ms());
              partial.erase(partial.begin(), partial.begin() + static_cast<std::ptrdiff_t>(used));
              if (used > 0) asio::post(s->strand, [s] { s->pump(); });  // a packet may be due at once
            };
            cb.on_closed = [weak, id](const std::string&) {
              auto s = weak.lock();
              if (s) asio::post(s->strand, [s, id] { s->incoming.erase(id); });
            };
            self->incoming[id].link = htx::HtxLink::accept(self->strand, self->server_tls, std::move(socket),
                                                           self->link_key, std::move(cb));
          }
          self->accept();
        });
  }

  nlohmann::json status() const {
    const auto& k = core->counters();
    const auto* t = book.usable(epoch);
    return {
        {"peer_id", identity ? identity->peer_id().to_string() : ""},
        {"epoch", epoch},
        {"address", advertised},
        {"held", core->held()},
        {"keys", core->has_key(epoch) + core->has_key(epoch + 1) + (epoch > 0 && core->has_key(epoch - 1))},
        {"topology_mixes", t ? t->mixes.size() : 0},
        {"links_in", incoming.size()},
        {"links_out", outgoing.size()},
        {"received", k.received},
        {"forwarded", k.forwarded},
        {"replays", k.replays},
        {"bad_mac", k.bad_mac},
        {"malformed", k.malformed},
        {"loops_sent", k.loops_sent},
        {"loops_returned", k.loops_returned},
        {"drops_sent", k.drops_sent},
        {"drops_received", k.drops_received},
        {"not_for_a_mix", k.not_for_a_mix},
        {"tagged", k.tagged},
        {"previous_key_used", k.previous_key_used},
        {"keys_retired", k.keys_retired},
        {"unknown_next_hop", unknown_next_hop},
        {"waiting_dropped", waiting_dropped},
        {"publishes", publishes},
        {"publish_failures", publish_failures},
        {"topologies", topologies},
        {"topology_failures", topology_failures}};
  }

  void write_status() {
    if (stopped || options.status_file.empty()) return;
    const auto tmp = options.status_file + ".tmp";
    {
      std::ofstream out(tmp);
      out << status().dump() << "\n";
    }
    std::rename(tmp.c_str(), options.status_file.c_str());
    status_timer.expires_after(std::chrono::seconds(1));
    status_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->write_status();
    });
  }
};

MixNode::MixNode(asio::io_context& io, MixNodeOptions options, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(log))) {}

MixNode::~MixNode() {
  stop();
}

std::expected<void, std::string> MixNode::start() {
  auto& i = *impl_;
  auto id = Identity::load_or_create(i.options.data_dir);
  if (!id) return std::unexpected("cannot load or create the identity: " + id.error().message());
  i.identity.emplace(std::move(*id));
  i.link_key = noise::KeyPair::from_private(i.identity->x25519_private());
  i.self = betanet::node_id_of(i.identity->peer_id());
  if (!i.options.registry_peer.empty()) {
    auto p = PeerId::from_string(i.options.registry_peer);
    if (!p) return std::unexpected("--registry-peer is not a PeerId");
    i.registry = *p;
  }
  const auto colon = i.options.listen.rfind(':');
  if (colon == std::string::npos) return std::unexpected("--listen must be host:port");
  const auto host = i.options.listen.substr(0, colon);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return std::unexpected("--listen needs an IP address, not " + host);
  const asio::ip::tcp::endpoint endpoint(
      address, static_cast<std::uint16_t>(std::stoul(i.options.listen.substr(colon + 1))));
  i.acceptor.open(endpoint.protocol(), ec);
  if (!ec) i.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(endpoint, ec);
  if (!ec) i.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected("cannot listen on " + i.options.listen + ": " + ec.message());
  i.advertised = std::string(address.is_v6() ? "/ip6/" : "/ip4/") + host + "/tcp/" +
                 std::to_string(i.acceptor.local_endpoint().port());
  try {
    i.server_tls = htx::htx_server_tls();
    i.client_tls = htx::htx_client_tls();
  } catch (const std::exception& e) {
    return std::unexpected(std::string(e.what()));
  }
  i.core = std::make_unique<MixCore>(i.self, i.options.mix, randombytes_random());
  asio::post(i.strand, [impl = impl_] {
    impl->accept();
    impl->on_epoch();
    impl->refresh();
    impl->pump();
    impl->write_status();
  });
  i.log->info("mixnode {} layer {} listening on {} (epoch {} ms)", i.identity->peer_id().to_string(),
              i.options.layer, i.advertised, i.options.epoch_ms);
  return {};
}

void MixNode::stop() {
  asio::post(impl_->strand, [impl = impl_] {
    if (impl->stopped) return;
    impl->stopped = true;
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
    impl->poll_timer.cancel();
    impl->epoch_timer.cancel();
    impl->refresh_timer.cancel();
    impl->status_timer.cancel();
    for (auto& [id, in] : impl->incoming) in.link->close();
    for (auto& [id, out] : impl->outgoing) out.link->close();
  });
}

std::uint16_t MixNode::port() const {
  boost::system::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

std::string MixNode::peer_id() const {
  return impl_->identity ? impl_->identity->peer_id().to_string() : std::string();
}

nlohmann::json MixNode::status() const {
  return impl_->status();
}

}  // namespace hyphae::mix
