// BitChatTransport: a MeshNode on a LanLink, adapted to the Transport interface (see the header).
#include "transport/bitchat/bitchat_transport.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>

#include "bitchat/link/lan_link.hpp"
#include "bitchat/link/radio_link.hpp"
#include "bitchat/mesh_node.hpp"
#include "core/error.hpp"
#include "core/identity.hpp"
#include "util/json_util.hpp"
#include "util/option_text.hpp"

namespace hyphae::transport {

namespace {

namespace asio = boost::asio;

// The mesh node's clock: Unix milliseconds at start, then advanced by the steady clock, so a
// wall-clock step (NTP, a user) never stalls or rushes its timers; packet timestamps stay Unix time.
class MeshClock {
 public:
  std::uint64_t operator()() const {
    return start_wall_ + static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                        std::chrono::steady_clock::now() - start_steady_)
                                                        .count());
  }

 private:
  std::uint64_t start_wall_ =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  std::chrono::steady_clock::time_point start_steady_ = std::chrono::steady_clock::now();
};

// The options of type "bitchat", with their rules, in one place (docs/bitchat.md).
const OptionSchema& bitchat_options() {
  using K = OptionSpec::Kind;
  static const OptionSchema schema{
      {"type", K::choice, 0, 0, {"bitchat"}, "bitchat", "the type, for an instance with a name of its own"},
      {"nickname",
       K::text,
       0,
       0,
       {},
       "",
       "the announced nickname (1 to 255 bytes; default: the PeerId's start)"},
      {"announce_interval_ms", K::integer, 100, 3'600'000, {}, "", "announce period"},
      {"peer_timeout_ms", K::integer, 300, 86'400'000, {}, "", "a peer not heard for this long is gone"},
      {"sync_interval_ms", K::integer, 0, 3'600'000, {}, "", "store-and-forward sync period (0: off)"},
      {"handshake_timeout_ms", K::integer, 100, 600'000, {}, "", "Noise handshake deadline"},
      {"eager_sessions", K::integer, 0, 10'000, {}, "", "sessions made before there is anything to send"},
      {"per_sender_rate", K::integer, 1, 1'000'000, {}, "500", "relayed packets per second from one sender"},
      {"total_rate", K::integer, 1, 10'000'000, {}, "5000", "relayed packets per second in all"},
      // Bounds on what unauthenticated senders can make the node hold or send (docs/bitchat.md).
      {"max_sender_buckets", K::integer, 16, 1'000'000, {}, "", "senders the relay rate-limits at once"},
      {"max_known_peers", K::integer, 16, 1'000'000, {}, "", "peers in the mesh peer table"},
      {"max_sync_reply_bytes", K::integer, 1024, 1 << 20, {}, "", "bytes one sync answer may carry"},
      {"sync_reply_rate",
       K::integer,
       1,
       100'000'000,
       {},
       "",
       "sync answer bytes per second to one requester"},
      {"sync_reply_total_rate", K::integer, 1, 1'000'000'000, {}, "", "sync answer bytes per second in all"},
      {"handshake_reply_rate", K::integer, 1, 100'000, {}, "", "handshake message 1s answered per second"},
      // The LAN link.
      {"interfaces", K::list, 0, 0, {}, "", "network interfaces to use (default: every multicast one)"},
      {"multicast", K::boolean, 0, 0, {}, "true", "discover neighbours by UDP multicast"},
      {"group", K::text, 0, 0, {}, "", "multicast group"},
      {"group_port", K::integer, 1, 65535, {}, "", "multicast port"},
      {"listen", K::text, 0, 0, {}, "", "unicast host:port"},
      {"static_peers", K::list, 0, 0, {}, "", "neighbours at fixed host:port addresses"},
      {"beacon_interval_ms", K::integer, 10, 600'000, {}, "", "neighbour beacon period"},
      {"neighbour_timeout_ms",
       K::integer,
       30,
       3'600'000,
       {},
       "",
       "a neighbour not heard for this long is gone"},
      {"mtu", K::integer, 64, 65507, {}, "", "largest link frame"},
      // The simulated radio instead of the LAN (tests, demos).
      {"link", K::choice, 0, 0, {"lan", "radio"}, "lan", "the link under the mesh"},
      {"radio_medium", K::text, 0, 0, {}, "default", "name of the shared simulated medium"},
      {"radio_position", K::text, 0, 0, {}, "", "x,y on the simulated medium"},
      {"radio_range", K::number, 0, 2, {}, "", "radio range on the simulated medium"},
      {"radio_loss", K::number, 0, 1, {}, "", "frame loss on the simulated medium"},
      {"radio_latency_ms", K::integer, 0, 60'000, {}, "", "frame latency on the simulated medium"},
      // The P2P configuration file's BitChat settings: advertisement_interval sets the announce
      // interval (seconds) and max_peers the eager sessions; the BLE-only ones (scan_interval,
      // battery_threshold, api_url) and max_hops (the mesh always allows 7) are accepted and have
      // no effect on the LAN link.
      {"advertisement_interval", K::number, 0.1, 3600, {}, "", "announce period in seconds"},
      {"max_peers", K::integer, 1, 10'000, {}, "", "eager sessions"},
      {"scan_interval", K::number, 0.1, 3600, {}, "", "BLE scan period (no effect on the LAN link)"},
      {"battery_threshold", K::number, 0, 1, {}, "", "BLE battery threshold (no effect on the LAN link)"},
      {"api_url", K::text, 0, 0, {}, "", "BitChat app API (no effect)"},
      {"max_hops", K::integer, 1, 7, {}, "7", "hop limit (the mesh always allows 7)"},
  };
  return schema;
}

std::optional<RecordKind> kind_of(std::uint8_t byte) {
  if (byte >= 1 && byte <= 5) return static_cast<RecordKind>(byte);
  return std::nullopt;
}

class BitChatTransport final : public Transport, public bitchat::LinkSink {
 public:
  struct RadioPlacement {
    std::shared_ptr<bitchat::RadioMedium> medium;
    double x = 0, y = 0;
  };

  BitChatTransport(TransportContext context, router::Capabilities caps, bitchat::MeshNodeOptions mesh,
                   bitchat::LanLinkOptions lan, std::optional<RadioPlacement> radio)
      : context_(std::move(context)),
        caps_(caps),
        log_(logger_for(context_)),
        node_(*context_.identity,
              [&] {
                mesh.wants_session = [this](const PeerId& peer) {
                  return context_.sink->wants_session(*this, peer);
                };
                return std::move(mesh);
              }()),
        timer_(context_.strand) {
    if (radio) {
      link_ = std::make_unique<bitchat::RadioLink>(context_.strand, radio->medium, radio->x, radio->y,
                                                   node_.self(), *this);
    } else {
      lan.self = node_.self();
      auto made = std::make_unique<bitchat::LanLink>(context_.strand, std::move(lan), *this);
      lan_ = made.get();
      link_ = std::move(made);
    }
  }

  ~BitChatTransport() override {
    *alive_ = false;
    if (started_) {
      started_ = false;
      link_->stop();
    }
  }

  std::string_view name() const override { return context_.name; }
  std::string_view type() const override { return "bitchat"; }
  const router::Capabilities& capabilities() const override { return caps_; }

  std::error_code start() override {
    if (auto ec = link_->start()) {
      log_->error("transport {}: {} link did not start: {}", context_.name, link_->kind(),
                  lan_ ? lan_->start_error() : ec.message());
      return ec;
    }
    started_ = true;
    log_->info("transport {}: BitChat mesh ID {} on its {} link{}", context_.name, to_hex(node_.self()),
               link_->kind(), lan_ ? " (UDP port " + std::to_string(lan_->listen_port()) + ")" : "");
    apply(node_.start(clock_()));
    context_.sink->on_availability(*this, true, "mesh link started");
    return {};
  }

  void stop() override {
    if (!started_) return;
    apply(node_.stop(clock_()));
    started_ = false;
    timer_.cancel();
    link_->stop();
    context_.sink->on_availability(*this, false, "stopped");
  }

  bool available() const override { return started_; }

  std::uint64_t session(const PeerId& peer) const override { return node_.session(peer); }

  std::error_code send(const PeerId& peer, RecordKind kind, ByteView body) override {
    if (!started_) return Errc::closed;
    if (body.size() > caps_.mtu) return Errc::too_large;
    auto out = node_.send_record(peer, static_cast<std::uint8_t>(kind), body, clock_());
    if (!out) return out.error();  // no_link, backpressure (the pacer's queue is full), too_large
    apply(std::move(*out));
    return {};
  }

  std::size_t backlog(const PeerId& peer) const override { return node_.session(peer) ? node_.backlog() : 0; }

  void close(const PeerId& peer, const CloseReason& reason) override {
    apply(node_.close(peer, reason, clock_()));
  }

  std::optional<SessionInfo> session_info(const PeerId& peer) const override {
    const auto id = node_.session(peer);
    if (!id) return std::nullopt;
    SessionInfo info;
    info.id = id;
    if (auto path = node_.path(peer, clock_())) {
      info.hops = path->hops;
      info.next_hop = path->next_hop;
      info.age_ms = path->age_ms;
      info.remote_address = "mesh, " + std::to_string(path->hops) + (path->hops == 1 ? " hop" : " hops");
    }
    return info;
  }

  std::vector<PeerId> peers_with_sessions() const override { return node_.peers_up(); }

  std::error_code add_addresses(const PeerId& peer, const std::vector<std::string>& addresses) override {
    // Mesh peers are discovered by their announces; there is nothing to dial.
    for (const auto& a : addresses)
      if (a != "mesh") return Errc::invalid_argument;
    return {};
  }

  void connect_soon(const PeerId& peer) override {
    if (started_) apply(node_.connect(peer, clock_()));
  }

  void tick(std::uint64_t) override {}  // the mesh keeps its own timer (finer than the node's tick)

  std::uint16_t listen_port() const override { return lan_ ? lan_->listen_port() : 0; }

  nlohmann::json status_json() const override {
    nlohmann::json j{{"name", context_.name},        {"type", "bitchat"},
                     {"available", started_},        {"sessions", node_.peers_up().size()},
                     {"listen_port", listen_port()}, {"capabilities", capabilities_json(caps_)}};
    j["mesh"] = node_.status_json(clock_());
    j["link"] = link_->status_json();
    sanitize_strings(j["mesh"]);  // neighbours' nicknames come from the network
    sanitize_strings(j["link"]);
    return j;
  }

  // BitChat carries text: the payload's bytes are the message (the node checks they are UTF-8).
  std::error_code broadcast(std::string_view channel, ByteView payload) override {
    if (!started_) return Errc::closed;
    auto out = node_.broadcast(std::string(channel), std::string(payload.begin(), payload.end()), clock_());
    if (!out) return out.error();
    apply(std::move(*out));
    return {};
  }

 private:
  // LinkSink
  void on_neighbour_up(bitchat::LinkId link, const bitchat::ShortId& claimed, const std::string& address,
                       std::size_t mtu) override {
    log_->info("transport {}: neighbour {} at {} (link {})", context_.name, to_hex(claimed), address, link);
    apply(node_.link_up(link, claimed, clock_()));
  }
  void on_neighbour_down(bitchat::LinkId link, const std::string& reason) override {
    log_->info("transport {}: neighbour link {} down: {}", context_.name, link, reason);
    apply(node_.link_down(link, clock_()));
  }
  void on_frame(bitchat::LinkId link, ByteView frame) override {
    bool malformed = false;
    auto out = node_.on_frame(link, frame, clock_(), &malformed);
    apply(std::move(out));
    if (malformed) {
      log_->warn("transport {}: malformed frame ({} bytes) on link {}: dropping that neighbour",
                 context_.name, frame.size(), link);
      link_->drop(link, "malformed frame");
    }
  }

  void apply(bitchat::MeshNode::Output&& out) {
    for (const auto& s : out.sends) link_->send(s.link, s.frame);
    for (auto& e : out.events) {
      using K = bitchat::MeshEvent::Kind;
      switch (e.kind) {
        case K::peer_up:
          log_->info("transport {}: session {} with {} (mesh {})", context_.name, e.session,
                     e.peer.to_string(), to_hex(e.mesh_id));
          context_.sink->on_session_up(*this, e.peer, e.session);
          break;
        case K::peer_down:
          log_->info("transport {}: session {} with {} down: {}", context_.name, e.session,
                     e.peer.to_string(), e.reason.text());
          context_.sink->on_session_down(*this, e.peer, e.session, e.reason);
          break;
        case K::record:
          if (auto kind = kind_of(e.record_kind))
            context_.sink->on_record(*this, e.peer, e.session, *kind, e.body);
          break;
        case K::broadcast: {
          BroadcastMessage b;
          b.channel = e.broadcast.channel;
          b.payload.assign(e.broadcast.text.begin(), e.broadcast.text.end());
          b.sender_details = {{"nickname", e.broadcast.nickname}, {"mesh_id", to_hex(e.broadcast.sender)}};
          if (e.broadcast.peer) b.sender = *e.broadcast.peer;
          b.verified = e.broadcast.verified;
          b.timestamp_ms = e.broadcast.timestamp_ms;
          context_.sink->on_broadcast(*this, b);
          break;
        }
      }
    }
    // After the events: a callback (the node sending on session up) may have queued more.
    const bool was_busy = busy_;
    busy_ = node_.backlog() > 0;
    if (was_busy && !busy_)
      for (const auto& peer : node_.peers_up()) context_.sink->on_drained(*this, peer);
    arm();
  }

  void arm() {
    if (!started_) return;
    const auto now = clock_();
    const auto due = node_.next_due(now);
    if (armed_ && armed_for_ <= due) return;
    armed_ = true;
    armed_for_ = due;
    timer_.expires_after(std::chrono::milliseconds(due - now));
    timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
      // A wait cancelled by re-arming for an earlier time: the new wait owns armed_.
      if (!*alive || ec == boost::asio::error::operation_aborted) return;
      armed_ = false;
      if (ec || !started_) return;
      apply(node_.tick(clock_()));
    });
  }

  MeshClock clock_;
  TransportContext context_;
  router::Capabilities caps_;
  std::shared_ptr<spdlog::logger> log_;
  bitchat::MeshNode node_;
  std::unique_ptr<bitchat::Link> link_;
  bitchat::LanLink* lan_ = nullptr;  // link_ when it is the LAN one
  asio::steady_timer timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool started_ = false, busy_ = false, armed_ = false;
  std::uint64_t armed_for_ = 0;
};

}  // namespace

TransportType bitchat_transport_type() {
  auto media = std::make_shared<bitchat::RadioMedia>();
  return {"bitchat", "the BitChat mesh: offline, multi-hop, over the LAN (or a simulated radio)",
          bitchat_options(),
          [media](TransportContext context) { return make_bitchat_transport(std::move(context), media); }};
}

std::expected<std::unique_ptr<Transport>, std::string> make_bitchat_transport(
    TransportContext context, const std::shared_ptr<bitchat::RadioMedia>& media) {
  const auto fail = [&](const std::string& why) {
    return std::unexpected("transport " + context.name + ": " + why);
  };
  const auto& schema = bitchat_options();
  if (auto ok = schema.check_all(context.options); !ok) return fail(ok.error());
  auto lan = bitchat::LanLinkOptions::parse(context.options);
  if (!lan) return fail(lan.error());

  bitchat::MeshNodeOptions mesh;
  if (auto* ids = context.session_ids) mesh.next_session_id = [ids] { return ids->next(); };
  mesh.mtu = lan->mtu;
  mesh.nickname = context.options.contains("nickname")
                      ? context.options.at("nickname")
                      : context.identity->peer_id().to_string().substr(0, 12);
  if (mesh.nickname.empty() || mesh.nickname.size() > 255) return fail("nickname: 1 to 255 bytes");
  struct Field {  // an integer option and where it goes (its range is in the schema)
    const char* key;
    std::uint64_t* target;
  };
  // Relay limits: the apps use 50 packets/s per sender and 500 in total over BLE; a LAN link
  // carries about ten times that, so these defaults are ten times the apps'.
  std::uint64_t eager = mesh.eager_sessions, per_sender = 500, total = 5000;
  std::uint64_t sender_buckets = mesh.mesh.max_sender_buckets, known_peers = mesh.max_known_peers;
  std::uint64_t sync_reply_bytes = mesh.max_sync_reply_bytes,
                sync_reply_rate = static_cast<std::uint64_t>(mesh.sync_reply_rate),
                sync_reply_total_rate = static_cast<std::uint64_t>(mesh.sync_reply_total_rate),
                handshake_reply_rate = static_cast<std::uint64_t>(mesh.handshake_reply_rate);
  const Field fields[] = {
      {"announce_interval_ms", &mesh.announce_interval_ms},
      {"peer_timeout_ms", &mesh.peer_timeout_ms},
      {"sync_interval_ms", &mesh.sync_interval_ms},
      {"handshake_timeout_ms", &mesh.handshake_timeout_ms},
      {"eager_sessions", &eager},
      {"per_sender_rate", &per_sender},
      {"total_rate", &total},
      {"max_sender_buckets", &sender_buckets},
      {"max_known_peers", &known_peers},
      {"max_sync_reply_bytes", &sync_reply_bytes},
      {"sync_reply_rate", &sync_reply_rate},
      {"sync_reply_total_rate", &sync_reply_total_rate},
      {"handshake_reply_rate", &handshake_reply_rate},
  };
  for (const auto& f : fields) {
    auto v = schema.integer(context.options, f.key, *f.target);
    if (!v) return fail(v.error());
    *f.target = *v;
  }
  if (context.options.contains("advertisement_interval") &&
      !context.options.contains("announce_interval_ms")) {
    auto seconds = schema.number(context.options, "advertisement_interval", 0);
    if (!seconds) return fail(seconds.error());
    mesh.announce_interval_ms = static_cast<std::uint64_t>(*seconds * 1000);
  }
  if (context.options.contains("max_peers") && !context.options.contains("eager_sessions")) {
    auto v = schema.integer(context.options, "max_peers", eager);
    if (!v) return fail(v.error());
    eager = *v;
  }
  if (mesh.peer_timeout_ms <= mesh.announce_interval_ms)
    return fail("peer_timeout_ms must be longer than announce_interval_ms");
  mesh.eager_sessions = eager;
  mesh.mesh.max_sender_buckets = sender_buckets;
  mesh.max_known_peers = known_peers;
  mesh.max_sync_reply_bytes = sync_reply_bytes;
  mesh.sync_reply_rate = static_cast<double>(sync_reply_rate);
  mesh.sync_reply_total_rate = static_cast<double>(sync_reply_total_rate);
  mesh.handshake_reply_rate = static_cast<double>(handshake_reply_rate);
  mesh.mesh.per_sender_rate = static_cast<double>(per_sender);
  mesh.mesh.per_sender_burst = 2.0 * static_cast<double>(per_sender);
  mesh.mesh.total_rate = static_cast<double>(total);
  mesh.mesh.total_burst = 2.0 * static_cast<double>(total);
  // Our own frames stay under what relays accept from one sender.
  mesh.own_rate = 0.8 * mesh.mesh.per_sender_rate;
  mesh.own_burst = 0.8 * mesh.mesh.per_sender_burst;
  // About half a second of pacing (at least one whole 60 000-byte record in fragments): beyond it
  // send() refuses and the node keeps the message in its outbox, where it can still move to
  // another transport, instead of behind a long queue here.
  mesh.own_queue_bytes = std::max<std::size_t>(96 * 1024, static_cast<std::size_t>(mesh.own_rate * 600 / 2));

  // The capability table's BitChat column. The node fragments records above 60 000 bytes; the mesh cuts each
  // into 469-byte BitChat fragments for a 512-byte link.
  auto base = router::Capabilities::bitchat_preset();
  base.mtu = 60'000;
  auto caps = apply_capability_options(base, context.options);
  if (!caps) return fail(caps.error());
  std::optional<BitChatTransport::RadioPlacement> radio;
  const auto link = schema.text(context.options, "link");
  if (link == "radio") {
    bitchat::RadioMediumOptions ro;
    ro.mtu = lan->mtu;
    auto range = schema.number(context.options, "radio_range", ro.range);
    auto loss = schema.number(context.options, "radio_loss", ro.loss);
    auto latency = schema.integer(context.options, "radio_latency_ms", ro.latency_ms);
    if (!range) return fail(range.error());
    if (!loss) return fail(loss.error());
    if (!latency) return fail(latency.error());
    ro.range = *range;
    ro.loss = *loss;
    ro.latency_ms = *latency;
    BitChatTransport::RadioPlacement place;
    const auto medium = schema.text(context.options, "radio_medium");
    place.medium = media->get(medium, ro);
    if (auto it = context.options.find("radio_position"); it != context.options.end()) {
      const auto comma = it->second.find(',');
      try {
        if (comma == std::string::npos) throw std::invalid_argument("no comma");
        place.x = std::stod(it->second.substr(0, comma));
        place.y = std::stod(it->second.substr(comma + 1));
      } catch (const std::exception&) {
        return fail("radio_position: 'x,y' (two numbers), got '" + it->second + "'");
      }
    }
    radio = place;
  } else if (link != "lan") {
    return fail("link: 'lan' or 'radio', got '" + link + "'");
  }
  return std::make_unique<BitChatTransport>(std::move(context), *caps, std::move(mesh), std::move(*lan),
                                            std::move(radio));
}

}  // namespace hyphae::transport
