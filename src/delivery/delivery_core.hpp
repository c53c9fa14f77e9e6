// DeliveryCore: the sender's side of durable delivery as a state machine without I/O. It keeps the
// outbox in memory (a lane per priority per peer), decides which waiting message goes out over
// which transport, arms an ack deadline per (message, transport) when a copy is handed to the
// socket, fails a message over when its session is lost or its ack is overdue, retires it when the
// ack comes back and expires it when its TTL runs out.
//
// Inputs are events (add, session up/down, transmitted, acked, advance) and it reads the time from
// an injected Clock; outputs are the return values (routes to send on, delivered and failover
// reports, timed-out acks, expired messages). What it asks of the transports (is a session live,
// what route would the selector choose, how long may an ack take, is anything still unsent) goes
// through the Links interface, so tests drive it on a ManualClock with a scripted Links and never
// wait in real time. The node wires it to the real transports, the QoS queue and the store.
// Thread-safety: none; the node uses it on its strand. Ownership: it owns the in-memory outbox; the
// Links and the Clock must outlive it.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/bytes.hpp"
#include "core/clock.hpp"
#include "core/message_id.hpp"
#include "core/peer_id.hpp"
#include "router/selection.hpp"
#include "store/store.hpp"
#include "transport/transport_set.hpp"

namespace hyphae::delivery {

using transport::TransportIndex;
using transport::TransportSet;

// Which transports carry a message now: the primary (whose ack deadline is armed) and every one
// to send a copy on (redundancy), with the selection rule that decided.
struct Route {
  TransportIndex primary;
  TransportSet send;
  router::Reason why = router::Reason::none;
  bool ok() const { return primary.valid(); }
};

enum class FailoverCause : std::uint8_t { none = 0, session_lost = 1, ack_timeout = 2 };

// One durable message waiting for its ack (or delivered/failed, until the store has recorded it).
struct OutboundMessage {
  PeerId to;
  Bytes wire;  // record body as sent on a link
  bool sealed = false;
  store::OutboxState state = store::OutboxState::queued;
  std::uint64_t created_ms = 0, updated_ms = 0, expires_ms = 0;  // wall clock, as stored
  std::uint32_t attempts = 0;
  std::uint32_t stored_attempts = 0;          // what the store's row says (updates add the difference)
  std::uint64_t sent_session = 0;             // the session it was last handed to (0: none since a rewind)
  std::uint64_t first_sent_at = 0;            // monotonic: its first transmission
  std::vector<std::uint64_t> extra_sessions;  // redundant copies' sessions
  std::string reason;
  std::string preference;  // SendOptions::transport
  std::uint8_t redundancy = 1;
  std::uint8_t privacy = 0;    // SendOptions::privacy (router::Privacy's values)
  std::uint8_t mix_mode = 0;   // SendOptions::mix_mode (transport::RecordHints::mix_mode)
  TransportIndex via;          // the transport that carried it last
  std::uint8_t failovers = 0;  // times it moved to another transport
  TransportSet timed_out;      // transports whose ack timed out for it
  std::uint8_t priority = 2;
  router::Reason why = router::Reason::none;
  std::uint64_t qos_handle = 0;  // its item in the node's transmit queue (0: not queued there)
  std::uint32_t send_seq = 0;    // transmissions on a primary transport so far
  Route qos_route;               // the route chosen when it entered the transmit queue
  TransportIndex failed_from;    // the transport it last failed over from
  FailoverCause failover_cause = FailoverCause::none;

  bool pending() const { return state == store::OutboxState::queued || state == store::OutboxState::sent; }
  bool carried_on(std::uint64_t session) const;  // a copy already went out on this session
};

// What the core asks of the transports. The node answers from its live transports; tests script it.
class Links {
 public:
  virtual ~Links() = default;
  virtual std::uint64_t session(TransportIndex t, const PeerId& peer) const = 0;  // 0: none
  // The selector's choice for m now, leaving out `excluded`.
  virtual Route route(const PeerId& peer, const OutboundMessage& m, TransportSet excluded) = 0;
  virtual std::uint64_t ack_timeout_ms(TransportIndex t) const = 0;
  // Bytes handed to t for peer that have not reached the socket yet.
  virtual std::size_t unsent_bytes(TransportIndex t, const PeerId& peer) const = 0;
};

struct DeliverySettings {
  bool enable_failover = true;
  std::uint32_t max_retry_attempts = 3;        // failovers per message
  std::uint64_t failover_timeout_ms = 10'000;  // no failover this long after the first transmission
  // An ack deadline whose record is still queued behind unsent bytes is pushed back, at most to
  // this many ack timeouts after the transmission (a link that never drains still fails over).
  std::uint32_t max_socket_wait_timeouts = 4;
};

class DeliveryCore {
 public:
  DeliveryCore(Links& links, const Clock& clock, DeliverySettings settings);

  // ---- the outbox
  // A new message, or one reloaded from the store after a restart (state queued).
  void add(const MessageId& id, OutboundMessage m);
  OutboundMessage* find(const MessageId& id);
  const OutboundMessage* find(const MessageId& id) const;
  const std::unordered_map<MessageId, OutboundMessage>& messages() const { return outbox_; }
  std::size_t pending_count() const { return pending_count_; }
  std::size_t pending_bytes() const { return pending_bytes_; }
  bool has_pending(const PeerId& peer) const;
  std::size_t pending_for(const PeerId& peer) const;  // messages to peer not yet acknowledged
  void forget_peer(const PeerId& peer);               // its lanes (only when it has nothing pending)
  // A message that will never go out (its outbox write failed).
  void fail(const MessageId& id, std::string reason);
  // The store recorded its delivery: it leaves memory.
  void erase(const MessageId& id);
  // The message's bytes changed (signed and sealed before a relayed transmission).
  void replace_wire(OutboundMessage& m, Bytes wire);

  // ---- events from the links
  void session_up(TransportIndex t, const PeerId& peer);
  void session_down(TransportIndex t, const PeerId& peer, std::uint64_t session);
  void transport_unavailable(TransportIndex t);
  // Everything unacknowledged to peer is looked at again by the next visit_sendable.
  void rewind(const PeerId& peer);
  void rewind_all();

  // ---- choosing what to send
  enum class Visit { take, next_lane, stop };
  // Calls fn(id, message, route, priority) for each of peer's messages that needs a send now,
  // EMERGENCY lane first, oldest first. take: it is on its way (the cursor moves past it);
  // next_lane: leave it and the rest of its lane for later; stop: leave everything for later.
  template <class Fn>
  void visit_sendable(const PeerId& peer, Fn&& fn);

  // A copy of m went to the socket of transport t on `session` (primary: the route's primary).
  struct Transmitted {
    bool failed_over = false;  // it moved here from a transport that failed it
    TransportIndex from;       // that transport
    bool selection_changed = false;
  };
  Transmitted transmitted(const MessageId& id, OutboundMessage& m, TransportIndex t, std::uint64_t session,
                          bool primary, router::Reason why);

  // An ack for id came back from `from` over transport t. Empty when it is not ours to count (not
  // in the outbox, another recipient's, already delivered).
  struct Delivered {
    OutboundMessage* message;
    bool redundant = false;  // a redundant send: t's copy won
  };
  std::optional<Delivered> acked(const MessageId& id, const PeerId& from, TransportIndex t);

  // ---- time
  struct AckTimeout {
    MessageId id;
    PeerId peer;
    TransportIndex transport;
    bool failed_over;  // it goes out again over another transport
  };
  struct Due {
    std::vector<AckTimeout> timeouts;
    std::vector<PeerId> resend;      // peers with messages to send again (timed out and rerouted)
    std::vector<MessageId> expired;  // TTL ran out before the ack came: state failed
  };
  // Handles every deadline due by the clock's now.
  Due advance();
  // The monotonic time of the earliest armed ack deadline (max if none).
  std::uint64_t next_deadline() const;
  std::size_t armed_deadlines() const { return deadlines_.size(); }

 private:
  struct Lane {
    std::deque<MessageId> ids;  // send order within the lane; settled ids are popped lazily
    std::size_t cursor = 0;     // ids[0, cursor) were looked at since the last rewind
  };
  struct PeerLanes {
    std::array<Lane, 4> lanes;
  };
  struct Deadline {
    std::uint64_t due;  // monotonic
    MessageId id;
    std::uint64_t session;
    std::uint32_t send_seq;  // the transmission it was set for
    TransportIndex transport;
    std::uint64_t sent_at;
    friend bool operator>(const Deadline& a, const Deadline& b) { return a.due > b.due; }
  };

  void leave_pending(OutboundMessage& m);
  void drop_settled_front(Lane& lane);
  // The route to send m on now, or empty if it waits or a copy is already on its way.
  std::optional<Route> sendable_route(OutboundMessage& m, const PeerId& peer);
  bool needs_send(const OutboundMessage& m, const PeerId& peer, const Route& route) const;
  void handle_deadline(const Deadline& d, std::uint64_t now, Due& due);
  void expire(Due& due);

  Links& links_;
  const Clock& clock_;
  DeliverySettings settings_;
  std::unordered_map<MessageId, OutboundMessage> outbox_;
  std::unordered_map<PeerId, PeerLanes> lanes_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines_;
  std::size_t pending_count_ = 0, pending_bytes_ = 0;
  std::uint64_t next_expiry_ = std::numeric_limits<std::uint64_t>::max();  // wall clock
};

template <class Fn>
void DeliveryCore::visit_sendable(const PeerId& peer, Fn&& fn) {
  auto q = lanes_.find(peer);
  if (q == lanes_.end()) return;
  for (std::size_t p = 0; p < q->second.lanes.size(); ++p) {
    auto& lane = q->second.lanes[p];
    drop_settled_front(lane);
    for (; lane.cursor < lane.ids.size(); ++lane.cursor) {
      auto it = outbox_.find(lane.ids[lane.cursor]);
      if (it == outbox_.end()) continue;
      auto route = sendable_route(it->second, peer);
      if (!route) continue;
      const Visit v = fn(it->first, it->second, *route, static_cast<int>(p));
      if (v == Visit::next_lane) break;
      if (v == Visit::stop) return;
    }
  }
}

}  // namespace hyphae::delivery
