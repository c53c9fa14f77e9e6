// WebRtcConnector: the streams of the "webrtc" transport. Signed in at a `hyphae signal` server
// (SignalClient), it dials a peer by sending it an SDP offer for one reliable, ordered data
// channel ("hyphae", protocol "p2p-messenger"), trickles ICE candidates, and hands the channel to
// the transport as a stream once it is open; offers from others are answered the same way. The
// Noise XX link then runs inside the channel exactly as over TCP, so the signaling server (which
// only vouches for who sent an offer) never sees or alters a message.
// Signaling payloads: OFFER and ANSWER {session, sdp}, ICE_CANDIDATE {session, candidate}, where
// `session` names one negotiation (16 random bytes, hex) and candidate "" ends the trickle.
// Glare (both sides offer at once): the side with the smaller PeerId keeps its offer, the other
// answers it. Bounds: negotiations in flight (max_negotiations; an offer past it evicts the oldest
// answer we are still negotiating), one per peer, and each must open its channel within
// negotiation_timeout_ms.
// Thread-safety: on the transport's strand. Ownership: owned by the MeshTransport; its
// PeerConnections' events hold only weak references.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "signaling/signal_client.hpp"
#include "transport/mesh/link_connector.hpp"
#include "transport/webrtc/rtc_channel.hpp"

namespace hyphae::rtc {

struct WebRtcOptions {
  signaling::SignalClientOptions signal;
  webrtc::PeerConnectionConfig connection;
  std::uint64_t negotiation_timeout_ms = 15'000;
  std::size_t max_negotiations = 32;
};

struct WebRtcCounters {
  std::uint64_t offers_sent = 0, offers_received = 0, answers_sent = 0, channels_opened = 0,
                negotiations_failed = 0, negotiations_evicted = 0, glare_yields = 0, ignored_signals = 0;
};

class WebRtcConnector final : public mesh::LinkConnector {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  WebRtcConnector(Strand strand, const Identity& identity, WebRtcOptions options,
                  std::shared_ptr<spdlog::logger> log);
  ~WebRtcConnector() override;

  std::string_view type() const override { return "webrtc"; }
  std::error_code start(Accepted accepted) override;
  void stop() override;
  bool valid_address(const std::string& address) const override;
  void dial(const PeerId& peer, const std::string& address, Dialed done) override;
  void tick(std::uint64_t now_ms) override;
  nlohmann::json status_json() const override;

  const WebRtcCounters& counters() const { return counters_; }

 private:
  struct Negotiation {
    std::string id;
    PeerId peer;
    bool offerer = false;
    bool answered = false;  // the offerer took the answer
    std::uint64_t started_ms = 0;
    std::shared_ptr<RtcChannel> channel;
    Dialed done;  // the offerer's dial
  };
  using NegotiationPtr = std::shared_ptr<Negotiation>;

  void on_signal(const nlohmann::json& message);
  void on_offer(const PeerId& from, const nlohmann::json& payload);
  // A PeerConnection and channel for a new negotiation (hooks wired); null on failure, with why.
  NegotiationPtr begin(const PeerId& peer, bool offerer, std::string id, std::string& why);
  void channel_opened(const NegotiationPtr& n, const webrtc::ChannelInfo& info);
  // Ends a negotiation that did not open its channel; an offerer's dial hears `why`.
  void fail(NegotiationPtr n, const std::string& why);  // by value: it erases the table's references
  NegotiationPtr by_session(const nlohmann::json& payload, const PeerId& from) const;
  void forget(const NegotiationPtr& n);
  std::uint64_t now_ms() const;

  Strand strand_;
  const Identity& identity_;
  WebRtcOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  signaling::SignalClient signal_;
  Accepted accepted_;
  bool running_ = false;
  std::unordered_map<std::string, NegotiationPtr> negotiations_;  // by session id
  std::unordered_map<PeerId, NegotiationPtr> by_peer_;
  WebRtcCounters counters_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace hyphae::rtc
