// Store-and-forward for the BitChat mesh, sans-IO (docs/bitchat.md, "Store-and-forward"):
//  - StoreForward: the sender's outbox of private messages per recipient — at most 100 per peer
//    for 24 h (configurable), resent each time the peer reappears, until its delivered ack (sent
//    inside Noise by the recipient) arrives or a message has been tried max_attempts times;
//  - RelaySpool: a relay's short hold of directed packets whose recipient is not reachable now —
//    kept 60 s, offered again every 5 s and as soon as the recipient appears, within memory caps.
// Both hold opaque bytes (the caller's plaintext or frame) and never touch a clock or socket.
// Thread-safety: none; one owner. Ownership: owns copies of what it holds.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bitchat/packet.hpp"

namespace hyphae::bitchat {

struct HeldMessage {
  std::string message_id;
  Bytes payload;
  std::uint64_t held_since_ms = 0;
  std::uint32_t attempts = 0;  // times handed out by due()
};

class StoreForward {
 public:
  struct Options {
    std::size_t per_peer = 100;
    std::uint64_t ttl_ms = 24ull * 3600 * 1000;
    std::uint32_t max_attempts = 8;
  };
  explicit StoreForward(Options options) : options_(options) {}
  StoreForward() : StoreForward(Options{}) {}

  // Holds a message for `peer`. With the peer's queue full, its oldest message is dropped and its
  // id returned (the caller reports it as failed). A repeated id replaces nothing and returns nullopt.
  std::optional<std::string> hold(const ShortId& peer, std::string message_id, Bytes payload,
                                  std::uint64_t now_ms);
  // The peer is reachable: every message still held for it, oldest first, each counted as an
  // attempt. Messages past max_attempts are dropped first (their ids go to `gave_up`).
  std::vector<HeldMessage> due(const ShortId& peer, std::uint64_t now_ms,
                               std::vector<std::string>* gave_up = nullptr);
  // The recipient's delivered ack: forget the message. False if it was not held.
  bool delivered(const ShortId& peer, const std::string& message_id);
  // Drops messages older than ttl_ms; returns their ids.
  std::vector<std::string> expire(std::uint64_t now_ms);

  std::size_t held(const ShortId& peer) const;
  std::size_t total() const;

 private:
  Options options_;
  std::map<ShortId, std::deque<HeldMessage>> queues_;
};

class RelaySpool {
 public:
  struct Options {
    std::uint64_t hold_ms = 60'000;
    std::uint64_t retry_ms = 5'000;
    std::size_t max_packets = 256;
    std::size_t max_bytes = 1u << 20;
  };
  explicit RelaySpool(Options options) : options_(options) {}
  RelaySpool() : RelaySpool(Options{}) {}

  // Holds a frame for `recipient`; false (nothing held) beyond the caps, after dropping expired ones.
  bool hold(const ShortId& recipient, Bytes frame, std::uint64_t now_ms);
  // The recipient appeared: its frames, oldest first, taken out of the spool.
  std::vector<Bytes> take(const ShortId& recipient);
  // Frames whose retry time has come (each stays held until it expires or is taken).
  std::vector<std::pair<ShortId, Bytes>> retry_due(std::uint64_t now_ms);
  // Copies of every frame held, oldest first (nothing changes): to offer them on a new link.
  std::vector<Bytes> held_frames() const;
  std::size_t expire(std::uint64_t now_ms);
  std::size_t size() const { return entries_.size(); }
  std::size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    ShortId recipient;
    Bytes frame;
    std::uint64_t held_ms;
    std::uint64_t next_retry_ms;
  };
  Options options_;
  std::deque<Entry> entries_;  // oldest first
  std::size_t bytes_ = 0;
};

}  // namespace hyphae::bitchat
