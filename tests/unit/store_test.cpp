// The store: outbox, inbox, peers and routes, group commit, crash safety. Migrations are in
// store_migration_test.cpp; shared helpers in store_test_support.hpp.
#include "store_test_support.hpp"

using namespace hyphae;
using namespace hyphae::store;
using namespace hyphae::store::test_support;
namespace fs = std::filesystem;
namespace {

TEST_F(StoreOutbox, TransportReasonRoundTripsAndFollowsTheTransport) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  const Bytes bob = peer_id("bob");
  WriteBatch b;
  OutboxRow direct = outbox(1, bob);
  direct.transport = "tcp";
  direct.transport_reason = "direct link to the recipient";
  b.outbox_inserts.push_back(direct);
  b.outbox_inserts.push_back(outbox(2, bob));  // no transport yet
  ASSERT_FALSE(s->apply(b));
  // Every read path fills it.
  EXPECT_EQ(s->outbox_get(key(1))->transport_reason, "direct link to the recipient");
  EXPECT_EQ(s->outbox_get(key(2))->transport_reason, "");
  auto to_bob = s->pending_outbox(bob, SIZE_MAX);
  ASSERT_EQ(to_bob.size(), 2u);
  EXPECT_EQ(to_bob[0].transport_reason, "direct link to the recipient");
  auto all = s->pending_outbox_all(SIZE_MAX);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].transport_reason, "direct link to the recipient");

  // A non-empty transport replaces both.
  WriteBatch failover;
  OutboxUpdate u{key(1), OutboxState::sent, "mesh", "", 2000, true};
  u.transport_reason = "failover: tcp timed out";
  failover.outbox_updates.push_back(u);
  failover.outbox_updates.push_back(
      OutboxUpdate{key(2), OutboxState::sent, "tcp", "", 2000, true, "direct link to the recipient"});
  ASSERT_FALSE(s->apply(failover));
  auto row = s->outbox_get(key(1));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->transport, "mesh");
  EXPECT_EQ(row->transport_reason, "failover: tcp timed out");
  EXPECT_EQ(s->outbox_get(key(2))->transport_reason, "direct link to the recipient");

  // An empty transport keeps both, whatever transport_reason the update carries.
  WriteBatch keep;
  keep.outbox_updates.push_back({key(1), OutboxState::sent, "", "retry", 2100, true});
  OutboxUpdate stray{key(2), OutboxState::delivered, "", "", 2200, false};
  stray.transport_reason = "ignored without a transport";
  keep.outbox_updates.push_back(stray);
  ASSERT_FALSE(s->apply(keep));
  row = s->outbox_get(key(1));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->transport, "mesh");
  EXPECT_EQ(row->transport_reason, "failover: tcp timed out");
  EXPECT_EQ(row->reason, "retry");
  EXPECT_EQ(row->attempts, 2u);
  row = s->outbox_get(key(2));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, OutboxState::delivered);
  EXPECT_EQ(row->transport, "tcp");
  EXPECT_EQ(row->transport_reason, "direct link to the recipient");

  // And it survives a reopen.
  s.reset();
  s = open_ok();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->outbox_get(key(1))->transport_reason, "failover: tcp timed out");
}

TEST_F(StoreOutbox, AckBeforeCommitWritesNoEnvelope) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  // Insert and delivered mark in one group: the message never needs its envelope on disk.
  WriteBatch b;
  b.outbox_inserts.push_back(outbox(1, peer_id("bob")));
  b.outbox_inserts.push_back(outbox(2, peer_id("bob")));
  b.outbox_updates.push_back(OutboxUpdate{key(1), OutboxState::delivered, "tcp", "", 2000, false});
  std::promise<std::error_code> done;
  s->submit(std::move(b), [&](std::error_code ec) { done.set_value(ec); });
  ASSERT_FALSE(done.get_future().get());
  EXPECT_EQ(s->outbox_get(key(1))->state, OutboxState::delivered);
  EXPECT_EQ(s->outbox_get(key(1))->transport, "tcp");
  EXPECT_EQ(s->pending_outbox_all(SIZE_MAX).size(), 1u);
  s.reset();
  EXPECT_EQ(stored_outbox_envelopes(db_), 1);  // only message 2's
}

TEST_F(StoreOutbox, EnvelopeGenerationsRotateAndKeepEveryUndeliveredEnvelope) {
  Options small;
  small.envelope_generation_rows = 4;
  auto s = Store::open(db_, small);
  ASSERT_TRUE(s);
  auto insert = [&](std::initializer_list<std::uint32_t> ns) {
    WriteBatch b;
    for (auto n : ns) b.outbox_inserts.push_back(outbox(n, peer_id("bob")));
    ASSERT_FALSE((*s)->apply(b));
  };
  auto deliver = [&](std::initializer_list<std::uint32_t> ns) {
    WriteBatch b;
    for (auto n : ns)
      b.outbox_updates.push_back(OutboxUpdate{key(n), OutboxState::delivered, "tcp", "", 9, false});
    ASSERT_FALSE((*s)->apply(b));
  };
  insert({1, 2, 3});
  deliver({1, 2});
  insert({4, 5});  // generation 0 now holds 5 envelopes: the next transaction switches
  insert({6});
  insert({7, 8, 9, 10});
  WriteBatch fail;
  fail.outbox_updates.push_back(OutboxUpdate{key(3), OutboxState::failed, "", "expired", 9, false});
  ASSERT_FALSE((*s)->apply(fail));
  deliver({6});
  insert({11});  // switches back: 3 (failed), 4 and 5 move over, generation 0 is emptied
  insert({12, 13, 14, 15});
  insert({16});  // and again: 7..10 move, 6 (delivered) is dropped
  auto check = [&](Store& st) {
    std::set<std::uint32_t> pending;
    for (const auto& r : st.pending_outbox_all(SIZE_MAX)) {
      pending.insert(r.id[15]);
      EXPECT_EQ(r.envelope, outbox(r.id[15], peer_id("bob")).envelope);
    }
    EXPECT_EQ(pending, (std::set<std::uint32_t>{4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}));
    EXPECT_EQ(st.outbox_get(key(3))->envelope, outbox(3, peer_id("bob")).envelope);  // failed keeps it
    EXPECT_TRUE(st.outbox_get(key(1))->envelope.empty());
    EXPECT_TRUE(st.outbox_get(key(6))->envelope.empty());
    EXPECT_EQ(st.outbox_count(OutboxState::queued), 12u);
  };
  check(**s);
  s->reset();
  s = Store::open(db_, small);  // the generations are found again
  ASSERT_TRUE(s);
  check(**s);
  insert({17});
  s->reset();
  EXPECT_LE(stored_outbox_envelopes(db_), 14);  // delivered envelopes do not pile up
}

TEST_F(StoreOutbox, QueuedSentDeliveredDropsEnvelopeKeepsStatus) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  const Bytes bob = peer_id("bob"), carol = peer_id("carol");
  WriteBatch b;
  b.outbox_inserts.push_back(outbox(1, bob, 2, 1000));
  b.outbox_inserts.push_back(outbox(2, bob, 0, 3000));  // more urgent, later
  b.outbox_inserts.push_back(outbox(3, bob, 2, 500));   // same priority, earlier
  b.outbox_inserts.push_back(outbox(4, carol));
  ASSERT_FALSE(s->apply(b));

  auto pending = s->pending_outbox(bob, 10);
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].id, key(2));
  EXPECT_EQ(pending[1].id, key(3));
  EXPECT_EQ(pending[2].id, key(1));
  EXPECT_EQ(pending[0].envelope, Bytes(256, 2));
  EXPECT_EQ(s->pending_outbox(bob, 1).size(), 1u);
  EXPECT_EQ(s->pending_outbox_all(SIZE_MAX).size(), 4u);
  EXPECT_EQ(s->outbox_count(OutboxState::queued), 4u);

  WriteBatch sent;
  sent.outbox_updates.push_back({key(1), OutboxState::sent, "mesh", "", 2000, true});
  ASSERT_FALSE(s->apply(sent));
  auto row = s->outbox_get(key(1));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, OutboxState::sent);
  EXPECT_EQ(row->transport, "mesh");
  EXPECT_EQ(row->attempts, 1u);
  EXPECT_EQ(row->updated_ms, 2000u);
  EXPECT_EQ(s->pending_outbox(bob, 10).size(), 3u);  // sent is still pending (until delivered)

  WriteBatch delivered;
  delivered.outbox_updates.push_back({key(1), OutboxState::delivered, "", "", 2500, false});
  ASSERT_FALSE(s->apply(delivered));
  row = s->outbox_get(key(1));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, OutboxState::delivered);
  EXPECT_TRUE(row->envelope.empty());
  EXPECT_EQ(row->transport, "mesh");  // empty transport keeps the stored one
  EXPECT_EQ(row->to, bob);
  EXPECT_EQ(row->attempts, 1u);
  EXPECT_EQ(s->pending_outbox(bob, 10).size(), 2u);
  EXPECT_EQ(s->outbox_count(OutboxState::delivered), 1u);

  // Delivered is final: a late "sent" does not resurrect a row without its envelope.
  WriteBatch late;
  late.outbox_updates.push_back({key(1), OutboxState::sent, "bitchat", "", 2600, true});
  ASSERT_FALSE(s->apply(late));
  EXPECT_EQ(s->outbox_get(key(1))->state, OutboxState::delivered);

  WriteBatch failed;
  failed.outbox_updates.push_back({key(4), OutboxState::failed, "", "expired", 9000, false});
  ASSERT_FALSE(s->apply(failed));
  EXPECT_EQ(s->outbox_get(key(4))->reason, "expired");
  EXPECT_EQ(s->outbox_get(key(4))->envelope, Bytes(256, 4));  // kept for a manual retry
  EXPECT_TRUE(s->pending_outbox(carol, 10).empty());
  EXPECT_FALSE(s->outbox_get(key(99)).has_value());
  EXPECT_EQ(to_string(OutboxState::delivered), "delivered");
}

TEST_F(StoreOutbox, DuplicateInsertFailsAndRollsBackTheWholeBatch) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  WriteBatch a;
  a.outbox_inserts.push_back(outbox(1, peer_id("bob")));
  ASSERT_FALSE(s->apply(a));
  WriteBatch b;
  b.inbox_inserts.push_back(inbox(7));
  b.outbox_inserts.push_back(outbox(1, peer_id("bob")));
  EXPECT_EQ(s->apply(b), make_error_code(Errc::store_failed));
  EXPECT_FALSE(s->inbox_get(key(7, 0x11)).has_value());
  EXPECT_EQ(s->stats().transactions, 1u);
}

TEST_F(StoreInbox, InsertIsIdempotentAndSeqIsMonotonic) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  WriteBatch b;
  for (std::uint32_t i = 0; i < 5; ++i) b.inbox_inserts.push_back(inbox(i, 100 + i));
  ASSERT_FALSE(s->apply(b));
  WriteBatch again;  // duplicates are harmless and keep the first copy
  again.inbox_inserts.push_back(inbox(2, 999));
  again.inbox_inserts.push_back(inbox(5, 105));
  ASSERT_FALSE(s->apply(again));

  auto all = s->inbox_after(0, false, SIZE_MAX);
  ASSERT_EQ(all.size(), 6u);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_GT(all[i].seq, all[i - 1].seq);
  EXPECT_EQ(all[2].id, key(2, 0x11));
  EXPECT_EQ(all[2].received_ms, 102u);
  EXPECT_EQ(all[5].id, key(5, 0x11));
  EXPECT_EQ(all[0].from, peer_id("alice"));
  EXPECT_EQ(all[0].envelope, Bytes(64, 0));

  auto tail = s->inbox_after(all[3].seq, false, 10);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].seq, all[4].seq);
  EXPECT_EQ(s->inbox_after(0, false, 2).size(), 2u);

  // Every inserted id is a seen id, seen since it was received.
  EXPECT_TRUE(s->seen(key(2, 0x11)));
  EXPECT_FALSE(s->seen(key(2, 0x22)));
  EXPECT_EQ(s->seen_since(0).size(), 6u);
  EXPECT_EQ(s->seen_since(103).size(), 3u);
  EXPECT_EQ(s->seen_since(103).front().id, key(5, 0x11));  // newest first
  EXPECT_EQ(s->seen_since(103).front().from, peer_id("alice"));
  EXPECT_TRUE(s->seen_since(1000).empty());

  // A later insert after re-open still gets a larger seq.
  const std::uint64_t last = all.back().seq;
  s.reset();
  s = open_ok();
  WriteBatch more;
  more.inbox_inserts.push_back(inbox(6));
  ASSERT_FALSE(s->apply(more));
  EXPECT_GT(s->inbox_get(key(6, 0x11))->seq, last);
}

TEST_F(StoreInbox, AppAcks) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  WriteBatch b;
  for (std::uint32_t i = 0; i < 4; ++i) b.inbox_inserts.push_back(inbox(i));
  ASSERT_FALSE(s->apply(b));
  WriteBatch acks;
  acks.inbox_app_acks = {key(0, 0x11), key(2, 0x11), key(42, 0x11)};  // unknown ids are ignored
  ASSERT_FALSE(s->apply(acks));

  auto unacked = s->inbox_after(0, true, SIZE_MAX);
  ASSERT_EQ(unacked.size(), 2u);
  EXPECT_EQ(unacked[0].id, key(1, 0x11));
  EXPECT_EQ(unacked[1].id, key(3, 0x11));
  EXPECT_FALSE(unacked[0].app_acked);
  EXPECT_TRUE(s->inbox_get(key(0, 0x11))->app_acked);
  EXPECT_EQ(s->inbox_after(0, false, SIZE_MAX).size(), 4u);
  EXPECT_EQ(s->inbox_after(unacked[0].seq, true, SIZE_MAX).size(), 1u);
}

TEST_F(StoreInbox, UnackedReadsFollowAcksInAnyOrderAndAcrossReopen) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  auto ack = [&](std::initializer_list<std::uint32_t> ns) {
    WriteBatch b;
    for (auto n : ns) b.inbox_app_acks.push_back(key(n, 0x11));
    ASSERT_FALSE(s->apply(b));
  };
  auto unacked_ids = [&](std::uint64_t after) {
    std::vector<MessageKey> ids;
    for (const auto& r : s->inbox_after(after, true, SIZE_MAX)) ids.push_back(r.id);
    return ids;
  };
  WriteBatch b;
  for (std::uint32_t i = 0; i < 6; ++i) b.inbox_inserts.push_back(inbox(i));
  ASSERT_FALSE(s->apply(b));
  ack({1, 2});
  EXPECT_EQ(unacked_ids(0),
            (std::vector<MessageKey>{key(0, 0x11), key(3, 0x11), key(4, 0x11), key(5, 0x11)}));
  ack({0});  // the oldest goes last: later reads must not miss 3..5
  EXPECT_EQ(unacked_ids(0), (std::vector<MessageKey>{key(3, 0x11), key(4, 0x11), key(5, 0x11)}));
  ack({3, 4, 5});
  EXPECT_TRUE(unacked_ids(0).empty());
  // Rows arriving after everything was acked are found, also with a limit and after a reopen.
  WriteBatch more;
  more.inbox_inserts.push_back(inbox(6));
  more.inbox_inserts.push_back(inbox(7));
  ASSERT_FALSE(s->apply(more));
  auto first = s->inbox_after(0, true, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].id, key(6, 0x11));
  EXPECT_EQ(unacked_ids(0), (std::vector<MessageKey>{key(6, 0x11), key(7, 0x11)}));
  ack({7});
  s.reset();
  s = open_ok();
  ASSERT_TRUE(s);
  EXPECT_EQ(unacked_ids(0), (std::vector<MessageKey>{key(6, 0x11)}));
  EXPECT_TRUE(unacked_ids(s->inbox_get(key(6, 0x11))->seq).empty());
}

TEST_F(StorePeers, UpsertMergesAddressesAndKeepsNewestLastSeen) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  const Bytes bob = peer_id("bob");
  WriteBatch a;
  a.peer_upserts.push_back({bob, {"/ip4/10.0.0.2/tcp/4001", "/ip4/10.0.0.2/udp/4001/quic"}, 500});
  a.peer_upserts.push_back({peer_id("carol"), {}, 10});
  ASSERT_FALSE(s->apply(a));
  WriteBatch b;
  b.peer_upserts.push_back({bob, {"/ip4/10.0.0.2/tcp/4001", "/dns4/bob.example/tcp/443/wss"}, 300});
  ASSERT_FALSE(s->apply(b));

  auto p = s->peer(bob);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->last_seen_ms, 500u);  // an older sighting does not move last_seen back
  EXPECT_EQ(p->addresses, (std::vector<std::string>{"/dns4/bob.example/tcp/443/wss", "/ip4/10.0.0.2/tcp/4001",
                                                    "/ip4/10.0.0.2/udp/4001/quic"}));
  WriteBatch c;
  c.peer_upserts.push_back({bob, {}, 800});
  ASSERT_FALSE(s->apply(c));
  EXPECT_EQ(s->peer(bob)->last_seen_ms, 800u);
  EXPECT_EQ(s->peer(bob)->addresses.size(), 3u);

  auto all = s->peers();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_TRUE(all[1].addresses.empty() || all[0].addresses.empty());
  EXPECT_FALSE(s->peer(peer_id("dave")).has_value());
}

TEST_F(StorePeers, RoutesUpsertIgnoresOlderUpdates) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  const Bytes carol = peer_id("carol"), bob = peer_id("bob"), eve = peer_id("eve");
  WriteBatch a;
  a.route_upserts.push_back({carol, bob, "webrtc", 2, 100, 60100});
  a.route_upserts.push_back({carol, eve, "mesh", 1, 100, 0});
  ASSERT_FALSE(s->apply(a));
  WriteBatch b;
  b.route_upserts.push_back({carol, bob, "webrtc", 1, 200, 60200});  // newer: replaces
  b.route_upserts.push_back({carol, eve, "mesh", 5, 50, 0});         // older: ignored
  ASSERT_FALSE(s->apply(b));

  auto r = s->routes();
  ASSERT_EQ(r.size(), 2u);
  for (const auto& row : r) {
    EXPECT_EQ(row.destination, carol);
    EXPECT_EQ(row.hops, 1);
    if (row.next_hop == bob) {
      EXPECT_EQ(row.transport, "webrtc");
      EXPECT_EQ(row.updated_ms, 200u);
      EXPECT_EQ(row.expires_ms, 60200u);
    } else {
      EXPECT_EQ(row.next_hop, eve);
      EXPECT_EQ(row.updated_ms, 100u);
    }
  }
}

TEST_F(StoreGroupCommit, TwoThreadsTenThousandBatchesAreGrouped) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  constexpr std::uint32_t kPerThread = 5000;
  std::vector<std::atomic<int>> calls(2 * kPerThread);
  std::atomic<int> errors{0};
  std::mutex order_mu;
  std::vector<std::uint32_t> order[2];
  std::thread::id callback_thread;
  auto producer = [&](int t) {
    const Bytes to = peer_id(t == 0 ? "bob" : "carol");
    for (std::uint32_t i = 0; i < kPerThread; ++i) {
      const std::uint32_t n = t * kPerThread + i;
      WriteBatch b;
      b.outbox_inserts.push_back(outbox(n, to, 2, n));
      if (i % 2 == 0) b.inbox_inserts.push_back(inbox(n));
      s->submit(std::move(b), [&, n, t](std::error_code ec) {
        calls[n].fetch_add(1);
        if (ec) errors.fetch_add(1);
        std::lock_guard lk(order_mu);
        callback_thread = std::this_thread::get_id();
        order[t].push_back(n);
      });
    }
  };
  std::thread t0(producer, 0), t1(producer, 1);
  t0.join();
  t1.join();
  s->flush();

  for (auto& c : calls) ASSERT_EQ(c.load(), 1);
  EXPECT_EQ(errors.load(), 0);
  for (int t = 0; t < 2; ++t) {
    ASSERT_EQ(order[t].size(), kPerThread);
    for (std::size_t i = 1; i < order[t].size(); ++i) ASSERT_LT(order[t][i - 1], order[t][i]);
  }
  EXPECT_NE(callback_thread, std::this_thread::get_id());

  EXPECT_EQ(s->outbox_count(OutboxState::queued), 2 * kPerThread);
  EXPECT_EQ(s->pending_outbox(peer_id("bob"), SIZE_MAX).size(), kPerThread);
  EXPECT_EQ(s->inbox_after(0, false, SIZE_MAX).size(), kPerThread);
  for (std::uint32_t n = 0; n < 2 * kPerThread; n += 997) EXPECT_TRUE(s->outbox_get(key(n))) << n;

  const Stats st = s->stats();
  std::printf("[ stats    ] %llu batches, %llu rows in %llu transactions\n",
              static_cast<unsigned long long>(st.batches), static_cast<unsigned long long>(st.rows),
              static_cast<unsigned long long>(st.transactions));
  EXPECT_EQ(st.batches, 2 * kPerThread);
  EXPECT_EQ(st.rows, 3 * kPerThread);
  EXPECT_LT(st.transactions, st.batches / 2) << "group commit did not group";
  EXPECT_GE(st.transactions, 1u);
}

TEST_F(StoreGroupCommit, InjectedFailureReachesEveryCallbackAndAppliesNothing) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  WriterGate gate(*s);             // the gate's own empty batch has already committed
  s->write_faults().fail_next(1);  // so the next group, all 50 batches, is the one that fails
  std::vector<std::error_code> results(50);
  std::atomic<int> calls{0};
  for (std::uint32_t n = 0; n < results.size(); ++n) {
    WriteBatch b;
    b.outbox_inserts.push_back(outbox(n, peer_id("bob")));
    b.inbox_inserts.push_back(inbox(n));
    s->submit(std::move(b), [&, n](std::error_code ec) {
      results[n] = ec;
      calls.fetch_add(1);
    });
  }
  gate.release();
  s->flush();
  ASSERT_EQ(calls.load(), 50);
  for (std::uint32_t n = 0; n < results.size(); ++n) {
    EXPECT_EQ(results[n], make_error_code(Errc::store_failed)) << n;
    EXPECT_FALSE(s->outbox_get(key(n)).has_value()) << n;
    EXPECT_FALSE(s->inbox_get(key(n, 0x11)).has_value()) << n;
    EXPECT_FALSE(s->seen(key(n, 0x11))) << n;
  }
  EXPECT_EQ(s->outbox_count(OutboxState::queued), 0u);

  // The hook is spent: the same rows now commit.
  WriteBatch again;
  again.outbox_inserts.push_back(outbox(0, peer_id("bob")));
  std::promise<std::error_code> done;
  s->submit(std::move(again), [&](std::error_code ec) { done.set_value(ec); });
  EXPECT_FALSE(done.get_future().get());
  EXPECT_TRUE(s->outbox_get(key(0)).has_value());

  // apply() honours the hook too.
  s->write_faults().fail_next(1);
  WriteBatch b;
  b.outbox_inserts.push_back(outbox(1000, peer_id("bob")));
  EXPECT_EQ(s->apply(b), make_error_code(Errc::store_failed));
  EXPECT_FALSE(s->outbox_get(key(1000)));
  EXPECT_FALSE(s->apply(b));
  EXPECT_TRUE(s->outbox_get(key(1000)));
}

TEST_F(StoreGroupCommit, ConstraintViolationFailsOnlyTheOffendingBatch) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  WriteBatch first;
  first.outbox_inserts.push_back(outbox(1, peer_id("bob")));
  ASSERT_FALSE(s->apply(first));

  WriterGate gate(*s);
  std::vector<std::error_code> results(20);
  std::atomic<int> calls{0};
  for (std::uint32_t n = 0; n < results.size(); ++n) {
    WriteBatch b;
    // Batch 10 repeats outbox id 1 (already stored) alongside a fresh inbox row.
    b.outbox_inserts.push_back(outbox(n == 10 ? 1 : 100 + n, peer_id("bob")));
    b.inbox_inserts.push_back(inbox(n));
    s->submit(std::move(b), [&, n](std::error_code ec) {
      results[n] = ec;
      calls.fetch_add(1);
    });
  }
  const std::uint64_t transactions_before = s->stats().transactions;
  gate.release();
  s->flush();
  ASSERT_EQ(calls.load(), 20);
  // All 20 were one group: one transaction (savepoint retry) committed the 19 good batches.
  EXPECT_EQ(s->stats().transactions - transactions_before, 1u);
  for (std::uint32_t n = 0; n < results.size(); ++n) {
    if (n == 10) {
      EXPECT_EQ(results[n], make_error_code(Errc::store_failed));
      EXPECT_FALSE(s->inbox_get(key(n, 0x11)).has_value());
    } else {
      EXPECT_FALSE(results[n]) << n;
      EXPECT_TRUE(s->inbox_get(key(n, 0x11)).has_value()) << n;
    }
  }
}

TEST_F(StoreGroupCommit, DestructorDrainsQueuedBatches) {
  std::atomic<int> calls{0};
  {
    auto s = open_ok();
    ASSERT_TRUE(s);
    for (std::uint32_t n = 0; n < 1000; ++n) {
      WriteBatch b;
      b.inbox_inserts.push_back(inbox(n));
      s->submit(std::move(b), [&](std::error_code ec) {
        EXPECT_FALSE(ec);
        calls.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(calls.load(), 1000);
  auto s = open_ok();
  EXPECT_EQ(s->inbox_after(0, false, SIZE_MAX).size(), 1000u);
}

// Child: fresh Store, submit, flush, _exit without destructors. Parent: every flushed row is there.
void crash_round_trip(const fs::path& db_, Options options,
                      std::unique_ptr<Store> (*reopen)(const fs::path&)) {
  constexpr std::uint32_t kRows = 3000;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: a fresh Store (connections are never carried across fork).
    auto opened = Store::open(db_, options);
    if (!opened) ::_exit(2);
    Store* s = opened->release();  // never destroyed: the process dies with the writer running
    std::atomic<int> errors{0};
    for (std::uint32_t n = 0; n < kRows; ++n) {
      WriteBatch b;
      b.outbox_inserts.push_back(outbox(n, peer_id("bob")));
      if (n % 3 == 0) b.inbox_inserts.push_back(inbox(n));
      s->submit(std::move(b), [&](std::error_code ec) {
        if (ec) errors.fetch_add(1);
      });
    }
    s->flush();
    ::_exit(errors.load() == 0 ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  auto s = reopen(db_);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->outbox_count(OutboxState::queued), kRows);
  for (std::uint32_t n = 0; n < kRows; ++n) ASSERT_TRUE(s->outbox_get(key(n)).has_value()) << n;
  EXPECT_EQ(s->inbox_after(0, false, SIZE_MAX).size(), (kRows + 2) / 3);
}

std::unique_ptr<Store> reopen(const fs::path& db) {
  auto s = Store::open(db);
  return s ? std::move(*s) : nullptr;
}

TEST_F(StoreCrash, ForkedChildExitsWithoutDestructorAndFlushedRowsSurvive) {
  crash_round_trip(db_, {}, reopen);
}

TEST_F(StoreCrash, SameWithSynchronousFull) {
  crash_round_trip(db_, Options{.synchronous_full = true}, reopen);
}

TEST(StoreBatch, SizeEmptyMerge) {
  WriteBatch a, b;
  EXPECT_TRUE(a.empty());
  a.outbox_inserts.resize(2);
  b.outbox_inserts.resize(1);
  b.inbox_app_acks.resize(3);
  b.route_upserts.resize(1);
  EXPECT_EQ(b.size(), 5u);
  a.merge(std::move(b));
  EXPECT_EQ(a.size(), 7u);
  EXPECT_EQ(a.outbox_inserts.size(), 3u);
  EXPECT_TRUE(b.empty());
}

}  // namespace

namespace hyphae::store {
namespace {

TEST(StoreFastPath, IdleSubmitCommitsOnTheCallerThreadAndKeepsOrder) {
  auto dir = fs::temp_directory_path() / ("hyphae_store_fast_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    auto opened = Store::open(dir / "node.db", Options{.commit_inline_when_idle = true});
    ASSERT_TRUE(opened);
    auto& store = **opened;
    store.flush();
    // Wait until the writer thread sleeps, so the next submit takes the inline path.
    std::thread::id ran_on;
    for (int attempt = 0; attempt < 200 && ran_on != std::this_thread::get_id(); ++attempt) {
      WriteBatch b;
      b.outbox_inserts.push_back(outbox(static_cast<std::uint32_t>(attempt), peer_id("bob")));
      store.submit(std::move(b), [&](std::error_code ec) {
        EXPECT_FALSE(ec);
        ran_on = std::this_thread::get_id();
      });
      store.flush();
      // flush() returns once the callback ran; give the writer a moment to go back to sleep.
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    EXPECT_EQ(ran_on, std::this_thread::get_id()) << "an idle writer should let the caller commit";
    // Mixed inline and queued submissions still apply in submission order.
    std::vector<int> order;
    std::mutex mu;
    for (int i = 0; i < 200; ++i) {
      WriteBatch b;
      b.outbox_inserts.push_back(outbox(static_cast<std::uint32_t>(1000 + i), peer_id("bob")));
      store.submit(std::move(b), [&, i](std::error_code ec) {
        EXPECT_FALSE(ec);
        std::lock_guard lk(mu);
        order.push_back(i);
      });
    }
    store.flush();
    ASSERT_EQ(order.size(), 200u);
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
    EXPECT_TRUE(store.outbox_get(key(1199)).has_value());
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hyphae::store

namespace hyphae::store {
namespace {
TEST(StoreOutboxV5, PreferenceAndRedundancySurviveAReopen) {
  auto dir = std::filesystem::temp_directory_path() / ("hyphae_store_pref_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  MessageKey id{};
  id[0] = 0x42;
  {
    auto s = Store::open(dir / "h.db");
    ASSERT_TRUE(s);
    WriteBatch b;
    OutboxRow row;
    row.id = id;
    row.to = Bytes{1, 2, 3};
    row.envelope = Bytes{0xee};
    row.preference = "lan";
    row.redundancy = 2;
    b.outbox_inserts.push_back(row);
    ASSERT_FALSE((*s)->apply(b));
  }
  auto s = Store::open(dir / "h.db");
  ASSERT_TRUE(s);
  auto pending = (*s)->pending_outbox_all(SIZE_MAX);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].preference, "lan");
  EXPECT_EQ(pending[0].redundancy, 2);
  auto got = (*s)->outbox_get(id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->preference, "lan");
  std::filesystem::remove_all(dir);
}
}  // namespace
}  // namespace hyphae::store

// A message is known by its sender and id together: another sender's row with the same id is
// stored beside it, the same sender's is a duplicate. App-acked rows older than a cutoff are pruned,
// unacknowledged ones never.
TEST_F(StoreInbox, UniquePerSenderAndAckedRowsArePruned) {
  auto s = open_ok();
  ASSERT_TRUE(s);
  WriteBatch b;
  b.inbox_inserts.push_back(inbox(1, 100));
  auto other = inbox(1, 101);
  other.from = peer_id("mallory");
  other.envelope = Bytes(8, 0x77);
  b.inbox_inserts.push_back(other);
  b.inbox_inserts.push_back(inbox(1, 102));  // alice again: skipped
  b.inbox_inserts.push_back(inbox(2, 200));
  b.inbox_inserts.push_back(inbox(3, 300));
  ASSERT_FALSE(s->apply(b));
  auto all = s->inbox_after(0, false, SIZE_MAX);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[1].from, peer_id("mallory"));
  EXPECT_EQ(all[1].envelope, Bytes(8, 0x77));
  EXPECT_EQ(s->inbox_unacked_senders().size(), 4u);

  WriteBatch acks;
  acks.inbox_app_acks = {key(1, 0x11), key(3, 0x11)};  // both rows of id 1, and id 3
  ASSERT_FALSE(s->apply(acks));
  ASSERT_EQ(s->inbox_unacked_senders().size(), 1u);
  EXPECT_EQ(s->inbox_unacked_senders()[0].id, key(2, 0x11));

  WriteBatch prune;
  prune.inbox_prune_acked_before_ms = 250;  // ids 1 (both) acked and older: gone; 2 unacked; 3 newer
  ASSERT_FALSE(s->apply(prune));
  all = s->inbox_after(0, false, SIZE_MAX);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, key(2, 0x11));
  EXPECT_EQ(all[1].id, key(3, 0x11));
  EXPECT_FALSE(s->seen(key(1, 0x11)));
  WriteBatch everything;
  everything.inbox_app_acks = {key(3, 0x11)};
  everything.inbox_prune_acked_before_ms = 1'000'000;
  ASSERT_FALSE(s->apply(everything));
  all = s->inbox_after(0, false, SIZE_MAX);
  ASSERT_EQ(all.size(), 2u);  // the unacked one stays, and the newest row (seqs are never reused)
  EXPECT_EQ(all[0].id, key(2, 0x11));
  EXPECT_EQ(all[1].id, key(3, 0x11));
  const auto newest = all[1].seq;
  WriteBatch next;
  next.inbox_inserts.push_back(inbox(4, 400));
  ASSERT_FALSE(s->apply(next));
  EXPECT_GT(s->inbox_after(0, false, SIZE_MAX).back().seq, newest);
}
