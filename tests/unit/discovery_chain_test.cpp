// The discovery chain on a ManualClock: each step at its time on the design's timeline, earlier
// when the one before came back empty; late answers still count; a failed connect resumes the
// search; store-and-forward when nothing finds the peer; bounded searches.
#include "discovery/discovery_chain.hpp"

#include <gtest/gtest.h>

#include "core/identity.hpp"

namespace hyphae::discovery {
namespace {

std::string steps_of(const std::vector<DiscoveryChain::Action>& actions) {
  std::string out;
  for (const auto& a : actions) out += (out.empty() ? "" : " ") + std::string(to_string(a.step));
  return out.empty() ? "-" : out;
}

struct Fixture {
  ManualClock clock;
  DiscoveryChain chain{clock};
  PeerId carol = Identity::generate().peer_id();
  std::string advance(std::uint64_t ms) {
    clock.advance(ms);
    return steps_of(chain.advance());
  }
  PeerState state() const { return chain.search(carol)->state; }
  const StepRecord& step(Step s) const {
    for (const auto& r : chain.search(carol)->steps)
      if (r.step == s) return r;
    throw std::runtime_error("step not started");
  }
};

TEST(DiscoveryChain, ALiveSessionEndsTheSearchAtOnce) {
  Fixture f;
  EXPECT_EQ(steps_of(f.chain.find(f.carol)), "live_session");
  EXPECT_EQ(f.state(), PeerState::discovering);
  EXPECT_EQ(steps_of(f.chain.found(f.carol, Step::live_session)), "-");
  EXPECT_EQ(f.state(), PeerState::connected);
  EXPECT_EQ(f.chain.search(f.carol)->found_by, Step::live_session);
  EXPECT_EQ(f.advance(5000), "-");                  // nothing more is asked
  EXPECT_EQ(steps_of(f.chain.find(f.carol)), "-");  // connected: no new search
}

TEST(DiscoveryChain, EachStepStartsAtItsTimeWhenTheOnesBeforeAreStillOut) {
  Fixture f;
  const auto t0 = f.clock.monotonic_ms();
  EXPECT_EQ(steps_of(f.chain.find(f.carol)), "live_session");
  EXPECT_EQ(f.advance(4), "-");
  EXPECT_EQ(f.advance(1), "cache");  // 5 ms
  EXPECT_EQ(f.advance(44), "-");
  EXPECT_EQ(f.advance(1), "peer_query");  // 50 ms
  EXPECT_EQ(f.advance(149), "-");
  EXPECT_EQ(f.advance(1), "coordinators");  // 200 ms
  EXPECT_EQ(f.advance(300), "registry");    // 500 ms
  EXPECT_EQ(f.advance(499), "-");
  EXPECT_EQ(f.advance(1), "store_and_forward");  // 1000 ms: nothing answered
  EXPECT_EQ(f.state(), PeerState::store_and_forward);
  EXPECT_EQ(f.step(Step::cache).started_ms, t0 + 5);
  EXPECT_EQ(f.step(Step::registry).ended_ms, t0 + 1000);
  EXPECT_EQ(f.step(Step::registry).outcome, "no answer in time");
}

TEST(DiscoveryChain, AnEmptyStepStartsTheNextAtOnceAndAllEmptyGivesUpEarly) {
  Fixture f;
  const auto t0 = f.clock.monotonic_ms();
  f.chain.find(f.carol);
  f.clock.advance(1);
  EXPECT_EQ(steps_of(f.chain.empty(f.carol, Step::live_session, "no session")), "cache");
  EXPECT_EQ(steps_of(f.chain.empty(f.carol, Step::cache, "no record")), "peer_query");
  f.clock.advance(30);
  EXPECT_EQ(steps_of(f.chain.empty(f.carol, Step::peer_query, "no peer knows it")), "coordinators");
  EXPECT_EQ(steps_of(f.chain.empty(f.carol, Step::coordinators, "none known")), "registry");
  EXPECT_EQ(steps_of(f.chain.empty(f.carol, Step::registry, "not registered")), "store_and_forward");
  EXPECT_EQ(f.state(), PeerState::store_and_forward);
  EXPECT_EQ(f.step(Step::store_and_forward).started_ms, t0 + 31);  // long before 1000 ms
  EXPECT_EQ(f.step(Step::peer_query).outcome, "no peer knows it");
  // A record that appears later starts the chain again.
  EXPECT_EQ(steps_of(f.chain.find(f.carol)), "live_session");
  EXPECT_EQ(f.state(), PeerState::discovering);
}

TEST(DiscoveryChain, ALateAnswerStillCountsWhileLaterStepsRun) {
  Fixture f;
  f.chain.find(f.carol);
  f.chain.empty(f.carol, Step::live_session, "no session");
  f.chain.empty(f.carol, Step::cache, "no record");  // the query starts at once
  EXPECT_EQ(f.advance(200), "coordinators");         // the query is still out
  EXPECT_EQ(f.advance(100), "-");
  EXPECT_EQ(steps_of(f.chain.found(f.carol, Step::peer_query)), "-");
  EXPECT_EQ(f.state(), PeerState::connecting);
  EXPECT_EQ(f.chain.search(f.carol)->found_by, Step::peer_query);
  EXPECT_EQ(f.step(Step::coordinators).outcome, "not needed");
  EXPECT_EQ(f.advance(1000), "-");  // no store-and-forward once found
  f.chain.connected(f.carol);
  EXPECT_EQ(f.state(), PeerState::connected);
}

TEST(DiscoveryChain, AFailedConnectResumesTheSearchWithTheNextStep) {
  Fixture f;
  f.chain.find(f.carol);
  f.chain.empty(f.carol, Step::live_session, "no session");
  f.chain.found(f.carol, Step::cache);
  EXPECT_EQ(f.state(), PeerState::connecting);
  EXPECT_EQ(steps_of(f.chain.connect_failed(f.carol, "connection refused")), "peer_query");
  EXPECT_EQ(f.state(), PeerState::discovering);
  EXPECT_EQ(f.step(Step::cache).outcome, "found; connecting failed: connection refused");
}

TEST(DiscoveryChain, AnswersNobodyAskedForChangeNothing) {
  Fixture f;
  EXPECT_EQ(steps_of(f.chain.found(f.carol, Step::registry)), "-");  // no search
  EXPECT_EQ(f.chain.search(f.carol), nullptr);
  f.chain.find(f.carol);
  EXPECT_EQ(steps_of(f.chain.found(f.carol, Step::registry)), "-");  // not started
  EXPECT_EQ(f.state(), PeerState::discovering);
  f.chain.found(f.carol, Step::live_session);
  EXPECT_EQ(steps_of(f.chain.empty(f.carol, Step::live_session, "late")), "-");
  EXPECT_EQ(f.state(), PeerState::connected);
}

TEST(DiscoveryChain, SearchesAreBounded) {
  ManualClock clock;
  ChainOptions options;
  options.max_searches = 2;
  DiscoveryChain chain(clock, options);
  const auto a = Identity::generate().peer_id(), b = Identity::generate().peer_id(),
             c = Identity::generate().peer_id();
  bool refused = false;
  EXPECT_EQ(steps_of(chain.find(a, &refused)), "live_session");
  EXPECT_EQ(steps_of(chain.find(b, &refused)), "live_session");
  EXPECT_EQ(steps_of(chain.find(c, &refused)), "-");
  EXPECT_TRUE(refused);
  EXPECT_EQ(chain.search(c)->state, PeerState::failed);
  chain.found(a, Step::live_session);  // one ends: room again
  EXPECT_EQ(steps_of(chain.find(c, &refused)), "live_session");
  EXPECT_FALSE(refused);
  EXPECT_EQ(chain.running(), 2u);
}

// Finished searches are kept for their views, but not for ever: a node that searches for
// thousands of PeerIds keeps at most max_remembered of them, and never forgets a running one.
TEST(DiscoveryChain, FinishedSearchesAreForgottenPastTheBound) {
  ManualClock clock;
  ChainOptions options;
  options.max_remembered = 16;
  DiscoveryChain chain(clock, options);
  const auto running = Identity::generate().peer_id();
  chain.find(running);
  for (int i = 0; i < 1000; ++i) {
    const auto p = Identity::generate().peer_id();
    chain.find(p);
    chain.found(p, Step::live_session);
  }
  EXPECT_LE(chain.remembered(), 16u);
  ASSERT_NE(chain.search(running), nullptr);
  EXPECT_EQ(chain.search(running)->state, PeerState::discovering);
}

TEST(DiscoveryChain, AFoundPeerWithoutASessionInTimeResumesTheSearch) {
  Fixture f;
  f.chain.find(f.carol);
  EXPECT_EQ(steps_of(f.chain.empty(f.carol, Step::live_session, "no live session")), "cache");
  EXPECT_EQ(steps_of(f.chain.found(f.carol, Step::cache)), "-");
  EXPECT_EQ(f.state(), PeerState::connecting);
  const auto found_at = f.clock.monotonic_ms();
  EXPECT_EQ(f.chain.next_due_ms(), found_at + f.chain.options().connect_timeout_ms);
  EXPECT_EQ(f.advance(f.chain.options().connect_timeout_ms - 1), "-");
  EXPECT_EQ(f.state(), PeerState::connecting);
  // The session did not come: the next step starts, and the cache step says what happened.
  EXPECT_EQ(f.advance(1), "peer_query");
  EXPECT_EQ(f.state(), PeerState::discovering);
  EXPECT_EQ(f.step(Step::cache).outcome, "found; connecting failed: no session within 3000 ms");
  // The steps left keep their spacing from there (the query has until the coordinators' time).
  EXPECT_EQ(f.advance(149), "-");
  EXPECT_EQ(f.advance(1), "coordinators");
}

TEST(DiscoveryChain, ACircuitThroughARelayIsSignalingAndEndsLikeAConnect) {
  Fixture f;
  f.chain.find(f.carol);
  f.chain.signaling(f.carol);  // not found yet: nothing changes
  EXPECT_EQ(f.state(), PeerState::discovering);
  f.chain.empty(f.carol, Step::live_session, "no live session");
  f.chain.found(f.carol, Step::cache);
  f.chain.signaling(f.carol);
  EXPECT_EQ(f.state(), PeerState::signaling);
  EXPECT_EQ(to_string(f.state()), "SIGNALING");
  // The connect timeout still applies; the search resumes after it.
  EXPECT_EQ(f.advance(f.chain.options().connect_timeout_ms), "peer_query");
  EXPECT_EQ(f.state(), PeerState::discovering);
  f.chain.found(f.carol, Step::peer_query);
  f.chain.signaling(f.carol);
  f.chain.connected(f.carol);
  EXPECT_EQ(f.state(), PeerState::connected);
}

TEST(DiscoveryChain, NextDueIsTheEarliestStepStartOfAnyRunningSearch) {
  Fixture f;
  EXPECT_FALSE(f.chain.next_due_ms());  // nothing running
  const auto t0 = f.clock.monotonic_ms();
  f.chain.find(f.carol);
  EXPECT_EQ(f.chain.next_due_ms(), t0 + 5);  // the cache step's time
  f.chain.empty(f.carol, Step::live_session, "none");
  f.chain.empty(f.carol, Step::cache, "none");
  EXPECT_EQ(f.chain.next_due_ms(), t0 + 200);  // the peer query is out: the coordinators' time
  f.clock.advance(10);
  const auto dave = Identity::generate().peer_id();
  f.chain.find(dave);
  EXPECT_EQ(f.chain.next_due_ms(), t0 + 10 + 5);
  EXPECT_TRUE(f.chain.running_for(dave));
  f.chain.found(dave, Step::live_session);
  EXPECT_FALSE(f.chain.running_for(dave));
  EXPECT_EQ(f.chain.next_due_ms(), t0 + 200);
}

}  // namespace
}  // namespace hyphae::discovery
