// FaultTransport: a decorator over a real Transport that injects faults at run time, so tests and
// the failover benchmark can make a link slow (records held delay_ms), lossy (records dropped with
// probability `loss`; 1 is a silent blackhole), offline (unavailable, inbound dropped, sessions kept)
// or dead (offline, and every session of the inner transport closed and kept closed). With no fault
// it is a pass-through. The node's sink always hears the decorator, never the inner transport.
// Construction is two-step, since the inner transport needs the decorator as its sink: build the
// decorator (inner may be null), make the inner transport with as_sink(), then set_inner(); or use
// wrap() / make(), which do exactly that.
// Thread-safety: everything runs on the strand given at construction (the node's), like any
// transport. Ownership: owns the inner transport; the node's sink outlives it.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <random>
#include <set>

#include "transport/transport.hpp"

namespace hyphae::transport {

enum class FaultMode : std::uint8_t { none, slow, lossy, offline, dead };

// The overload below would hide hyphae::to_string(ByteView) from code in this namespace.
using hyphae::to_string;

std::string_view to_string(FaultMode mode) noexcept;  // "none" | "slow" | "lossy" | "offline" | "dead"
std::optional<FaultMode> fault_mode_from_string(std::string_view text) noexcept;

struct Fault {
  FaultMode mode = FaultMode::none;
  std::uint64_t delay_ms = 0;  // slow: how long each outbound record is held
  double loss = 0;             // lossy: probability in [0, 1] that an outbound record is dropped
};

class FaultTransport final : public Transport, private TransportSink {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  using InnerFactory = std::function<std::unique_ptr<Transport>(TransportSink& sink)>;

  // `inner` must have been made with as_sink() of this object as its sink; it may be null, then
  // set_inner() must be called before any Transport method.
  FaultTransport(std::unique_ptr<Transport> inner, TransportSink& sink, Strand strand);
  ~FaultTransport() override;

  // The decorator, built around what `make_inner` returns when given the decorator's sink side.
  static std::unique_ptr<FaultTransport> wrap(TransportSink& sink, Strand strand,
                                              const InnerFactory& make_inner);
  // Same, with the inner transport of `type` made by `registry` from `context` (its sink replaced).
  static std::expected<std::unique_ptr<FaultTransport>, std::string> make(const TransportRegistry& registry,
                                                                          std::string_view type,
                                                                          TransportContext context);

  // The sink the inner transport must be given.
  TransportSink& as_sink() { return *this; }
  void set_inner(std::unique_ptr<Transport> inner) { inner_ = std::move(inner); }
  Transport* inner() const { return inner_.get(); }

  // Takes effect at once: offline/dead report unavailability (and dead closes every session); leaving
  // them reports availability again. `loss` is clamped to [0, 1].
  void set_fault(Fault fault);
  Fault fault() const { return fault_; }
  void set_seed(std::uint64_t seed) { rng_.seed(seed); }  // the lossy mode's random draws
  std::uint64_t dropped_records() const { return dropped_; }

  std::string_view name() const override { return inner_->name(); }
  std::string_view type() const override { return inner_->type(); }
  const router::Capabilities& capabilities() const override { return inner_->capabilities(); }
  std::error_code start() override { return inner_->start(); }
  void stop() override;
  bool available() const override;
  std::uint64_t session(const PeerId& peer) const override;
  std::error_code send(const PeerId& peer, RecordKind kind, ByteView body) override;
  // Hints reach the inner transport while no fault holds records back.
  std::error_code send_hinted(const PeerId& peer, RecordKind kind, ByteView body,
                              const RecordHints& hints) override;
  std::size_t backlog(const PeerId& peer) const override;  // inner's plus records held by slow
  // Only the inner transport's: a record the fault holds back stands for one on the wire.
  std::size_t unsent_bytes(const PeerId& peer) const override { return inner_->unsent_bytes(peer); }
  void close(const PeerId& peer, const CloseReason& reason) override { inner_->close(peer, reason); }
  void pause_receiving(const PeerId& peer, bool paused) override { inner_->pause_receiving(peer, paused); }
  std::optional<SessionInfo> session_info(const PeerId& peer) const override;
  std::vector<PeerId> peers_with_sessions() const override;
  std::error_code add_addresses(const PeerId& peer, const std::vector<std::string>& addresses) override {
    return inner_->add_addresses(peer, addresses);
  }
  void connect_soon(const PeerId& peer) override;
  std::error_code punch(const PeerId& peer, const std::string& address) override {
    return inner_->punch(peer, address);
  }
  void set_keepalive_interval(std::uint64_t ms) override { inner_->set_keepalive_interval(ms); }
  void tick(std::uint64_t now_ms) override { inner_->tick(now_ms); }
  std::uint16_t listen_port() const override { return inner_->listen_port(); }
  std::error_code broadcast(std::string_view channel, ByteView payload) override;
  nlohmann::json status_json() const override;  // inner's, "available" as seen here, plus "fault"

 private:
  struct Held {  // an outbound record waiting for its time (slow), or behind one that is
    PeerId peer;
    std::uint64_t session = 0;
    RecordKind kind = RecordKind::data;
    Bytes body;
    std::chrono::steady_clock::time_point due;
  };

  bool cut() const { return fault_.mode == FaultMode::offline || fault_.mode == FaultMode::dead; }
  bool hidden(std::uint64_t session) const { return hidden_.contains(session); }
  void arm();
  void release();

  void on_session_up(Transport& transport, const PeerId& peer, std::uint64_t session) override;
  void on_session_down(Transport& transport, const PeerId& peer, std::uint64_t session,
                       const CloseReason& reason) override;
  void on_record(Transport& transport, const PeerId& peer, std::uint64_t session, RecordKind kind,
                 ByteView body) override;
  void on_drained(Transport& transport, const PeerId& peer) override;
  void on_availability(Transport& transport, bool available, const std::string& reason) override;
  bool wants_session(Transport& transport, const PeerId& peer) override;
  void on_broadcast(Transport& transport, const BroadcastMessage& message) override;

  std::unique_ptr<Transport> inner_;
  TransportSink& sink_;
  Strand strand_;
  Fault fault_;
  std::mt19937_64 rng_{0x4879706861650001ull};
  std::uint64_t dropped_ = 0;
  std::deque<Held> held_;
  boost::asio::steady_timer timer_;
  std::set<std::uint64_t> hidden_;  // sessions that came up while dead: closed, never reported
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false once destroyed
};

}  // namespace hyphae::transport
