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
#include "betanet/directory/directory_client.hpp"
#include "betanet/htx/packet_links.hpp"
#include "core/clock.hpp"
#include "core/identity.hpp"

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

}  // namespace

struct MixNode::Impl : std::enable_shared_from_this<MixNode::Impl> {
  Impl(asio::io_context& io, MixNodeOptions o, std::shared_ptr<spdlog::logger> l)
      : strand(asio::make_strand(io.get_executor())),
        options(std::move(o)),
        log(std::move(l)),
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
  std::shared_ptr<htx::PacketLinks> links;
  std::string advertised;
  std::unique_ptr<MixCore> core;
  std::shared_ptr<betanet::DirectoryClient> directory;
  std::map<std::uint64_t, PublicKey> published;  // our public routing keys by epoch
  std::uint64_t epoch = 0;
  asio::steady_timer poll_timer, epoch_timer, refresh_timer, status_timer;
  bool stopped = false;
  std::uint64_t started_ms = monotonic_ms();
  std::mt19937_64 rng{randombytes_random()};

  std::uint64_t epoch_now() const { return wall_ms() / std::max<std::uint64_t>(1, options.epoch_ms); }

  void install_key(std::uint64_t e) {
    if (core->has_key(e)) return;
    auto [pk, sk] = generate_routing_key();
    core->add_key(e, sk);
    sodium_memzero(sk.data(), sk.size());
    published[e] = pk;
  }

  void publish() {
    betanet::MixDescriptor d;
    d.address = advertised;
    d.layer = options.layer;
    d.group = options.group;
    for (const auto& [e, pk] : published) d.keys.push_back({e, pk});
    d.link_key = link_key.pub;
    d.published_ms = wall_ms();
    directory->publish(betanet::sign_descriptor(*identity, d));
  }

  void fetch(std::uint64_t e) { directory->fetch(e, epoch); }

  void on_epoch() {
    const auto e = epoch_now();
    if (e != epoch) {
      epoch = e;
      install_key(e);
      install_key(e + 1);
      core->set_epoch(e);
      directory->book().set_epoch(e);
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
    const auto* t = directory->book().usable(epoch);
    if (monotonic_ms() < started_ms + 10'000 || !t || !t->find(self))
      every = std::min<std::uint64_t>(every, 1000);
    refresh_timer.expires_after(std::chrono::milliseconds(every));
    refresh_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->stopped) self->refresh();
    });
  }

  const betanet::MixDescriptor* find(const NodeId& id) const {
    for (const auto* t : {directory->book().usable(epoch), directory->book().exact(epoch + 1)})
      if (t)
        if (const auto* d = t->find(id)) return d;
    return nullptr;
  }

  std::optional<std::vector<Hop>> cover_route(CoverKind kind) {
    const auto* t = directory->book().usable(epoch);
    if (!t) return std::nullopt;
    std::vector<const betanet::MixDescriptor*> others;
    for (const auto& m : t->mixes)
      if (m.node_id != self && m.layer != betanet::kEndpointLayer && m.key_for(t->epoch))
        others.push_back(&m);
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

  std::optional<htx::PacketPeer> resolve(const NodeId& id) const {
    const auto* d = find(id);
    if (!d) return std::nullopt;
    return htx::packet_peer(d->address, d->link_key);
  }

  void pump() {
    if (stopped) return;
    const auto now = monotonic_ms();
    auto out = core->poll(now, [this](CoverKind k) { return cover_route(k); });
    for (auto& o : out) links->send(o.next_hop, std::move(o.packet));
    const auto at = core->next_wakeup();
    poll_timer.expires_after(std::chrono::milliseconds(at ? (*at > now ? *at - now : 0) : 1000));
    poll_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->stopped) self->pump();
    });
  }

  nlohmann::json status() const {
    const auto& k = core->counters();
    const auto* t = directory->book().usable(epoch);
    const auto& dc = directory->counters();
    return {
        {"peer_id", identity ? identity->peer_id().to_string() : ""},
        {"epoch", epoch},
        {"address", advertised},
        {"held", core->held()},
        {"keys", core->has_key(epoch) + core->has_key(epoch + 1) + (epoch > 0 && core->has_key(epoch - 1))},
        {"topology_mixes", t ? t->mixes.size() : 0},
        {"links_in", links ? links->links_in() : 0},
        {"links_out", links ? links->links_out() : 0},
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
        {"unknown_next_hop", links ? links->counters().unknown_next_hop : 0},
        {"waiting_dropped", links ? links->counters().dropped : 0},
        {"links_refused", links ? links->counters().links_refused : 0},
        {"packets_in", links ? links->counters().packets_in : 0},
        {"frames_in", links ? links->counters().frames_in : 0},
        {"frames_not_whole_packets", links ? links->counters().frames_not_whole_packets : 0},
        {"publishes", dc.publishes},
        {"publish_failures", dc.publish_failures},
        {"topologies", dc.topologies},
        {"topology_failures", dc.topology_failures}};
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
  betanet::DirectoryClientOptions directory{i.options.registry_url, i.options.token, i.options.network, {}};
  if (!i.options.registry_peer.empty()) {
    auto p = PeerId::from_string(i.options.registry_peer);
    if (!p) return std::unexpected("--registry-peer is not a PeerId");
    directory.registry = *p;
  }
  i.directory = std::make_shared<betanet::DirectoryClient>(i.strand, std::move(directory), i.log);
  std::weak_ptr<Impl> weak = impl_;
  try {
    i.links = std::make_shared<htx::PacketLinks>(
        i.strand, i.link_key, i.options.max_links,
        [weak](const NodeId& id) -> std::optional<htx::PacketPeer> {
          auto impl = weak.lock();
          return impl ? impl->resolve(id) : std::nullopt;
        },
        [weak](ByteView packet) {
          auto impl = weak.lock();
          if (!impl || impl->stopped) return;
          impl->core->on_packet(packet, monotonic_ms());
          asio::post(impl->strand, [impl] { impl->pump(); });  // a packet may be due at once
        },
        i.log);
  } catch (const std::exception& e) {
    return std::unexpected(std::string(e.what()));
  }
  auto advertised = i.links->listen(i.options.listen);
  if (!advertised) return std::unexpected("--listen: " + advertised.error());
  i.advertised = *advertised;
  i.core = std::make_unique<MixCore>(i.self, i.options.mix, randombytes_random());
  asio::post(i.strand, [impl = impl_] {
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
    impl->links->close();
    impl->directory->stop();
    impl->poll_timer.cancel();
    impl->epoch_timer.cancel();
    impl->refresh_timer.cancel();
    impl->status_timer.cancel();
  });
}

std::uint16_t MixNode::port() const {
  return impl_->links ? impl_->links->port() : 0;
}

std::string MixNode::peer_id() const {
  return impl_->identity ? impl_->identity->peer_id().to_string() : std::string();
}

nlohmann::json MixNode::status() const {
  return impl_->status();
}

}  // namespace hyphae::mix
