#include "betanet/endpoint/mixnet_endpoint.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "betanet/directory/directory_client.hpp"
#include "betanet/htx/packet_links.hpp"
#include "betanet/mix/mix_core.hpp"
#include "betanet/route/route_chooser.hpp"
#include "core/clock.hpp"

namespace hyphae::betanet {

namespace asio = boost::asio;
using sphinx::Hop;
using sphinx::NodeId;

namespace {

// The Ed25519 seed inside the identity's libp2p private key (Data = seed || public key).
vrf::Seed seed_of(const Identity& identity) {
  Bytes pb = identity.private_key_protobuf();
  vrf::Seed seed{};
  if (pb.size() >= 4 + 32) std::copy_n(pb.begin() + 4, 32, seed.begin());
  sodium_memzero(pb.data(), pb.size());
  return seed;
}

}  // namespace

struct MixnetEndpoint::Impl : std::enable_shared_from_this<MixnetEndpoint::Impl> {
  Impl(asio::strand<asio::any_io_executor> s, const Identity& id, MixnetEndpointOptions o,
       MixnetEndpointCallbacks c, std::shared_ptr<spdlog::logger> l)
      : strand(std::move(s)),
        identity(id),
        options(std::move(o)),
        callbacks(std::move(c)),
        log(std::move(l)),
        self(node_id_of(identity.peer_id())),
        link_key(noise::KeyPair::from_private(identity.x25519_private())),
        chooser(seed_of(identity)),
        tick_timer(strand),
        epoch_timer(strand),
        refresh_timer(strand),
        cover_timer(strand),
        drop_timer(strand) {}

  asio::strand<asio::any_io_executor> strand;
  Identity identity;
  MixnetEndpointOptions options;
  MixnetEndpointCallbacks callbacks;
  std::shared_ptr<spdlog::logger> log;
  NodeId self;
  noise::KeyPair link_key;
  RouteChooser chooser;
  std::unique_ptr<PrivateDelivery> delivery;
  std::shared_ptr<htx::PacketLinks> links;
  std::shared_ptr<DirectoryClient> directory;
  std::string advertised;
  std::uint64_t epoch = 0;
  std::uint64_t started_ms = SystemClock().monotonic_ms();
  asio::steady_timer tick_timer, epoch_timer, refresh_timer, cover_timer, drop_timer;
  std::uint64_t drops_sent = 0;
  std::mt19937_64 cover_rng{randombytes_random()};
  bool stopped = false;

  std::uint64_t now() const { return SystemClock().monotonic_ms(); }
  std::uint64_t epoch_now() const {
    return SystemClock().wall_ms() / std::max<std::uint64_t>(1, options.epoch_ms);
  }

  const Topology* topology() const { return directory->book().usable(epoch); }

  // `mixes` mixes chosen by the VRF (at least what the destination asks for), then the
  // destination's hop; nullopt when the topology cannot give that many.
  std::optional<std::vector<Hop>> route(const NodeId& to, std::size_t mixes) {
    const auto* t = topology();
    if (!t) return std::nullopt;
    const auto* dest = t->find(to);
    if (!dest || dest->layer != kEndpointLayer || !dest->key_for(t->epoch)) return std::nullopt;
    mixes = std::max<std::size_t>(mixes, dest->min_mixes);
    const auto available = static_cast<std::size_t>(std::count_if(
        t->mixes.begin(), t->mixes.end(), [](const MixDescriptor& m) { return m.layer != kEndpointLayer; }));
    if (mixes > kMaxMixes || mixes > available) return std::nullopt;
    std::vector<Hop> hops;
    if (mixes > 0) {
      RouteRequest r;
      r.source = identity.peer_id();
      r.destination = dest->peer;
      randombytes_buf(r.stream_nonce.data(), r.stream_nonce.size());
      r.source_group = options.group;
      r.destination_group = dest->group;
      r.mixes = mixes;
      auto chosen = chooser.choose(*t, r);
      if (!chosen) return std::nullopt;
      for (const auto* m : chosen->mixes) hops.push_back(m->hop(t->epoch));
    }
    hops.push_back(dest->hop(t->epoch));
    return hops;
  }

  void handle(PrivateDelivery::Result& r) {
    for (auto& p : r.packets) links->send(p.first_hop, std::move(p.packet));
    for (auto& d : r.delivered)
      if (callbacks.on_delivered) callbacks.on_delivered(d.id, std::move(d.payload));
    for (const auto& id : r.acked)
      if (callbacks.on_acked) callbacks.on_acked(id);
    for (const auto& id : r.given_up)
      if (callbacks.on_given_up) callbacks.on_given_up(id);
    arm_tick();
  }

  void arm_tick() {
    if (stopped) return;
    const auto at = delivery->next_wakeup();
    const auto t = now();
    tick_timer.expires_after(std::chrono::milliseconds(at ? (*at > t ? *at - t : 0) : 1000));
    tick_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopped) return;
      PrivateDelivery::Result r;
      self->delivery->tick(self->now(), r);
      self->handle(r);
    });
  }

  void publish() {
    MixDescriptor d;
    d.address = advertised;
    d.layer = kEndpointLayer;
    d.group = options.group;
    for (const auto e : {epoch, epoch + 1})
      if (const auto pk = delivery->public_key(e)) d.keys.push_back({e, *pk});
    d.link_key = link_key.pub;
    d.min_mixes = static_cast<std::uint32_t>(std::min(options.min_mixes, kMaxMixes));
    d.published_ms = SystemClock().wall_ms();
    directory->publish(sign_descriptor(identity, d));
  }

  void on_epoch() {
    const auto e = epoch_now();
    if (e != epoch) {
      epoch = e;
      // This epoch's and the next one's routing keys; older than the previous epoch: wiped.
      for (const auto k : {e, e + 1}) {
        if (delivery->has_key(k)) continue;
        auto [pk, sk] = sphinx::generate_routing_key();
        delivery->add_key(k, sk);
        sodium_memzero(sk.data(), sk.size());
      }
      if (e > 0) delivery->retire_keys_before(e - 1);
      directory->book().set_epoch(e);
      publish();
      directory->fetch(e, e);
      directory->fetch(e + 1, e);
    }
    const auto next = (e + 1) * options.epoch_ms;
    const auto wall = SystemClock().wall_ms();
    epoch_timer.expires_after(std::chrono::milliseconds(next > wall ? next - wall : 1));
    epoch_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!ec && self && !self->stopped) self->on_epoch();
    });
  }

  // Cover traffic, each kind on its own timer with exponential gaps (a Poisson process), so its
  // timing tells nothing.
  void arm_poisson(asio::steady_timer& timer, double rate, void (Impl::*fire)()) {
    if (stopped || rate <= 0) return;
    const double gap_s = std::exponential_distribution<double>(rate)(cover_rng);
    timer.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(std::min(gap_s, 3600.0) * 1e6)));
    timer.async_wait([weak = weak_from_this(), &timer, rate, fire](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopped) return;
      ((*self).*fire)();
      self->arm_poisson(timer, rate, fire);
    });
  }

  // Loop cover: through the configured number of mixes (at least one) back to this node.
  void send_loop() {
    if (!topology()) return;
    PrivateDelivery::Result r;
    delivery->send_loop(std::max<std::size_t>(1, options.mixes_per_route), r);
    for (auto& p : r.packets) links->send(p.first_hop, std::move(p.packet));
  }

  // Drop cover: through up to two mixes, the last of which is its destination and drops it (the
  // mixes' own drop format).
  void send_drop() {
    const auto* t = topology();
    if (!t) return;
    std::vector<const MixDescriptor*> mixes;
    for (const auto& m : t->mixes)
      if (m.layer != kEndpointLayer && m.key_for(t->epoch)) mixes.push_back(&m);
    if (mixes.empty()) return;
    std::shuffle(mixes.begin(), mixes.end(), cover_rng);
    std::vector<Hop> hops;
    for (std::size_t i = 0; i < std::min<std::size_t>(mixes.size(), 2); ++i)
      hops.push_back(mixes[i]->hop(t->epoch));
    auto packet = sphinx::create_packet(hops, sphinx::Destination{hops.back().id, std::nullopt},
                                        mix::cover_body(mix::CoverKind::drop));
    if (!packet) return;
    links->send(hops.front().id, std::move(*packet));
    ++drops_sent;
  }

  void refresh() {
    directory->fetch(epoch, epoch);
    directory->fetch(epoch + 1, epoch);
    std::uint64_t every = std::clamp<std::uint64_t>(options.epoch_ms / 6, 500, 60'000);
    const auto* t = topology();
    if (now() < started_ms + 10'000 || !t || !t->find(self)) every = std::min<std::uint64_t>(every, 1000);
    refresh_timer.expires_after(std::chrono::milliseconds(every));
    refresh_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!ec && self && !self->stopped) self->refresh();
    });
  }
};

MixnetEndpoint::MixnetEndpoint(asio::io_context& io, const Identity& identity, MixnetEndpointOptions options,
                               MixnetEndpointCallbacks callbacks, std::shared_ptr<spdlog::logger> log)
    : MixnetEndpoint(asio::make_strand(io.get_executor()), identity, std::move(options), std::move(callbacks),
                     std::move(log)) {}

MixnetEndpoint::MixnetEndpoint(asio::strand<asio::any_io_executor> strand, const Identity& identity,
                               MixnetEndpointOptions options, MixnetEndpointCallbacks callbacks,
                               std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_shared<Impl>(std::move(strand), identity, std::move(options), std::move(callbacks),
                                   std::move(log))) {}

MixnetEndpoint::~MixnetEndpoint() {
  stop();
}

std::expected<void, std::string> MixnetEndpoint::start() {
  auto& i = *impl_;
  DirectoryClientOptions d{i.options.registry_url, i.options.token, i.options.network, {}};
  if (!i.options.registry_peer.empty()) {
    auto p = PeerId::from_string(i.options.registry_peer);
    if (!p) return std::unexpected("the registry's PeerId is not a PeerId");
    d.registry = *p;
  }
  i.directory = std::make_shared<DirectoryClient>(i.strand, std::move(d), i.log);
  auto [pk, sk] = sphinx::generate_routing_key();
  std::weak_ptr<Impl> weak = impl_;
  i.delivery = std::make_unique<PrivateDelivery>(
      i.self, i.epoch_now(), sk,
      [weak](const NodeId& to, std::size_t mixes) -> std::optional<std::vector<Hop>> {
        auto impl = weak.lock();
        return impl ? impl->route(to, mixes) : std::nullopt;
      },
      i.options.delivery, randombytes_random());
  sodium_memzero(sk.data(), sk.size());
  try {
    i.links = std::make_shared<htx::PacketLinks>(
        i.strand, i.link_key, i.options.max_links,
        [weak](const NodeId& id) -> std::optional<htx::PacketPeer> {
          auto impl = weak.lock();
          if (!impl) return std::nullopt;
          for (const auto* t : {impl->topology(), impl->directory->book().exact(impl->epoch + 1)})
            if (t)
              if (const auto* m = t->find(id)) return htx::packet_peer(m->address, m->link_key);
          return std::nullopt;
        },
        [weak](ByteView packet) {
          auto impl = weak.lock();
          if (!impl || impl->stopped) return;
          PrivateDelivery::Result r;
          impl->delivery->on_packet(packet, impl->now(), r);
          impl->handle(r);
        },
        i.log);
  } catch (const std::exception& e) {
    return std::unexpected(std::string(e.what()));
  }
  auto advertised = i.links->listen(i.options.listen);
  if (!advertised) return std::unexpected(advertised.error());
  i.advertised = *advertised;
  asio::post(i.strand, [impl = impl_] {
    impl->on_epoch();
    impl->refresh();
    impl->arm_tick();
    impl->arm_poisson(impl->cover_timer, impl->options.loop_rate, &Impl::send_loop);
    impl->arm_poisson(impl->drop_timer, impl->options.drop_rate, &Impl::send_drop);
  });
  return {};
}

void MixnetEndpoint::stop() {
  asio::post(impl_->strand, [impl = impl_] {
    if (impl->stopped) return;
    impl->stopped = true;
    if (impl->links) impl->links->close();
    if (impl->directory) impl->directory->stop();
    impl->tick_timer.cancel();
    impl->epoch_timer.cancel();
    impl->refresh_timer.cancel();
    impl->cover_timer.cancel();
    impl->drop_timer.cancel();
  });
}

std::expected<void, std::string> MixnetEndpoint::send(const MessageId& id, const PeerId& to, ByteView payload,
                                                      std::optional<std::size_t> mixes) {
  auto& i = *impl_;
  if (!i.delivery || i.stopped) return std::unexpected("the mixnet endpoint is not running");
  PrivateDelivery::Result r;
  auto sent =
      i.delivery->send(id, node_id_of(to), payload, i.now(), r, mixes.value_or(i.options.mixes_per_route));
  if (!sent) return sent;
  i.handle(r);
  return {};
}

bool MixnetEndpoint::in_flight(const MessageId& id) const {
  return impl_->delivery && impl_->delivery->in_flight(id);
}

std::size_t MixnetEndpoint::outstanding() const {
  return impl_->delivery ? impl_->delivery->outstanding() : 0;
}

bool MixnetEndpoint::acknowledge(const MessageId& id) {
  auto& i = *impl_;
  if (!i.delivery || i.stopped) return false;
  PrivateDelivery::Result r;
  const bool sent = i.delivery->acknowledge(id, r);
  i.handle(r);
  return sent;
}

std::vector<PeerId> MixnetEndpoint::endpoints() const {
  std::vector<PeerId> out;
  const auto* t = impl_->directory ? impl_->topology() : nullptr;
  if (!t) return out;
  for (const auto& m : t->mixes)
    if (m.layer == kEndpointLayer && m.node_id != impl_->self) out.push_back(m.peer);
  return out;
}

std::optional<std::uint64_t> MixnetEndpoint::topology_epoch() const {
  const auto* t = impl_->directory ? impl_->topology() : nullptr;
  if (!t) return std::nullopt;
  return t->epoch;
}

bool MixnetEndpoint::can_reach(const PeerId& peer) const {
  const auto* t = impl_->directory ? impl_->topology() : nullptr;
  if (!t) return false;
  const auto* d = t->find(node_id_of(peer));
  const bool mixes = std::any_of(t->mixes.begin(), t->mixes.end(),
                                 [](const MixDescriptor& m) { return m.layer != kEndpointLayer; });
  return d && d->layer == kEndpointLayer && mixes;
}

asio::strand<asio::any_io_executor> MixnetEndpoint::strand() const {
  return impl_->strand;
}

nlohmann::json MixnetEndpoint::status() const {
  if (!impl_->delivery) return {{"running", false}};
  const auto& c = impl_->delivery->counters();
  return {{"sent", c.sent},
          {"retransmitted", c.retransmitted},
          {"acked", c.acked},
          {"given_up", c.given_up},
          {"delivered", c.delivered},
          {"duplicates", c.duplicates},
          {"acks_sent", c.acks_sent},
          {"unreadable", c.unreadable},
          {"no_route", c.no_route},
          {"outstanding", impl_->delivery->outstanding()},
          {"redelivered", c.redelivered},
          {"held_acks", impl_->delivery->held_acks()},
          {"held_acks_dropped", c.held_acks_dropped},
          {"loops_sent", c.loops_sent},
          {"loops_returned", c.loops_returned},
          {"drops_sent", impl_->drops_sent},
          {"packets_in", impl_->links ? impl_->links->counters().packets_in : 0},
          {"frames_in", impl_->links ? impl_->links->counters().frames_in : 0},
          {"frames_not_whole_packets", impl_->links ? impl_->links->counters().frames_not_whole_packets : 0}};
}

}  // namespace hyphae::betanet
