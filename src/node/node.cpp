// Node lifecycle and the JSON views. Transports and failover live in transports.cpp, delivery in
// delivery.cpp.
#include <sodium.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>

#include "core/error.hpp"
#include "node/node_impl.hpp"

namespace hyphae {

namespace asio = boost::asio;

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

namespace {

std::shared_ptr<spdlog::logger> make_logger(const PeerId& id, const std::string& level) {
  auto name = id.to_string();
  name = name.size() > 8 ? name.substr(name.size() - 6) : name;
  auto sink = spdlog::default_logger()->sinks();
  auto logger = std::make_shared<spdlog::logger>("node " + name, sink.begin(), sink.end());
  logger->set_level(spdlog::level::from_str(level));
  return logger;
}

}  // namespace

Node::Impl::Impl(Executor executor, NodeConfig cfg, Identity id, std::unique_ptr<store::Store> st,
                 std::shared_ptr<spdlog::logger> logger, std::shared_ptr<const Clock> clk)
    : strand(asio::make_strand(executor)),
      config(std::move(cfg)),
      clock(clk ? std::move(clk) : std::make_shared<SystemClock>()),
      identity(std::move(id)),
      store(std::move(st)),
      log(logger ? std::move(logger) : make_logger(identity.peer_id(), config.log_level)),
      tick_timer(strand),
      lazy_commit_timer(strand),
      routing(router::RoutingOptions{config.route_timeout_ms, config.max_route_hops}),
      pool(router::PoolOptions{config.max_connections, config.connection_idle_timeout_ms, kMinIdleToEvictMs}),
      connectivity(config.connectivity_probe.empty() ? 0 : config.connectivity_probe_interval_ms),
      delivery(*this, *clock,
               delivery::DeliverySettings{config.enable_failover,
                                          static_cast<std::uint32_t>(config.max_retry_attempts),
                                          config.failover_timeout_ms}),
      chain(*clock),
      discovery_timer(strand) {
  fragment::ReassemblyLimits limits;
  limits.max_message_bytes = config.max_message_bytes + 4096 + 1;  // a record: envelope plus its kind
  reassembler = fragment::Reassembler(limits);
  transmit_queue = qos::Scheduler(qos::Config{config.qos_capacity, 0});
  seal_keys.priv = identity.x25519_private();
  seal_keys.pub = identity.x25519_public();
  randombytes_buf(dedupe_secret.data(), dedupe_secret.size());
  init_metrics();
  init_connectivity();
  init_power();
}

void Node::Impl::init_metrics() {
  const std::string err_help = "Errors by kind";
  meters.err_rejected = &metrics.counter("p2p_errors_total", err_help, {{"kind", "rejected_envelope"}});
  meters.err_link = &metrics.counter("p2p_errors_total", err_help, {{"kind", "link"}});
  meters.err_store = &metrics.counter("p2p_errors_total", err_help, {{"kind", "store"}});
  meters.err_backpressure = &metrics.counter("p2p_errors_total", err_help, {{"kind", "backpressure"}});
  meters.err_timeout = &metrics.counter("p2p_errors_total", err_help, {{"kind", "ack_timeout"}});
  meters.err_fragment = &metrics.counter("p2p_errors_total", err_help, {{"kind", "fragment"}});
  meters.fragments_sent =
      &metrics.counter("p2p_fragments_sent_total", "Fragments of records larger than an MTU");
  meters.fragments_received =
      &metrics.counter("p2p_fragments_received_total", "Fragments received (reassembled into records)");
}

std::error_code Node::Impl::start() {
  for (std::size_t i = 0; i < transports.size(); ++i) {
    if (auto ec = transports[i].transport->start()) {
      log->error("transport {} did not start: {}", transports[i].name, ec.message());
      for (std::size_t j = 0; j < i; ++j) transports[j].transport->stop();
      return ec;
    }
  }
  running = true;
  load_from_store();
  load_records();
  start_files();
  start_mdns();
  for (const auto& p : config.peers) {
    auto peer = PeerId::from_string(p.id);
    if (!peer) {
      log->warn("config: ignoring peer '{}': not a PeerId", p.id);
      continue;
    }
    auto& state = peers[*peer];
    for (const auto& a : p.addresses)
      if (std::find(state.addresses.begin(), state.addresses.end(), a) == state.addresses.end())
        state.addresses.push_back(a);
  }
  for (const auto& [peer, state] : peers)
    if (auto ec = give_addresses(peer, state.addresses))
      log->warn("peer {}: some addresses are not usable: {}", peer.to_string(), ec.message());
  std::string listening;
  for (const auto& t : transports)
    listening += (listening.empty() ? "" : ", ") + t.name + " :" + std::to_string(t.transport->listen_port());
  log->info("node {} started ({})", identity.peer_id().to_string(), listening);
  tick();
  return {};
}

void Node::Impl::on_strand_violation() const {
  static constexpr const char* kWhy =
      "node state touched off its strand (a caller must post to Node::executor())";
  log->critical(kWhy);
  std::fprintf(stderr, "hyphae: %s\n", kWhy);
  std::abort();
}

void Node::Impl::stop() {
  if (!running) return;
  running = false;
  tick_timer.cancel();
  lazy_commit_timer.cancel();
  discovery_timer.cancel();
  if (mdns) mdns->stop();
  if (files) files->stop();  // its worker finishes the file work under way
  for (auto& t : transports) t.transport->stop();
  commit_staged(/*force=*/true);
  store->flush();
}

void Node::Impl::tick() {
  assert_on_strand();
  if (!running) return;
  auto now = now_ms();
  for (auto& t : transports) t.transport->tick(now);
  advance_delivery();
  if (now - last_expiry_ms >= 1000) {
    last_expiry_ms = now;
    if (!delivered_unsaved.empty()) persist_delivered(std::exchange(delivered_unsaved, {}));
    if (auto dropped = reassembler.expire(now))
      log->warn("dropped {} partly received messages: their fragments stopped coming", dropped);
  }
  tick_connectivity(now);
  tick_power(now);
  tick_routing(now);
  tick_discovery();
  tick_registry();
  tick_relay(now);
  if (files) files->tick(now);
  if (now - last_prune_ms >= kSeenPruneIntervalMs) {
    last_prune_ms = now;
    prune_seen(now);
  }
  tick_timer.expires_after(std::chrono::milliseconds(50));
  tick_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->tick();
  });
}

// ---------------------------------------------------------------- public facade

std::expected<std::unique_ptr<Node>, std::string> Node::create(Executor executor, NodeConfig config,
                                                               Services services) {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec)
    return std::unexpected("cannot create data directory " + config.data_dir.string() + ": " + ec.message());
  auto identity = Identity::load_or_create(config.data_dir);
  if (!identity)
    return std::unexpected("identity in " + config.data_dir.string() + ": " + identity.error().message());
  store::Options options;
  options.synchronous_full = config.store_synchronous_full;
  options.commit_inline_when_idle = true;  // the node's callbacks only post to its strand
  options.commit_delay_ms = config.store_commit_delay_ms;
  options.write_faults = services.store_faults;
  auto st = store::Store::open(config.data_dir / "hyphae.db", options);
  if (!st)
    return std::unexpected("store " + (config.data_dir / "hyphae.db").string() + ": " + st.error().message());
  auto impl = std::make_shared<Impl>(std::move(executor), std::move(config), std::move(*identity),
                                     std::move(*st), std::move(services.log), std::move(services.clock));
  impl->transport_types = std::move(services.transport_types);
  if (auto made = impl->make_transports(); !made) return std::unexpected(made.error());
  impl->init_relay();
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Node::Node(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() {
  impl_->stop();
}
std::error_code Node::start() {
  return impl_->start();
}
void Node::stop() {
  impl_->stop();
}
Node::Executor Node::executor() const {
  return impl_->strand;
}
const PeerId& Node::peer_id() const {
  return impl_->identity.peer_id();
}
std::uint16_t Node::listen_port() const {
  return impl_->transports.empty() ? 0 : impl_->transports.front().transport->listen_port();
}
std::uint16_t Node::listen_port(std::string_view transport) const {
  const auto t = impl_->find_transport(transport);
  return t ? impl_->slot(t).transport->listen_port() : 0;
}
const NodeConfig& Node::config() const {
  return impl_->config;
}
const NodeCounters& Node::counters() const {
  return impl_->counters;
}

std::string Node::metrics_text() {
  auto& i = *impl_;
  std::size_t queued = 0, in_flight = 0;
  std::array<std::size_t, 4> by_priority{};
  for (const auto& [id, m] : i.delivery.messages()) {  // one pass: by state and by priority
    if (m.state == store::OutboxState::queued) ++queued;
    if (m.state == store::OutboxState::sent) ++in_flight;
    if (m.state == store::OutboxState::queued || m.state == store::OutboxState::sent)
      ++by_priority[m.priority & 3];
  }
  static constexpr const char* kPriorityNames[] = {"emergency", "high", "normal", "low"};
  for (std::size_t p = 0; p < 4; ++p)
    i.metrics
        .gauge("p2p_queue_depth", "Durable messages waiting for an ack, by priority",
               {{"priority", kPriorityNames[p]}})
        .set(static_cast<double>(by_priority[p]));
  for (const auto& t : i.transports)
    i.metrics.gauge("p2p_active_connections", "Live sessions", {{"transport", t.name}})
        .set(static_cast<double>(t.transport->peers_with_sessions().size()));
  i.metrics.gauge("p2p_known_peers", "Peers in the address book").set(static_cast<double>(i.peers.size()));
  const std::string depth_help = "Durable messages waiting for an ack, by state";
  i.metrics.gauge("p2p_outbox_depth", depth_help, {{"state", "queued"}}).set(static_cast<double>(queued));
  i.metrics.gauge("p2p_outbox_depth", depth_help, {{"state", "sent"}}).set(static_cast<double>(in_flight));
  const auto qos_stats = i.transmit_queue.stats();
  for (std::size_t p = 0; p < 4; ++p) {
    const auto& c = qos_stats.by_class[p];
    const metrics::Labels cls = {{"priority", kPriorityNames[p]}};
    i.metrics.gauge("p2p_qos_queue_depth", "Messages in the QoS transmit queue, by class", cls)
        .set(static_cast<double>(c.depth));
    i.metrics.gauge("p2p_qos_queue_capacity", "The QoS transmit queue's capacity, by class", cls)
        .set(static_cast<double>(c.capacity));
    i.metrics.gauge("p2p_qos_evicted", "Messages sent back to the outbox to admit an EMERGENCY one", cls)
        .set(static_cast<double>(c.evicted));
    i.metrics
        .gauge("p2p_qos_turned_away", "Admissions a full class refused (the message waited in the outbox)",
               cls)
        .set(static_cast<double>(c.rejected));
  }
  for (const auto& t : i.transports)
    i.metrics
        .gauge("p2p_redundant_wins", "Redundant sends whose first ack came over this transport",
               {{"transport", t.name}})
        .set(static_cast<double>(t.wins));
  return i.metrics.render();
}

void Node::send(const PeerId& to, Bytes payload, const SendOptions& options, SendHandler done) {
  if (options.ephemeral) {
    impl_->send_ephemeral(to, std::move(payload), options, std::move(done));
    return;
  }
  std::vector<Bytes> one;
  one.push_back(std::move(payload));
  impl_->send_many(to, std::move(one), options,
                   [done = std::move(done)](std::expected<std::vector<MessageId>, std::error_code> r) {
                     if (!r)
                       done(std::unexpected(r.error()));
                     else
                       done(r->front());
                   });
}

void Node::send_many(const PeerId& to, std::vector<Bytes> payloads, const SendOptions& options,
                     std::function<void(std::expected<std::vector<MessageId>, std::error_code>)> done) {
  impl_->send_many(to, std::move(payloads), options, std::move(done));
}

std::optional<MessageStatus> Node::status(const MessageId& id) const {
  return impl_->status(id);
}
std::size_t Node::link_backlog(const PeerId& peer) const {
  std::size_t most = 0;
  for (const auto& t : impl_->transports) most = std::max(most, t.transport->backlog(peer));
  return most;
}
void Node::on_delivered(std::function<void(const MessageId&)> observer) {
  impl_->delivered_observer = std::move(observer);
}
void Node::add_peer(const PeerId& peer, std::vector<std::string> addresses,
                    std::function<void(std::error_code)> done) {
  impl_->add_peer(peer, std::move(addresses), std::move(done));
}
std::uint64_t Node::subscribe(InboundHandler handler) {
  return impl_->subscribe(std::move(handler));
}
void Node::unsubscribe(std::uint64_t token) {
  impl_->subscribers.erase(token);
}
void Node::ack(const MessageId& id) {
  impl_->app_acked(id);
}

NodeStatus Node::status_view() const {
  const auto& i = *impl_;
  NodeStatus s;
  s.peer_id = i.identity.peer_id();
  s.listen = i.config.listen;
  s.listen_port = listen_port();
  s.running = i.running;
  s.has_internet = i.connectivity.online();
  s.connectivity_basis = std::string(router::to_string(i.connectivity.basis()));
  s.transports = transport_status();
  for (const auto& [peer, state] : i.peers)
    if (!state.sessions.empty()) ++s.connections;
  s.known_peers = i.peers.size();
  for (const auto& [id, m] : i.delivery.messages()) {
    if (m.state == store::OutboxState::queued) ++s.outbox_queued;
    if (m.state == store::OutboxState::sent) ++s.outbox_in_flight;
  }
  s.counters = i.counters;
  s.inbox = InboxStatus{
      i.inbox_unacked.size(),      i.inbox_unacked_strangers,   i.inbox_unacked_by_peer.size(),
      i.config.max_inbox_per_peer, i.config.max_inbox_messages, i.uncommitted_bytes,
      i.uncommitted_peak_bytes,    i.receive_paused.size(),     i.config.max_uncommitted_inbound_bytes};
  s.strangers_forgotten = i.strangers_forgotten;
  return s;
}

std::vector<ConnectionView> Node::connections() const {
  std::vector<ConnectionView> out;
  for (const auto& t : impl_->transports) {
    for (const auto& peer : t.transport->peers_with_sessions()) {
      auto info = t.transport->session_info(peer);
      if (!info) continue;
      out.push_back(ConnectionView{peer, t.name, info->id, info->remote_address, info->initiator,
                                   info->age_ms, info->bytes_in, info->bytes_out, info->records_in,
                                   info->records_out, static_cast<std::uint32_t>(info->hops),
                                   info->next_hop});
    }
  }
  return out;
}

std::vector<PeerView> Node::peers() const {
  std::vector<PeerView> out;
  out.reserve(impl_->peers.size());
  for (const auto& [peer, state] : impl_->peers)
    out.push_back(PeerView{peer, state.addresses, !state.sessions.empty(), state.last_seen_ms});
  return out;
}

}  // namespace hyphae
