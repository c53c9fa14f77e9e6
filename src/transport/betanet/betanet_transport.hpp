// BetanetTransport (type "betanet"): the node's privacy transport. Records travel as private
// messages through the mixnet (MixnetEndpoint): each in its own fixed-size Sphinx packet along a
// route of mixes the VRF picks, with a single-use reply block for its acknowledgement.
//
// Sessions are virtual: a peer has one while the mix directory's topology lists it as an endpoint
// and the node wants it (or the peer wrote to this node). Nothing ends at the peer itself — the
// first hop is a mix — so `authenticated_sessions` is false: the node signs and seals its
// envelopes, and this transport signs each record (betanet_record.hpp) so the recipient learns
// and can check the sender, which the mixes never see.
//
// Acknowledgements: a durable message's private id is its envelope id. The recipient holds the
// message's reply block until its node has committed the message and acks it; that ack then goes
// back through the reply block (the sender's outbox sees an ordinary ack record). Acks for which
// no reply block is held go as a record of their own. Every other record is acknowledged by the
// transport on arrival. A resend of a message still in flight is absorbed: the mixnet's own
// retransmissions (random delays, fresh routes) carry it.
// Broadcasts go as one private message per endpoint of the topology.
// Thread-safety: everything on the node's strand (the endpoint shares it). Ownership: owned by the
// node; owns its endpoint.
#pragma once

#include <spdlog/logger.h>

#include <map>
#include <memory>
#include <set>

#include "betanet/endpoint/mixnet_endpoint.hpp"
#include "transport/transport.hpp"

namespace hyphae::transport {

class BetanetTransport final : public Transport {
 public:
  static constexpr std::string_view kType = "betanet";
  // Peers kept (with or without a session); the least recently used without one goes first.
  static constexpr std::size_t kMaxPeers = 4096;

  static std::expected<std::unique_ptr<Transport>, std::string> make(TransportContext context);
  ~BetanetTransport() override;

  std::string_view name() const override { return context_.name; }
  std::string_view type() const override { return kType; }
  const router::Capabilities& capabilities() const override { return caps_; }
  std::error_code start() override;
  void stop() override;
  bool available() const override { return available_; }
  std::uint64_t session(const PeerId& peer) const override;
  std::error_code send(const PeerId& peer, RecordKind kind, ByteView body) override;
  std::error_code send_hinted(const PeerId& peer, RecordKind kind, ByteView body,
                              const RecordHints& hints) override;
  std::size_t backlog(const PeerId&) const override { return 0; }
  void close(const PeerId& peer, const CloseReason& reason) override;
  std::optional<SessionInfo> session_info(const PeerId& peer) const override;
  std::vector<PeerId> peers_with_sessions() const override;
  // No address is needed (the mix directory lists the peer's endpoint): any address is accepted
  // as a wish to reach the peer here.
  std::error_code add_addresses(const PeerId& peer, const std::vector<std::string>& addresses) override;
  void connect_soon(const PeerId& peer) override;
  void tick(std::uint64_t now_ms) override;
  std::error_code broadcast(std::string_view channel, ByteView payload) override;
  std::uint16_t listen_port() const override { return 0; }
  nlohmann::json status_json() const override;

  struct Counters {
    std::uint64_t records_sent = 0, records_received = 0, rejected = 0, resends_absorbed = 0,
                  acks_by_reply_block = 0, acks_as_records = 0, broadcasts_sent = 0, broadcasts_received = 0,
                  given_up = 0;
  };

 private:
  struct PeerState {
    std::uint64_t session = 0;
    std::uint64_t opened_ms = 0, last_used_ms = 0;
    std::uint64_t bytes_in = 0, bytes_out = 0, records_in = 0, records_out = 0;
    bool refused = false;  // a send met backpressure: on_drained when room frees up
  };
  BetanetTransport(TransportContext context, router::Capabilities caps,
                   betanet::MixnetEndpointOptions options, std::uint8_t default_mode);
  std::error_code send_private(const PeerId& peer, std::uint8_t kind, ByteView body, std::size_t mixes,
                               const std::optional<betanet::MessageId>& id);
  std::size_t mixes_for(std::uint8_t mix_mode) const;
  PeerState& remember(const PeerId& peer);
  void open_session(const PeerId& peer);
  void check_topology();
  void on_delivered(const betanet::MessageId& id, Bytes payload);
  void on_acked(const betanet::MessageId& id);
  void on_given_up(const betanet::MessageId& id);
  void wake_refused();
  std::uint64_t now() const;

  TransportContext context_;
  router::Capabilities caps_;
  betanet::MixnetEndpointOptions options_;
  std::uint8_t default_mode_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<betanet::MixnetEndpoint> endpoint_;
  std::map<PeerId, PeerState> peers_;
  std::map<betanet::MessageId, PeerId> awaiting_ack_;  // durable messages in flight, by envelope id
  SessionIds own_ids_;
  Counters counters_;
  std::uint64_t last_check_ms_ = 0;
  bool running_ = false, available_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace hyphae::transport
