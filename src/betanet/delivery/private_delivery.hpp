// PrivateDelivery: end-to-end reliable delivery through the mixnet, sans-IO. The sender wraps each
// message in a Sphinx packet along a route of mixes ending at the recipient, with a single-use
// reply block (SURB) for the acknowledgement; the recipient delivers the message once (it keeps the
// ids it has seen), and answers with an ack through the SURB, which only the sender can read. A
// message not acknowledged in time goes again over a fresh route with a fresh SURB, after a delay
// drawn uniformly from [retry_min_ms, retry_max_ms] — never a fixed one, which would let an
// observer confirm a guess by watching for the retry.
//
// Body of a message packet (inside the 2048-byte Sphinx body):
//   0x01 | message id (16) | SURB (490) | length (u16 BE) | payload (at most kMaxPrivatePayload)
// Body of an ack (through the SURB):
//   0x02 | message id (16)
// Body of a loop cover packet (through mixes back to its sender, who drops it):
//   0x03 | random (16)
//
// Acknowledgements: with auto_acknowledge (the default) the recipient acks a message as it
// delivers it. Without it, the owner acks when it has taken the message for good (the node: after
// its store committed it) with acknowledge(); until then the message's reply block is held (at most
// max_held_acks, each for surb_lifetime_ms) and a retransmission is delivered again with its fresh
// reply block, so a message its owner did not take is offered again instead of suppressed. An
// acknowledged message is never delivered again: a retransmission of it is answered at once.
//
// Keys: one routing key per key epoch, added ahead and retired (wiped) as epochs pass, as mixes do.
// Bounds: outstanding messages (max_outstanding: send() refuses more), SURB secrets kept
// (one per attempt in flight; forgotten at ack, give-up or surb_lifetime_ms), ids remembered by
// the recipient (max_seen, oldest forgotten first), attempts per message (max_attempts, then the
// message is given up and reported).
// Thread-safety: none (one owner). Ownership: owns its routing key and SURB secrets.
#pragma once

#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "betanet/sphinx/sphinx.hpp"

namespace hyphae::betanet {

inline constexpr std::size_t kMessageIdBytes = 16;
inline constexpr std::size_t kMaxPrivatePayload =
    sphinx::kBodyBytes - 1 - kMessageIdBytes - sphinx::kSurbBytes - 2;  // 1539
using MessageId = std::array<std::uint8_t, kMessageIdBytes>;

struct PrivateDeliveryOptions {
  std::uint64_t retry_min_ms = 2'000, retry_max_ms = 6'000;
  std::uint32_t max_attempts = 8;
  std::size_t max_outstanding = 1024;
  std::size_t max_seen = 100'000;
  std::uint64_t surb_lifetime_ms = 120'000;
  bool auto_acknowledge = true;
  std::size_t max_held_acks = 4096;
};

struct PrivateCounters {
  std::uint64_t sent = 0, retransmitted = 0, acked = 0, given_up = 0, delivered = 0, duplicates = 0,
                acks_sent = 0, stale_acks = 0, unreadable = 0, no_route = 0, redelivered = 0,
                held_acks_dropped = 0, loops_sent = 0, loops_returned = 0;
};

// The hops of a route: `mixes` mixes (the route function may add more when the destination
// requires them) then the destination (the recipient for a message, this node for a SURB);
// nullopt when the topology has none.
using PrivateRouteFn =
    std::function<std::optional<std::vector<sphinx::Hop>>(const sphinx::NodeId& to, std::size_t mixes)>;

class PrivateDelivery {
 public:
  struct Outgoing {
    sphinx::NodeId first_hop;
    Bytes packet;
  };
  struct Delivered {
    MessageId id;
    Bytes payload;
  };
  struct Result {
    std::vector<Outgoing> packets;
    std::vector<Delivered> delivered;  // new messages for this node
    std::vector<MessageId> acked;      // our messages the recipient confirmed
    std::vector<MessageId> given_up;   // our messages that ran out of attempts
  };

  // `routing_key` is this node's key for key epoch `epoch`.
  PrivateDelivery(sphinx::NodeId self, std::uint64_t epoch, const sphinx::SecretKey& routing_key,
                  PrivateRouteFn route, PrivateDeliveryOptions options, std::uint64_t rng_seed);
  ~PrivateDelivery();

  // The routing key of another epoch (published ahead). Packets are tried with every key held,
  // newest first.
  void add_key(std::uint64_t epoch, const sphinx::SecretKey& routing_key);
  // Wipes (sodium_memzero) the keys of epochs before `epoch`: packets made for them no longer open.
  void retire_keys_before(std::uint64_t epoch);
  bool has_key(std::uint64_t epoch) const { return keys_.contains(epoch); }
  std::optional<sphinx::PublicKey> public_key(std::uint64_t epoch) const;
  // The newest key's public half.
  sphinx::PublicKey routing_public_key() const;
  // Sends over routes of `mixes` mixes (the first attempt goes out at once). Errors: payload too
  // large, too many outstanding, a repeated id; nullopt route attempts are retried like lost ones.
  std::expected<void, std::string> send(const MessageId& id, const sphinx::NodeId& to, ByteView payload,
                                        std::uint64_t now_ms, Result& out, std::size_t mixes = 3);
  bool in_flight(const MessageId& id) const { return pending_.contains(id); }
  // Without auto_acknowledge: the owner took message `id` for good. Its ack goes out through the
  // reply block held for it (false when none is held: a later retransmission is answered at once).
  bool acknowledge(const MessageId& id, Result& out);
  // Loop cover: a packet through `mixes` mixes back to this node, which drops it when it returns.
  // On a link it looks like any other packet. False when there is no route now.
  bool send_loop(std::size_t mixes, Result& out);
  std::size_t held_acks() const { return held_.size(); }
  // A packet that reached this node as its last hop.
  void on_packet(ByteView packet, std::uint64_t now_ms, Result& out);
  // Retransmissions and give-ups that are due.
  void tick(std::uint64_t now_ms, Result& out);
  std::optional<std::uint64_t> next_wakeup() const;

  std::size_t outstanding() const { return pending_.size(); }
  std::size_t surb_secrets() const { return surbs_.size(); }
  const PrivateCounters& counters() const { return counters_; }

 private:
  struct Pending {
    sphinx::NodeId to;
    Bytes payload;
    std::uint32_t attempts = 0;
    std::uint64_t retry_at_ms = 0;
    std::size_t mixes = 3;
  };
  struct HeldAck {
    sphinx::Surb surb;
    std::uint64_t expires_ms = 0;
  };
  struct SurbEntry {
    MessageId message;
    std::uint64_t expires_ms;
    std::unique_ptr<sphinx::SurbSecrets> secrets;
  };
  bool attempt(const MessageId& id, Pending& p, std::uint64_t now_ms, Result& out);
  void remember(const MessageId& id);
  void send_ack(const MessageId& id, const sphinx::Surb& surb, Result& out);
  void hold(const MessageId& id, const sphinx::Surb& surb, std::uint64_t now_ms);

  sphinx::NodeId self_;
  struct Key {
    sphinx::SecretKey secret{};
    sphinx::PublicKey public_key{};
    ~Key();
  };
  std::map<std::uint64_t, Key> keys_;
  PrivateRouteFn route_;
  PrivateDeliveryOptions options_;
  std::mt19937_64 rng_;
  std::map<MessageId, Pending> pending_;
  std::map<sphinx::SurbId, SurbEntry> surbs_;
  std::set<MessageId> seen_;  // acknowledged (or, with auto_acknowledge, delivered) messages
  std::deque<MessageId> seen_order_;
  std::map<MessageId, HeldAck> held_;  // delivered, waiting for acknowledge()
  std::deque<MessageId> held_order_;
  PrivateCounters counters_;
};

}  // namespace hyphae::betanet
