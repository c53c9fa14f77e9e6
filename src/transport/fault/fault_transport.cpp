// FaultTransport: fault injection over an inner transport (see the header).
#include "transport/fault/fault_transport.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/bind_executor.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace hyphae::transport {

namespace {
constexpr std::array<std::string_view, 5> kModeNames{"none", "slow", "lossy", "offline", "dead"};
}  // namespace

std::string_view to_string(FaultMode mode) noexcept {
  auto i = static_cast<std::size_t>(mode);
  return i < kModeNames.size() ? kModeNames[i] : "unknown";
}

std::optional<FaultMode> fault_mode_from_string(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kModeNames.size(); ++i)
    if (kModeNames[i] == text) return static_cast<FaultMode>(i);
  return std::nullopt;
}

FaultTransport::FaultTransport(std::unique_ptr<Transport> inner, TransportSink& sink, Strand strand)
    : inner_(std::move(inner)), sink_(sink), strand_(strand), timer_(strand) {}

FaultTransport::~FaultTransport() {
  *alive_ = false;
  // The inner transport goes first, while every member its last callbacks may reach is still here.
  inner_.reset();
}

std::unique_ptr<FaultTransport> FaultTransport::wrap(TransportSink& sink, Strand strand,
                                                     const InnerFactory& make_inner) {
  auto fault = std::make_unique<FaultTransport>(nullptr, sink, strand);
  fault->set_inner(make_inner(fault->as_sink()));
  return fault;
}

std::expected<std::unique_ptr<FaultTransport>, std::string> FaultTransport::make(
    const TransportRegistry& registry, std::string_view type, TransportContext context) {
  if (!context.sink) return std::unexpected("fault transport: the context has no sink");
  auto fault = std::make_unique<FaultTransport>(nullptr, *context.sink, context.strand);
  context.sink = &fault->as_sink();
  auto inner = registry.make(type, std::move(context));
  if (!inner) return std::unexpected(inner.error());
  fault->set_inner(std::move(*inner));
  return fault;
}

void FaultTransport::set_fault(Fault fault) {
  fault.loss = std::clamp(fault.loss >= 0 ? fault.loss : 0.0, 0.0, 1.0);  // NaN counts as 0
  const bool was_available = available();
  const bool was_dead = fault_.mode == FaultMode::dead;
  fault_ = fault;
  const bool now_available = available();
  if (was_available != now_available)
    sink_.on_availability(*this, now_available,
                          now_available ? std::string("fault cleared")
                                        : "fault injected: " + std::string(to_string(fault_.mode)));
  if (fault_.mode == FaultMode::dead && !was_dead)
    for (const auto& peer : inner_->peers_with_sessions())
      inner_->close(peer, {CloseCode::fault_injected, "dead"});
}

void FaultTransport::stop() {
  held_.clear();
  timer_.cancel();
  inner_->stop();
}

bool FaultTransport::available() const {
  return !cut() && inner_->available();
}

std::uint64_t FaultTransport::session(const PeerId& peer) const {
  if (cut()) return 0;
  const auto id = inner_->session(peer);
  return hidden(id) ? 0 : id;
}

std::error_code FaultTransport::send(const PeerId& peer, RecordKind kind, ByteView body) {
  const auto id = session(peer);
  if (id == 0) return Errc::no_link;
  if (fault_.mode == FaultMode::lossy && fault_.loss > 0 &&
      (fault_.loss >= 1 || std::uniform_real_distribution<double>(0, 1)(rng_) < fault_.loss)) {
    ++dropped_;
    return {};  // the link failure is silent
  }
  const bool hold = fault_.mode == FaultMode::slow && fault_.delay_ms > 0;
  if (!hold && held_.empty()) return inner_->send(peer, kind, body);
  // Held, or queued behind held records so that nothing overtakes them once the fault is lifted.
  auto due = std::chrono::steady_clock::now() + std::chrono::milliseconds(hold ? fault_.delay_ms : 0);
  if (!held_.empty()) due = std::max(due, held_.back().due);
  held_.push_back(Held{peer, id, kind, Bytes(body.begin(), body.end()), due});
  if (held_.size() == 1) arm();
  return {};
}

std::error_code FaultTransport::send_hinted(const PeerId& peer, RecordKind kind, ByteView body,
                                            const RecordHints& hints) {
  if (fault_.mode == FaultMode::none && held_.empty() && session(peer) != 0)
    return inner_->send_hinted(peer, kind, body, hints);
  return send(peer, kind, body);
}

void FaultTransport::arm() {
  timer_.expires_at(held_.front().due);
  timer_.async_wait(boost::asio::bind_executor(strand_, [this, alive = alive_](boost::system::error_code ec) {
    if (!*alive || ec) return;
    release();
  }));
}

void FaultTransport::release() {
  const auto now = std::chrono::steady_clock::now();
  while (!held_.empty() && held_.front().due <= now) {
    Held record = std::move(held_.front());
    held_.pop_front();
    if (session(record.peer) != record.session) {
      ++dropped_;  // the session changed or vanished (or the link went offline) meanwhile
      continue;
    }
    inner_->send(record.peer, record.kind, record.body);
  }
  if (!held_.empty()) arm();
}

std::size_t FaultTransport::backlog(const PeerId& peer) const {
  std::size_t bytes = inner_->backlog(peer);
  for (const auto& record : held_)
    if (record.peer == peer) bytes += record.body.size();
  return bytes;
}

std::optional<SessionInfo> FaultTransport::session_info(const PeerId& peer) const {
  if (session(peer) == 0) return std::nullopt;
  return inner_->session_info(peer);
}

std::vector<PeerId> FaultTransport::peers_with_sessions() const {
  if (cut()) return {};
  auto peers = inner_->peers_with_sessions();
  std::erase_if(peers, [&](const PeerId& peer) { return hidden(inner_->session(peer)); });
  return peers;
}

void FaultTransport::connect_soon(const PeerId& peer) {
  if (fault_.mode != FaultMode::dead) inner_->connect_soon(peer);
}

nlohmann::json FaultTransport::status_json() const {
  auto json = inner_->status_json();
  if (!json.is_object()) json = nlohmann::json{{"inner", std::move(json)}};
  json["available"] = available();
  json["fault"] = {{"mode", to_string(fault_.mode)},
                   {"delay_ms", fault_.delay_ms},
                   {"loss", fault_.loss},
                   {"dropped", dropped_},
                   {"held", held_.size()}};
  return json;
}

void FaultTransport::on_session_up(Transport&, const PeerId& peer, std::uint64_t session) {
  if (fault_.mode == FaultMode::dead) {
    hidden_.insert(session);  // before close(): the inner transport may report the down at once
    if (inner_) inner_->close(peer, {CloseCode::fault_injected, "dead"});
    return;
  }
  sink_.on_session_up(*this, peer, session);
}

void FaultTransport::on_session_down(Transport&, const PeerId& peer, std::uint64_t session,
                                     const CloseReason& reason) {
  if (hidden_.erase(session)) return;  // the node never heard it come up
  sink_.on_session_down(*this, peer, session, reason);
}

void FaultTransport::on_record(Transport&, const PeerId& peer, std::uint64_t session, RecordKind kind,
                               ByteView body) {
  if (cut() || hidden(session)) return;
  sink_.on_record(*this, peer, session, kind, body);
}

void FaultTransport::on_drained(Transport&, const PeerId& peer) {
  if (!cut()) sink_.on_drained(*this, peer);
}

void FaultTransport::on_availability(Transport&, bool available, const std::string& reason) {
  if (!cut()) sink_.on_availability(*this, available, reason);  // else the node already hears "down"
}

std::error_code FaultTransport::broadcast(std::string_view channel, ByteView payload) {
  if (cut()) return Errc::closed;
  return inner_->broadcast(channel, payload);
}

void FaultTransport::on_broadcast(Transport&, const BroadcastMessage& message) {
  if (!cut()) sink_.on_broadcast(*this, message);
}

bool FaultTransport::wants_session(Transport&, const PeerId& peer) {
  return fault_.mode != FaultMode::dead && sink_.wants_session(*this, peer);
}

}  // namespace hyphae::transport
