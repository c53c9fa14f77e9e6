// PEER_QUERY / PEER_FOUND: the codecs, and the responder's answer/forward/drop decisions with its
// bounds (hop limit, one handling per request id, per-sender rate, bounded fan-out and memory).
#include "discovery/peer_query.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/identity.hpp"
#include "discovery/peer_record.hpp"

namespace hyphae::discovery {
namespace {

PeerId some_peer() {
  return Identity::generate().peer_id();
}

TEST(PeerQueryCodec, RoundTripsAndRefusesWhatIsNotAQueryOrAnAnswer) {
  const PeerQuery q{some_peer(), 0x1122334455667788ull, 3};
  auto back = decode_peer_query(encode_peer_query(q));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, q);
  EXPECT_FALSE(decode_peer_query(encode_peer_query(PeerQuery{some_peer(), 1, 0})));  // no hops left
  EXPECT_FALSE(decode_peer_query(encode_peer_query(PeerQuery{some_peer(), 1, kMaxQueryHops + 1})));
  EXPECT_FALSE(decode_peer_query(Bytes{0x10, 0x01}));        // no PeerId
  EXPECT_FALSE(decode_peer_query(Bytes{0x0a, 0x05, 1, 2}));  // truncated

  const auto id = Identity::generate();
  PeerRecord r;
  r.peer = id.peer_id();
  r.seq = 9;
  const PeerFound a{7, id.peer_id(), *seal_peer_record(id, r), true};
  auto found = decode_peer_found(encode_peer_found(a));
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, a);
  EXPECT_TRUE(open_peer_record(found->record));
  EXPECT_EQ(decode_peer_found(encode_peer_found(PeerFound{7, id.peer_id(), {}, false})).error(),
            make_error_code(Errc::malformed));  // an answer without a record says nothing
}

TEST(QueryResponder, AnswersWhatItKnowsAndPassesTheRestOnWithinTheHopLimit) {
  QueryResponder r;
  const auto from = some_peer(), target = some_peer();
  std::vector<PeerId> neighbours{from, target, some_peer(), some_peer(), some_peer(), some_peer()};
  auto d = r.on_query(from, PeerQuery{target, 1, 3}, true, neighbours, 0);
  EXPECT_EQ(d.verdict, QueryResponder::Verdict::answer);
  d = r.on_query(from, PeerQuery{target, 2, 3}, false, neighbours, 0);
  ASSERT_EQ(d.verdict, QueryResponder::Verdict::forward);
  EXPECT_EQ(d.forwarded.hops_left, 2u);
  ASSERT_EQ(d.forward_to.size(), 3u);  // at most max_forward, never back to the sender or the target
  for (const auto& n : d.forward_to) {
    EXPECT_NE(n, from);
    EXPECT_NE(n, target);
  }
  // The last hop does not pass it on.
  d = r.on_query(from, PeerQuery{target, 3, 1}, false, neighbours, 0);
  EXPECT_EQ(d.verdict, QueryResponder::Verdict::drop_unknown);
  EXPECT_TRUE(d.forward_to.empty());
}

TEST(QueryResponder, ARequestIdIsHandledOnceSoQueriesCannotLoop) {
  QueryResponder r;
  const auto a = some_peer(), b = some_peer(), target = some_peer();
  EXPECT_EQ(r.on_query(a, PeerQuery{target, 42, 3}, false, {a, b}, 0).verdict,
            QueryResponder::Verdict::forward);
  // The same query coming back around through b.
  EXPECT_EQ(r.on_query(b, PeerQuery{target, 42, 2}, false, {a, b}, 0).verdict,
            QueryResponder::Verdict::drop_duplicate);
}

TEST(QueryResponder, AFloodingSenderIsLimitedAndOthersAreNot) {
  ResponderOptions o;
  o.queries_per_second = 5;
  o.burst = 10;
  QueryResponder r(o);
  const auto flooder = some_peer(), honest = some_peer(), target = some_peer();
  int answered = 0;
  for (std::uint64_t i = 0; i < 1000; ++i)
    if (r.on_query(flooder, PeerQuery{target, i, 1}, true, {}, 0).verdict == QueryResponder::Verdict::answer)
      ++answered;
  EXPECT_EQ(answered, 10);  // the burst
  EXPECT_EQ(r.dropped(), 990u);
  EXPECT_EQ(r.on_query(honest, PeerQuery{target, 5000, 1}, true, {}, 0).verdict,
            QueryResponder::Verdict::answer);
  // One second later the flooder has five more.
  answered = 0;
  for (std::uint64_t i = 0; i < 100; ++i)
    if (r.on_query(flooder, PeerQuery{target, 10'000 + i, 1}, true, {}, 1000).verdict ==
        QueryResponder::Verdict::answer)
      ++answered;
  EXPECT_EQ(answered, 5);
}

TEST(QueryResponder, ItsMemoryIsBounded) {
  ResponderOptions o;
  o.remembered_requests = 8;
  o.max_senders = 4;
  o.burst = 1e9;
  QueryResponder r(o);
  const auto target = some_peer();
  const auto a = some_peer();
  r.on_query(a, PeerQuery{target, 1, 1}, true, {}, 0);
  for (std::uint64_t i = 100; i < 108; ++i) r.on_query(a, PeerQuery{target, i, 1}, true, {}, 0);
  // Request 1 was forgotten (eight newer ones since): it is handled again, not remembered forever.
  EXPECT_EQ(r.remembered_requests(), 8u);
  EXPECT_EQ(r.on_query(a, PeerQuery{target, 1, 1}, true, {}, 0).verdict, QueryResponder::Verdict::answer);
  // Thousands of senders keep at most max_senders buckets (a new sender starts with a full burst).
  for (int i = 0; i < 1000; ++i) r.on_query(some_peer(), PeerQuery{target, 1'000'000ull + i, 1}, true, {}, 0);
  EXPECT_EQ(r.senders(), 4u);
  EXPECT_EQ(r.remembered_requests(), 8u);
}

}  // namespace
}  // namespace hyphae::discovery
