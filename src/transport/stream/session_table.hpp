// SessionTable: the bookkeeping every stream transport (TCP today; QUIC, WebSocket and the libp2p
// wire later) needs around its links, without I/O: which addresses a peer has (tried in turn),
// when to dial it next (exponential backoff, reset by a link that comes up or by a close for
// idleness), which of two simultaneous links to keep (the one dialed by the smaller PeerId, so both
// ends keep the same one), and when to forget a peer that dialed in and left.
// Time comes in as `now` (monotonic ms); links are named by ids the transport chooses.
// Thread-safety: none; the owning transport uses it on its strand. Ownership: plain values.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/peer_id.hpp"

namespace hyphae::stream {

class SessionTable {
 public:
  using LinkId = std::uint64_t;
  struct Options {
    std::uint64_t reconnect_min_ms = 100;
    std::uint64_t reconnect_max_ms = 5000;
  };
  explicit SessionTable(Options options) : options_(options) {}

  // Addresses to dial the peer at (duplicates ignored; the transport has checked their syntax).
  void add_addresses(const PeerId& peer, const std::vector<std::string>& addresses);
  std::vector<std::string> addresses(const PeerId& peer) const;

  // ---- dialing: one attempt at one address; the table rotates through the peer's addresses.
  struct Dial {
    PeerId peer;
    std::string address;
  };
  // Peers due for a dial at `now` (no link, not dialing, backoff over, and `wanted`), marked dialing.
  std::vector<Dial> due(std::uint64_t now, const std::function<bool(const PeerId&)>& wanted);
  // A dial at once, backoff forgotten (the application asked for the peer); empty if the peer has
  // a link, a dial running or no address.
  std::optional<Dial> dial_now(const PeerId& peer);
  // The dial's connect failed or timed out: the next one waits (doubling, within the bounds).
  void dial_failed(const PeerId& peer, std::uint64_t now);

  // ---- links
  enum class Verdict {
    keep,            // the first link to the peer
    keep_replacing,  // kept; `replaced` (the previous link) must be closed
    duplicate,       // the other link stays; close this one
  };
  struct Up {
    Verdict verdict;
    LinkId replaced = 0;
  };
  // A link to `remote` finished its handshake. `self` is this node's PeerId and `initiator` says
  // whether this side dialed it.
  Up link_up(const PeerId& self, const PeerId& remote, LinkId id, bool initiator);
  struct Down {
    bool was_current = false;  // it was the peer's live link: the session is gone
  };
  // A link closed (before or after its handshake). `idle`: closed for idleness, so the next message
  // dials at once; otherwise the peer is redialed with backoff. A peer with no address (it dialed
  // us) is forgotten with its last link.
  Down link_down(const PeerId& peer, LinkId id, bool initiator, bool idle, std::uint64_t now);
  std::optional<LinkId> current(const PeerId& peer) const;
  bool dialing(const PeerId& peer) const;
  std::size_t peer_count() const { return peers_.size(); }
  // When the peer's next dial may start (0: now), for status and tests.
  std::uint64_t next_dial_at(const PeerId& peer) const;

 private:
  struct PeerState {
    std::vector<std::string> addresses;
    std::optional<LinkId> link;
    bool link_initiator = false;
    bool dialing = false;
    std::uint64_t next_dial_ms = 0;
    std::uint64_t backoff_ms = 0;
  };
  std::optional<Dial> start_dial(const PeerId& peer, PeerState& state);
  void back_off(PeerState& state, std::uint64_t now);
  std::uint64_t next_backoff(std::uint64_t current) const;  // doubled, within the bounds

  Options options_;
  std::unordered_map<PeerId, PeerState> peers_;
};

}  // namespace hyphae::stream
