// Node lifecycle, links and dialing, and the JSON views. Delivery lives in delivery.cpp.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "node/node_impl.hpp"

namespace hyphae {

namespace asio = boost::asio;
using asio::ip::tcp;

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

void log_failure(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("node coroutine failed: {}", ex.what());
  }
}

asio::awaitable<void> dial_coroutine(std::shared_ptr<Node::Impl> self, PeerId peer, std::string address) {
  std::string host;
  std::uint16_t port = 0;
  parse_address(address, host, port);
  tcp::socket socket(self->strand);
  std::string failure;
  try {
    tcp::resolver resolver(self->strand);
    auto endpoints = co_await resolver.async_resolve(host, std::to_string(port), asio::use_awaitable);
    co_await asio::async_connect(socket, endpoints, asio::use_awaitable);
  } catch (const boost::system::system_error& e) {
    failure = e.code().message();
  }
  auto& state = self->peers[peer];
  if (!failure.empty() || !self->running) {
    state.dialing = false;
    if (self->running) {
      self->log->debug("dial {} at {} failed: {}", peer.to_string(), address, failure);
      state.backoff_ms = std::min<std::uint64_t>(
          std::max<std::uint64_t>(state.backoff_ms * 2, self->config.reconnect_min_ms),
          self->config.reconnect_max_ms);
      state.next_dial_ms = now_ms() + state.backoff_ms;
    }
    co_return;
  }
  auto link = std::make_shared<mesh::TcpLink>(self->strand, std::move(socket), *self, self->identity,
                                              self->link_static, true, peer, self->link_options());
  self->links.insert(link);
  self->dialed.emplace(link->id(), peer);
  link->start();
}

}  // namespace

Node::Impl::Impl(Executor executor, NodeConfig cfg, Identity id, std::unique_ptr<store::Store> st)
    : strand(asio::make_strand(executor)),
      config(std::move(cfg)),
      identity(std::move(id)),
      link_static(noise::KeyPair::generate()),
      store(std::move(st)),
      log(make_logger(identity.peer_id(), config.log_level)),
      acceptor(strand),
      tick_timer(strand),
      lazy_commit_timer(strand),
      routing(router::RoutingOptions{config.route_timeout_ms, config.max_route_hops}),
      pool(router::PoolOptions{config.max_connections, config.connection_idle_timeout_ms, kMinIdleToEvictMs}),
      connectivity(config.connectivity_probe.empty() ? 0 : config.connectivity_probe_interval_ms) {
  seal_keys.priv = identity.x25519_private();
  seal_keys.pub = identity.x25519_public();
  init_metrics();
  init_connectivity();
}

void Node::Impl::init_metrics() {
  const std::string sent_help = "Messages handed to a transport (durable ones count each attempt)";
  meters.sent_durable =
      &metrics.counter("p2p_messages_sent_total", sent_help, {{"transport", "tcp"}, {"mode", "durable"}});
  meters.sent_ephemeral =
      &metrics.counter("p2p_messages_sent_total", sent_help, {{"transport", "tcp"}, {"mode", "ephemeral"}});
  meters.received = &metrics.counter("p2p_messages_received_total", "Messages committed to the inbox",
                                     {{"transport", "tcp"}});
  meters.delivered =
      &metrics.counter("p2p_messages_delivered_total", "Durable messages acknowledged by their recipient",
                       {{"transport", "tcp"}});
  const std::string err_help = "Errors by kind";
  meters.err_rejected = &metrics.counter("p2p_errors_total", err_help, {{"kind", "rejected_envelope"}});
  meters.err_link = &metrics.counter("p2p_errors_total", err_help, {{"kind", "link"}});
  meters.err_store = &metrics.counter("p2p_errors_total", err_help, {{"kind", "store"}});
  meters.err_backpressure = &metrics.counter("p2p_errors_total", err_help, {{"kind", "backpressure"}});
  meters.latency = &metrics.histogram(
      "p2p_message_latency_seconds", "From send() to the recipient's ack, durable messages",
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600},
      {{"transport", "tcp"}});
}

mesh::TcpLinkOptions Node::Impl::link_options() const {
  mesh::TcpLinkOptions options;
  options.handshake_timeout = std::chrono::milliseconds(config.handshake_timeout_ms);
  options.keepalive_interval = std::chrono::milliseconds(config.keepalive_interval_ms);
  // A record carries one envelope: payload, a sealed payload's overhead, and the envelope header.
  options.limits.max_record = config.max_message_bytes + 4096;
  return options;
}

std::error_code Node::Impl::start() {
  std::string host;
  std::uint16_t port = 0;
  if (!parse_address(config.listen, host, port)) return Errc::invalid_argument;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Errc::invalid_argument;
  tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    log->error("cannot listen on {}: {}", config.listen, ec.message());
    return std::error_code(ec.value(), std::system_category());
  }
  running = true;
  load_from_store();
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
  log->info("node {} listening on {}:{}", identity.peer_id().to_string(), host,
            acceptor.local_endpoint().port());
  accept_next();
  tick();
  return {};
}

void Node::Impl::stop() {
  if (!running) return;
  running = false;
  boost::system::error_code ec;
  acceptor.close(ec);
  tick_timer.cancel();
  lazy_commit_timer.cancel();
  auto all = links;
  for (const auto& link : all) link->close("node stopping");
  commit_staged(/*force=*/true);
  store->flush();
}

void Node::Impl::accept_next() {
  acceptor.async_accept(
      strand, [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
        if (!self->running) return;
        if (!ec) {
          auto link =
              std::make_shared<mesh::TcpLink>(self->strand, std::move(socket), *self, self->identity,
                                              self->link_static, false, std::nullopt, self->link_options());
          self->links.insert(link);
          link->start();
        } else {
          self->log->warn("accept: {}", ec.message());
        }
        self->accept_next();
      });
}

void Node::Impl::dial(const PeerId& peer) {
  auto& state = peers[peer];
  if (state.addresses.empty() || state.dialing || state.link) return;
  state.dialing = true;
  // Rotate through the known addresses on successive attempts.
  auto address = state.addresses.front();
  std::rotate(state.addresses.begin(), state.addresses.begin() + 1, state.addresses.end());
  asio::co_spawn(strand, dial_coroutine(shared_from_this(), peer, address), log_failure);
}

void Node::Impl::tick() {
  if (!running) return;
  auto now = now_ms();
  for (auto& [peer, state] : peers)
    if (should_dial(peer, state, now)) dial(peer);
  if (now - last_expiry_ms >= 1000) {
    last_expiry_ms = now;
    expire_outbox();
  }
  tick_connectivity(now);
  tick_routing(now);
  if (now - last_prune_ms >= kSeenPruneIntervalMs) {
    last_prune_ms = now;
    prune_seen(now);
  }
  tick_timer.expires_after(std::chrono::milliseconds(50));
  tick_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->tick();
  });
}

Node::Impl::LinkPtr Node::Impl::live_link(const PeerId& peer) const {
  auto it = peers.find(peer);
  if (it == peers.end() || !it->second.link || !it->second.link->established()) return nullptr;
  return it->second.link;
}

void Node::Impl::on_link_up(const LinkPtr& link) {
  const PeerId& remote = link->remote();
  auto& state = peers[remote];
  if (state.link && state.link != link) {
    // Both sides dialed: keep the link dialed by the smaller PeerId, so both ends choose the same one.
    auto dialer_of = [&](const LinkPtr& l) { return l->initiator() ? identity.peer_id() : remote; };
    bool keep_new = dialer_of(link) < dialer_of(state.link) ||
                    (dialer_of(link) == dialer_of(state.link));  // same dialer: the old one is stale
    if (!keep_new) {
      link->close("duplicate link");
      return;
    }
    auto old = state.link;
    state.link = nullptr;
    old->close("replaced by a newer link");
  }
  if (!state.link && !admit_link(link)) return;
  state.link = link;
  state.dialing = false;
  state.backoff_ms = 0;
  routing.set_direct(remote, kDirectTransport, now_ms());
  state.last_seen_ms = now_ms();
  ++counters.links_up;
  report_link_connectivity();
  log->info("link up: {} ({} {})", remote.to_string(), link->initiator() ? "dialed" : "accepted",
            link->remote_address());
  store::WriteBatch batch;
  batch.peer_upserts.push_back(
      store::PeerRow{Bytes(remote.bytes().begin(), remote.bytes().end()), {}, now_ms()});
  stage(std::move(batch), nullptr);
  queues[remote].rewind();  // everything unacknowledged goes out again on the new link
  pump(remote);
}

void Node::Impl::on_link_down(const LinkPtr& link, bool was_up, const std::string& reason) {
  links.erase(link);
  std::optional<PeerId> peer;
  if (auto it = dialed.find(link->id()); it != dialed.end()) {
    peer = it->second;
    dialed.erase(it);
  }
  if (was_up) peer = link->remote();
  if (running && reason != "replaced by a newer link" && reason != "duplicate link") meters.err_link->inc();
  if (was_up) {
    log->info("link down: {}: {}", link->remote().to_string(), reason);
  } else {
    log->info("link to {} failed before it came up: {}", link->remote_address(), reason);
  }
  if (!peer) return;
  auto& state = peers[*peer];
  if (link->initiator()) state.dialing = false;
  if (state.link == link) {
    state.link = nullptr;
    release_link(link);
    ++counters.links_down;
    report_link_connectivity();
    for (auto& lane : queues[*peer].lanes)
      for (auto& id : lane.ids) {
        auto it = outbox.find(id);
        if (it != outbox.end() && it->second.state == store::OutboxState::sent)
          it->second.state = store::OutboxState::queued;
      }
    queues[*peer].rewind();
  }
  if (!state.link && reason.starts_with("idle for")) {
    // Closed by the pool: nothing to resend, and the next message dials at once.
    state.backoff_ms = 0;
    state.next_dial_ms = 0;
  } else if (!state.link) {
    // Redial with exponential backoff (a lost link is retried at once the first time).
    state.next_dial_ms = now_ms() + state.backoff_ms;
    state.backoff_ms = std::min<std::uint64_t>(
        std::max<std::uint64_t>(state.backoff_ms * 2, config.reconnect_min_ms), config.reconnect_max_ms);
  }
}

void Node::Impl::on_link_drained(const LinkPtr& link) {
  if (link->established() && live_link(link->remote()) == link) pump(link->remote());
}

void Node::Impl::on_link_record(const LinkPtr& link, const mesh::Record& record) {
  switch (record.type) {
    case mesh::RecordType::data:
      on_data(link, record.body, false);
      break;
    case mesh::RecordType::ephemeral:
      on_data(link, record.body, true);
      break;
    case mesh::RecordType::ack:
      on_ack(link, record.body);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------- public facade

std::expected<std::unique_ptr<Node>, std::string> Node::create(Executor executor, NodeConfig config) {
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
  auto st = store::Store::open(config.data_dir / "hyphae.db", options);
  if (!st)
    return std::unexpected("store " + (config.data_dir / "hyphae.db").string() + ": " + st.error().message());
  auto impl =
      std::make_shared<Impl>(std::move(executor), std::move(config), std::move(*identity), std::move(*st));
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
  boost::system::error_code ec;
  auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}
const NodeConfig& Node::config() const {
  return impl_->config;
}
const NodeCounters& Node::counters() const {
  return impl_->counters;
}

std::string Node::metrics_text() {
  auto& i = *impl_;
  std::size_t up = 0, queued = 0, in_flight = 0;
  for (const auto& [peer, state] : i.peers)
    if (state.link && state.link->established()) ++up;
  for (const auto& [id, m] : i.outbox) {
    if (m.state == store::OutboxState::queued) ++queued;
    if (m.state == store::OutboxState::sent) ++in_flight;
  }
  i.metrics.gauge("p2p_active_connections", "Live links", {{"transport", "tcp"}})
      .set(static_cast<double>(up));
  i.metrics.gauge("p2p_known_peers", "Peers in the address book").set(static_cast<double>(i.peers.size()));
  const std::string depth_help = "Durable messages waiting for an ack, by state";
  i.metrics.gauge("p2p_outbox_depth", depth_help, {{"state", "queued"}}).set(static_cast<double>(queued));
  i.metrics.gauge("p2p_outbox_depth", depth_help, {{"state", "sent"}}).set(static_cast<double>(in_flight));
  return i.metrics.render();
}
void Node::inject_store_failure_for_test(int commits) {
  impl_->store->inject_write_failure_for_test(commits);
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
  auto link = impl_->live_link(peer);
  return link ? link->backlog_bytes() : 0;
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
  store::WriteBatch batch;
  batch.inbox_app_acks.push_back(id.bytes);
  impl_->stage_lazily(std::move(batch));
}

nlohmann::json Node::status_json() const {
  const auto& i = *impl_;
  std::size_t up = 0;
  for (const auto& [peer, state] : i.peers)
    if (state.link && state.link->established()) ++up;
  std::size_t queued = 0, in_flight = 0;
  for (const auto& [id, m] : i.outbox) {
    if (m.state == store::OutboxState::queued) ++queued;
    if (m.state == store::OutboxState::sent) ++in_flight;
  }
  return {{"peer_id", i.identity.peer_id().to_string()},
          {"listen", i.config.listen},
          {"listen_port", listen_port()},
          {"running", i.running},
          {"has_internet", i.connectivity.online()},
          {"connectivity_basis", std::string(router::to_string(i.connectivity.basis()))},
          {"transports",
           nlohmann::json::array({{{"name", "tcp"}, {"available", i.running}, {"connections", up}}})},
          {"connections", up},
          {"known_peers", i.peers.size()},
          {"outbox", {{"queued", queued}, {"in_flight", in_flight}}},
          {"counters",
           {{"sent", i.counters.sent},
            {"delivered", i.counters.delivered},
            {"received", i.counters.received},
            {"duplicates", i.counters.duplicates},
            {"rejected", i.counters.rejected},
            {"ephemeral_sent", i.counters.ephemeral_sent},
            {"ephemeral_received", i.counters.ephemeral_received},
            {"links_up", i.counters.links_up},
            {"links_down", i.counters.links_down}}}};
}

nlohmann::json Node::connections_json() const {
  auto out = nlohmann::json::array();
  auto now = std::chrono::steady_clock::now();
  for (const auto& link : impl_->links) {
    if (!link->established()) continue;
    const auto& c = link->counters();
    out.push_back(
        {{"peer_id", link->remote().to_string()},
         {"transport", "tcp"},
         {"remote_address", link->remote_address()},
         {"direction", link->initiator() ? "outbound" : "inbound"},
         {"age_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now - link->since()).count()},
         {"bytes_in", c.bytes_in},
         {"bytes_out", c.bytes_out},
         {"records_in", c.records_in},
         {"records_out", c.records_out}});
  }
  return out;
}

nlohmann::json Node::peers_json() const {
  auto out = nlohmann::json::array();
  for (const auto& [peer, state] : impl_->peers) {
    out.push_back({{"peer_id", peer.to_string()},
                   {"addresses", state.addresses},
                   {"connected", state.link != nullptr && state.link->established()},
                   {"last_seen_ms", state.last_seen_ms}});
  }
  return out;
}

}  // namespace hyphae
