// WebRtcConnector: offers, answers, trickled candidates and channel hand-over (see the header).
#include "transport/webrtc/webrtc_connector.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "core/error.hpp"
#include "core/identity.hpp"
#include "core/ws_address.hpp"

namespace hyphae::rtc {

namespace asio = boost::asio;

namespace {

std::string new_session_id() {
  std::array<std::uint8_t, 16> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  return to_hex(ByteView(bytes.data(), bytes.size()));
}

bool valid_session_id(const std::string& id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string text_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

WebRtcConnector::WebRtcConnector(Strand strand, const Identity& identity, WebRtcOptions options,
                                 std::shared_ptr<spdlog::logger> log)
    : strand_(strand),
      identity_(identity),
      options_(std::move(options)),
      log_(std::move(log)),
      signal_(strand, identity, options_.signal,
              signaling::SignalClientCallbacks{
                  .on_ready = {},
                  .on_message = [this](const nlohmann::json& m) { on_signal(m); },
                  .on_down = {},
              },
              log_) {}

WebRtcConnector::~WebRtcConnector() {
  stop();
  *alive_ = false;
}

std::uint64_t WebRtcConnector::now_ms() const {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

std::error_code WebRtcConnector::start(Accepted accepted) {
  accepted_ = std::move(accepted);
  running_ = true;
  signal_.start();
  return {};
}

void WebRtcConnector::stop() {
  if (!running_) return;
  running_ = false;
  signal_.stop();
  auto all = negotiations_;
  for (auto& [id, n] : all) {
    n->done = nullptr;  // a stopped connector calls no dial back
    fail(n, "the transport stopped");
  }
}

bool WebRtcConnector::valid_address(const std::string& address) const {
  if (ws::parse_webrtc_star_address(address)) return true;
  auto url = ws::parse_ws_address(address);  // the signaling server itself, named explicitly
  return url && !url->tls;
}

void WebRtcConnector::dial(const PeerId& peer, const std::string& address, Dialed done) {
  auto refuse = [&](std::string why) {
    asio::post(strand_, [alive = alive_, done = std::move(done), why = std::move(why)] {
      if (*alive) done(nullptr, why);
    });
  };
  if (!running_) return refuse("the transport stopped");
  if (!signal_.ready()) return refuse("not signed in at the signaling server");
  if (by_peer_.contains(peer)) return refuse("a negotiation with the peer is running");
  if (negotiations_.size() >= options_.max_negotiations) return refuse("too many negotiations in flight");
  if (auto server = ws::parse_webrtc_star_address(address);
      server && (server->port != options_.signal.port || server->host != options_.signal.host))
    log_->debug("webrtc: {} is at signaling server {}:{}; offering through ours", peer.to_string(),
                server->host, server->port);
  std::string why;
  auto n = begin(peer, true, new_session_id(), why);
  if (!n) return refuse(why);
  n->done = std::move(done);
  auto channel =
      n->channel->pc->open_channel(std::string(kLinkChannelLabel), std::string(kLinkChannelProtocol));
  // Real-time records beside it, on the messenger's configuration (a peer that refuses it, as
  // browsers do, leaves everything on the link's channel).
  if (channel)
    (void)n->channel->pc->open_channel(std::string(kDatagramChannelLabel), std::string(kLinkChannelProtocol),
                                       true, kDatagramMaxRetransmits);
  auto offer = channel ? n->channel->pc->create_offer()
                       : std::expected<std::string, std::error_code>(std::unexpected(channel.error()));
  if (!offer) return fail(n, "cannot make an offer: " + offer.error().message());
  if (auto ec = signal_.send("OFFER", peer, {{"session", n->id}, {"sdp", *offer}}))
    return fail(n, "cannot send the offer: " + ec.message());
  ++counters_.offers_sent;
}

WebRtcConnector::NegotiationPtr WebRtcConnector::begin(const PeerId& peer, bool offerer, std::string id,
                                                       std::string& why) {
  auto n = std::make_shared<Negotiation>();
  n->id = std::move(id);
  n->peer = peer;
  n->offerer = offerer;
  n->started_ms = now_ms();
  n->channel = std::make_shared<RtcChannel>(strand_);
  auto config = options_.connection;
  config.connect_timeout = std::chrono::milliseconds(options_.negotiation_timeout_ms);
  auto pc = webrtc::PeerConnection::create(config, n->channel->callbacks(), n->channel->poster());
  if (!pc) {
    why = "cannot make a PeerConnection: " + pc.error().message();
    return nullptr;
  }
  n->channel->pc = std::move(*pc);
  std::weak_ptr<Negotiation> weak = n;
  n->channel->on_candidate = [this, weak](std::string candidate) {
    auto self = weak.lock();
    if (!self || !running_) return;
    // A lost candidate costs one path; the others and the peer's still connect.
    signal_.send("ICE_CANDIDATE", self->peer, {{"session", self->id}, {"candidate", std::move(candidate)}});
  };
  n->channel->on_open = [this, weak](const webrtc::ChannelInfo& info) {
    if (auto self = weak.lock()) channel_opened(self, info);
  };
  n->channel->on_failed = [this, weak](std::string reason) {
    if (auto self = weak.lock()) fail(self, reason);
  };
  negotiations_[n->id] = n;
  by_peer_[peer] = n;
  return n;
}

void WebRtcConnector::channel_opened(const NegotiationPtr& n, const webrtc::ChannelInfo& info) {
  if (!negotiations_.contains(n->id)) return;
  auto& channel = *n->channel;
  if (info.label != kLinkChannelLabel || info.remote != !n->offerer) {
    log_->debug("webrtc: {} opened channel '{}': not a link channel, closed", n->peer.to_string(),
                info.label);
    channel.pc->close_channel(info.id);
    return;
  }
  channel.channel = info.id;
  channel.channel_open = true;
  channel.on_candidate = nullptr;
  channel.on_open = nullptr;
  channel.on_failed = nullptr;
  forget(n);
  ++counters_.channels_opened;
  log_->info("webrtc: data channel to {} open ({}, {} ms)", n->peer.to_string(),
             n->offerer ? "our offer" : "their offer", now_ms() - n->started_ms);
  auto stream = make_channel_stream(n->channel, "webrtc:" + n->id.substr(0, 8));
  if (n->offerer) {
    if (auto done = std::move(n->done)) done(std::move(stream), {});
  } else if (accepted_) {
    accepted_(std::move(stream), n->peer);
  }
}

void WebRtcConnector::forget(const NegotiationPtr& n) {
  negotiations_.erase(n->id);
  if (auto it = by_peer_.find(n->peer); it != by_peer_.end() && it->second == n) by_peer_.erase(it);
}

void WebRtcConnector::fail(NegotiationPtr n, const std::string& why) {
  if (!negotiations_.contains(n->id)) return;
  forget(n);
  ++counters_.negotiations_failed;
  n->channel->on_failed = nullptr;
  n->channel->close(why);
  log_->debug("webrtc: negotiation with {} failed: {}", n->peer.to_string(), why);
  if (auto done = std::move(n->done)) done(nullptr, why);
}

WebRtcConnector::NegotiationPtr WebRtcConnector::by_session(const nlohmann::json& payload,
                                                            const PeerId& from) const {
  auto it = negotiations_.find(text_field(payload, "session"));
  if (it == negotiations_.end() || it->second->peer != from) return nullptr;
  return it->second;
}

void WebRtcConnector::on_signal(const nlohmann::json& message) {
  if (!running_) return;
  const auto type = text_field(message, "type");
  if (type == "ERROR") {
    // An offer to a device that is not at the server fails its dial now rather than at the timeout.
    auto to = PeerId::from_string(text_field(message, "to"));
    if (text_field(message, "ref") == "OFFER" && to)
      if (auto it = by_peer_.find(*to); it != by_peer_.end() && it->second->offerer) {
        const auto n = it->second;  // a copy: fail() erases the map entry
        fail(n, "the peer is not at the signaling server");
      }
    return;
  }
  auto from = PeerId::from_string(text_field(message, "from"));
  if (!from || *from == identity_.peer_id()) {
    ++counters_.ignored_signals;
    return;
  }
  const auto& payload = message.contains("payload") ? message["payload"] : nlohmann::json();
  if (type == "OFFER") return on_offer(*from, payload);
  auto n = by_session(payload, *from);
  if (!n) {
    ++counters_.ignored_signals;  // a late or stray message: its negotiation is over
    return;
  }
  if (type == "ANSWER") {
    if (!n->offerer || n->answered) {
      ++counters_.ignored_signals;
      return;
    }
    n->answered = true;
    if (auto ok = n->channel->pc->accept_answer(text_field(payload, "sdp")); !ok)
      fail(n, "a bad answer: " + ok.error().message());
  } else if (type == "ICE_CANDIDATE") {
    if (!payload.is_object() || !payload.contains("candidate") || !payload["candidate"].is_string()) {
      ++counters_.ignored_signals;
      return;
    }
    // Malformed, TCP, mDNS or surplus candidates are refused one by one; the rest still connect.
    if (auto ok = n->channel->pc->add_remote_candidate(payload["candidate"].get<std::string>()); !ok)
      ++counters_.ignored_signals;
  } else {
    ++counters_.ignored_signals;
  }
}

void WebRtcConnector::on_offer(const PeerId& from, const nlohmann::json& payload) {
  ++counters_.offers_received;
  const auto session = text_field(payload, "session");
  const auto sdp = text_field(payload, "sdp");
  if (!valid_session_id(session) || sdp.empty() || negotiations_.contains(session)) {
    ++counters_.ignored_signals;
    return;
  }
  if (auto it = by_peer_.find(from); it != by_peer_.end()) {
    auto existing = it->second;
    if (existing->offerer && identity_.peer_id() < from) {
      ++counters_.ignored_signals;  // glare: ours stands, the peer answers it
      return;
    }
    if (existing->offerer) ++counters_.glare_yields;
    fail(existing,
         existing->offerer ? "glare: answering the peer's offer instead" : "replaced by a newer offer");
  }
  if (negotiations_.size() >= options_.max_negotiations) {
    // Full: the oldest answer still negotiating makes room (our own dials are left alone), so a
    // flood of offers that never connect delays a real one by at most the timeout.
    NegotiationPtr oldest;
    for (const auto& [id, n] : negotiations_)
      if (!n->offerer && (!oldest || n->started_ms < oldest->started_ms)) oldest = n;
    if (!oldest) {
      ++counters_.ignored_signals;
      return;
    }
    ++counters_.negotiations_evicted;
    fail(oldest, "evicted: too many negotiations in flight");
  }
  std::string why;
  auto n = begin(from, false, session, why);
  if (!n) {
    log_->warn("webrtc: cannot answer {}: {}", from.to_string(), why);
    return;
  }
  auto answer = n->channel->pc->accept_offer(sdp);
  if (!answer) return fail(n, "a bad offer: " + answer.error().message());
  if (auto ec = signal_.send("ANSWER", from, {{"session", session}, {"sdp", *answer}}))
    return fail(n, "cannot send the answer: " + ec.message());
  ++counters_.answers_sent;
}

void WebRtcConnector::tick(std::uint64_t) {
  const auto now = now_ms();
  std::vector<NegotiationPtr> expired;
  for (const auto& [id, n] : negotiations_)
    if (now - n->started_ms > options_.negotiation_timeout_ms) expired.push_back(n);
  for (const auto& n : expired)
    fail(n, "no data channel within " + std::to_string(options_.negotiation_timeout_ms) + " ms");
}

nlohmann::json WebRtcConnector::status_json() const {
  const auto& c = counters_;
  return {{"signaling", signal_.status_json()},
          {"negotiations", negotiations_.size()},
          {"max_negotiations", options_.max_negotiations},
          {"offers_sent", c.offers_sent},
          {"offers_received", c.offers_received},
          {"answers_sent", c.answers_sent},
          {"channels_opened", c.channels_opened},
          {"negotiations_failed", c.negotiations_failed},
          {"negotiations_evicted", c.negotiations_evicted},
          {"glare_yields", c.glare_yields},
          {"ignored_signals", c.ignored_signals}};
}

}  // namespace hyphae::rtc
