// RecordingTransport: a transport test double for the node logic above the transport layer. The
// test raises and closes sessions itself, hands the node records as if a peer had sent them, and
// reads back every record the node sent (up to max_sent). No sockets, no clock.
// Not thread-safe: it lives on the node's strand, like any transport. Owned by the node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "core/peer_id.hpp"
#include "transport/transport.hpp"

namespace hyphae::testing {

class RecordingTransport : public transport::Transport {
 public:
  struct Sent {
    PeerId peer;
    transport::RecordKind kind;
    Bytes body;
    std::uint64_t session;
  };

  // `ids`: the node's session id source (TransportContext::session_ids); null: its own.
  RecordingTransport(std::string name, std::string type, router::Capabilities caps,
                     transport::TransportSink* sink, transport::SessionIds* ids,
                     std::size_t max_sent = std::numeric_limits<std::size_t>::max())
      : name_(std::move(name)),
        type_(std::move(type)),
        caps_(caps),
        sink_(sink),
        ids_(ids),
        max_sent_(max_sent) {}

  bool up = true;                            // available()
  std::map<PeerId, std::uint64_t> sessions;  // live sessions by peer
  std::map<PeerId, std::size_t> backlogs;    // backlog() of a peer with a session
  std::map<PeerId, bool> receive_paused;     // the node's last pause_receiving() per peer
  std::vector<Sent> sent;                    // records the node sent, oldest first

  std::string_view name() const override { return name_; }
  std::string_view type() const override { return type_; }
  const router::Capabilities& capabilities() const override { return caps_; }
  std::error_code start() override { return {}; }
  void stop() override {
    while (!sessions.empty()) close(sessions.begin()->first, transport::CloseCode::stopping);
  }
  bool available() const override { return up; }
  std::uint64_t session(const PeerId& p) const override {
    auto it = sessions.find(p);
    return it == sessions.end() ? 0 : it->second;
  }
  std::error_code send(const PeerId& p, transport::RecordKind k, ByteView b) override {
    auto s = session(p);
    if (!s) return hyphae::Errc::no_link;
    if (sent.size() < max_sent_) sent.push_back({p, k, Bytes(b.begin(), b.end()), s});
    return {};
  }
  std::size_t backlog(const PeerId& p) const override {
    auto it = backlogs.find(p);
    return session(p) && it != backlogs.end() ? it->second : 0;
  }
  void close(const PeerId& peer, const transport::CloseReason& reason) override {
    const PeerId p = peer;  // the caller's reference may be the map key erased below
    auto it = sessions.find(p);
    if (it == sessions.end()) return;
    auto id = it->second;
    sessions.erase(it);
    sink_->on_session_down(*this, p, id, reason);
  }
  void pause_receiving(const PeerId& p, bool paused) override { receive_paused[p] = paused; }
  std::optional<transport::SessionInfo> session_info(const PeerId& p) const override {
    if (!session(p)) return std::nullopt;
    transport::SessionInfo i;
    i.id = session(p);
    return i;
  }
  std::vector<PeerId> peers_with_sessions() const override {
    std::vector<PeerId> out;
    for (const auto& [p, s] : sessions) out.push_back(p);
    return out;
  }
  std::error_code add_addresses(const PeerId&, const std::vector<std::string>&) override { return {}; }
  void connect_soon(const PeerId&) override {}
  void tick(std::uint64_t) override {}
  std::uint16_t listen_port() const override { return 0; }
  nlohmann::json status_json() const override { return {{"name", name_}, {"available", up}}; }

  transport::TransportSink& sink() const { return *sink_; }

  // A new session to `p` (its id is returned), as if the peer had connected.
  std::uint64_t raise(const PeerId& p) {
    auto id = ids_ ? ids_->next() : own_ids_.next();
    sessions[p] = id;
    sink_->on_session_up(*this, p, id);
    return id;
  }
  // A record from `p`; a closed session comes back first, as the peer redials.
  void deliver(const PeerId& p, transport::RecordKind kind, ByteView body) {
    if (!session(p)) raise(p);
    sink_->on_record(*this, p, session(p), kind, body);
  }
  // Data records the node sent to `p`.
  std::size_t data_to(const PeerId& p) const {
    std::size_t n = 0;
    for (const auto& s : sent)
      if (s.peer == p && s.kind == transport::RecordKind::data) ++n;
    return n;
  }

 private:
  std::string name_, type_;
  router::Capabilities caps_;
  transport::TransportSink* sink_;
  transport::SessionIds* ids_;
  transport::SessionIds own_ids_;
  std::size_t max_sent_;
};

}  // namespace hyphae::testing
