// DiscoveryChain: how a node looks for a PeerId it cannot reach, as a state machine without I/O.
// The steps follow the design's timeline, each with a time budget from the start of the search:
//   0 ms    the live sessions           5 ms    the record cache (the store)
//   50 ms   PEER_QUERY to connected peers
//   200 ms  the coordinators the peer was last seen with
//   500 ms  the registry               1000 ms  store-and-forward (give up for now)
// A step starts when its time comes, or earlier when the step before it came back empty; steps
// that are still out keep running (a late answer still counts). The first step that finds a
// record (or a session) moves the peer to CONNECTING; a session moves it to CONNECTED. When every
// step came back empty, or the store-and-forward time came, it is FAILED and then
// STORE_AND_FORWARD: its messages wait, and a record that appears later starts the chain again.
//
// Per peer it records each step's start, end and outcome, for GET /v1/p2p/peers/{id} and
// `hyphae find`. Inputs are calls with the time read from an injected Clock; outputs are actions
// the node carries out (look at the sessions, read the cache, send a query, ...).
// Thread-safety: none (the node's strand). Ownership: values; the Clock must outlive it.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/peer_id.hpp"

namespace hyphae::discovery {

enum class PeerState : std::uint8_t {
  disconnected,
  discovering,
  signaling,  // a record was found; the connection is being set up through a relay (a circuit) or a
              // signaling server
  connecting,
  connected,
  failed,
  store_and_forward,
};
std::string_view to_string(PeerState state);

enum class Step : std::uint8_t { live_session, cache, peer_query, coordinators, registry, store_and_forward };
inline constexpr std::size_t kSteps = 6;
std::string_view to_string(Step step);

struct ChainOptions {
  // When each step starts at the latest, from the start of the search (ms).
  std::array<std::uint64_t, kSteps> start_by_ms{0, 5, 50, 200, 500, 1000};
  std::size_t max_searches = 256;     // peers searched at once; more are refused (the caller retries)
  std::size_t max_remembered = 4096;  // finished searches kept for their views; the oldest go first
  // A peer found but still without a session this long after: connecting failed, the search goes on.
  std::uint64_t connect_timeout_ms = 3000;
};

struct StepRecord {
  Step step;
  std::uint64_t started_ms = 0, ended_ms = 0;  // monotonic; ended 0: still out
  std::string outcome;                         // "found", or why it moved on
};

struct Search {
  PeerState state = PeerState::disconnected;
  std::uint64_t started_ms = 0;
  std::uint64_t connecting_since_ms = 0;  // when a step found it (state connecting)
  // What the steps' times count from: the start, moved on after a failed connect so that the
  // remaining steps keep their spacing instead of all starting at once.
  std::uint64_t timeline_ms = 0;
  std::optional<Step> found_by;
  std::vector<StepRecord> steps;
};

class DiscoveryChain {
 public:
  DiscoveryChain(const Clock& clock, ChainOptions options = {});

  // What the node must do next.
  struct Action {
    Step step;  // the step to carry out (store_and_forward: keep its messages waiting)
    PeerId peer;
  };

  // Starts (or restarts, after store-and-forward) a search. Empty when one is already running or
  // the peer is connected, or when max_searches are running (then `refused` is set).
  std::vector<Action> find(const PeerId& peer, bool* refused = nullptr);
  // A step came back: found (a session, or a record to connect with) or empty (why).
  std::vector<Action> found(const PeerId& peer, Step step);
  std::vector<Action> empty(const PeerId& peer, Step step, std::string why);
  // The connection is being set up through a relay or a signaling server (CONNECTING -> SIGNALING;
  // the connect timeout keeps running).
  void signaling(const PeerId& peer);
  // The connection came up / could not be made with what was found (the search goes on).
  void connected(const PeerId& peer);
  std::vector<Action> connect_failed(const PeerId& peer, std::string why);
  // A session went down: the peer is disconnected (a new search starts on the next send).
  void disconnected(const PeerId& peer);
  // Steps whose time has come, and connections that did not come up in connect_timeout_ms.
  std::vector<Action> advance();
  // When advance() has something to do next (monotonic ms); empty when no search waits on time.
  std::optional<std::uint64_t> next_due_ms() const;
  const ChainOptions& options() const { return options_; }

  const Search* search(const PeerId& peer) const;
  std::size_t running() const;
  bool running_for(const PeerId& peer) const;  // a search for it is under way
  std::size_t remembered() const { return searches_.size(); }

 private:
  Search& state_of(const PeerId& peer);  // makes room (forgetting finished searches) for a new peer
  bool step_started(const Search& s, Step step) const;
  StepRecord* record_of(Search& s, Step step);
  void start_step(const PeerId& peer, Search& s, Step step, std::vector<Action>& out);
  // After a step ended empty: starts the next not yet started, or gives up when none is left.
  void continue_after(const PeerId& peer, Search& s, std::vector<Action>& out);
  void give_up(const PeerId& peer, Search& s, std::vector<Action>& out);

  const Clock& clock_;
  ChainOptions options_;
  std::unordered_map<PeerId, Search> searches_;
  std::deque<PeerId> order_;  // peers in the order their entries were made
};

}  // namespace hyphae::discovery
