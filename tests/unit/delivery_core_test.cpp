// DeliveryCore on a ManualClock: each case is a script of events and expectations, run against a
// scripted set of links. Nothing here waits in real time: a 2-second ack deadline passes with
// `advance 2000`, and "nothing happened" is checked at the exact millisecond before a deadline.
//
// Script commands (one per string):
//   transports T:TIMEOUT ...    configure transports (index: ack timeout ms); first command
//   up T | down T               a session to the peer comes up / goes down on transport T
//   unavailable T               transport T goes away altogether
//   send X [prio P] [red R] [ttl S] [pref T]   a new durable message labelled X
//   pump                        send what the core says needs sending; each copy is logged X@T
//   refuse T                    transport T refuses sends (queue full) until `accept T`
//   accept T
//   unsent T BYTES              transport T reports that many bytes not yet on the socket
//   advance MS                  move the clock and handle what is due; timeouts logged X@T (X@T> when
//                               it fails over), expiries logged X
//   ack X T                     the recipient's ack for X arrives over T
//   restart                     a new core, reloaded from the "store" (every message not delivered)
//   expect sent A B ... | -     the copies sent since the last check (- for none)
//   expect timeouts A ... | -   the ack timeouts since the last check
//   expect expired A ... | -
//   expect state X STATE        queued, sent, delivered or failed
//   expect via X T [from F timeout|lost]   the transport that carried X (and the failover)
//   expect pending N
#include "delivery/delivery_core.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/identity.hpp"

namespace hyphae::delivery {
namespace {

class ScriptedLinks final : public Links {
 public:
  struct Link {
    std::uint64_t timeout_ms = 2000;
    std::uint64_t session = 0;
    bool available = true;
    bool refusing = false;
    std::size_t unsent = 0;
  };
  std::vector<Link> links;

  std::uint64_t session(TransportIndex t, const PeerId&) const override {
    const auto& l = links.at(t.index());
    return l.available ? l.session : 0;
  }
  // The lowest-numbered live transports, as many as the redundancy asks for; a preference forces one.
  Route route(const PeerId& peer, const OutboundMessage& m, TransportSet excluded) override {
    Route r;
    for (std::size_t i = 0; i < links.size(); ++i) {
      const TransportIndex t(i);
      if (!session(t, peer) || excluded.contains(t)) continue;
      if (!m.preference.empty() && m.preference != std::to_string(i)) continue;
      if (!r.primary) r.primary = t;
      if (r.send.size() < m.redundancy) r.send.insert(t);
    }
    return r;
  }
  std::uint64_t ack_timeout_ms(TransportIndex t) const override { return links.at(t.index()).timeout_ms; }
  std::size_t unsent_bytes(TransportIndex t, const PeerId&) const override {
    return links.at(t.index()).unsent;
  }
};

struct Case {
  const char* name;
  std::vector<const char*> script;
};
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

class Script {
 public:
  Script() : peer_(Identity::from_seed(std::array<std::uint8_t, 32>{7}).peer_id()) { make_core(); }

  void run(const Case& c) {
    int line = 0;
    for (const char* command : c.script) {
      ++line;
      SCOPED_TRACE(std::string(c.name) + ", line " + std::to_string(line) + ": " + command);
      step(command);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

 private:
  static std::vector<std::string> words(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
  }
  static std::string joined(std::vector<std::string>& log) {
    std::string out;
    for (const auto& s : log) out += (out.empty() ? "" : " ") + s;
    log.clear();
    return out.empty() ? "-" : out;
  }
  static std::string rest(const std::vector<std::string>& w, std::size_t from) {
    std::string out;
    for (std::size_t i = from; i < w.size(); ++i) out += (out.empty() ? "" : " ") + w[i];
    return out;
  }
  TransportIndex index(const std::string& s) { return TransportIndex(std::stoul(s)); }
  OutboundMessage& message(const std::string& label) {
    auto* m = core_->find(ids_.at(label));
    if (!m) throw std::runtime_error("no message " + label + " in the core");
    return *m;
  }
  void make_core() { core_ = std::make_unique<DeliveryCore>(links_, clock_, DeliverySettings{}); }

  void step(const std::string& command) {
    const auto w = words(command);
    const auto& verb = w.at(0);
    if (verb == "transports") {
      links_.links.clear();
      for (std::size_t i = 1; i < w.size(); ++i)
        links_.links.push_back(ScriptedLinks::Link{std::stoull(w[i].substr(w[i].find(':') + 1))});
    } else if (verb == "up") {
      links_.links.at(index(w[1]).index()).session = ++next_session_;
      core_->session_up(index(w[1]), peer_);
    } else if (verb == "down") {
      auto& l = links_.links.at(index(w[1]).index());
      const auto session = std::exchange(l.session, 0);
      core_->session_down(index(w[1]), peer_, session);
    } else if (verb == "unavailable") {
      links_.links.at(index(w[1]).index()).available = false;
      core_->transport_unavailable(index(w[1]));
    } else if (verb == "send") {
      OutboundMessage m;
      m.to = peer_;
      m.wire = Bytes(100, 0x42);
      m.created_ms = m.updated_ms = clock_.wall_ms();
      for (std::size_t i = 2; i + 1 < w.size(); i += 2) {
        if (w[i] == "prio") m.priority = static_cast<std::uint8_t>(std::stoi(w[i + 1]));
        if (w[i] == "red") m.redundancy = static_cast<std::uint8_t>(std::stoi(w[i + 1]));
        if (w[i] == "ttl") m.expires_ms = clock_.wall_ms() + std::stoull(w[i + 1]) * 1000;
        if (w[i] == "pref") m.preference = w[i + 1];
      }
      const auto id = MessageId::generate();
      ids_[w[1]] = id;
      labels_[id] = w[1];
      store_[w[1]] = m;
      core_->add(id, std::move(m));
    } else if (verb == "pump") {
      pump();
    } else if (verb == "refuse" || verb == "accept") {
      links_.links.at(index(w[1]).index()).refusing = verb == "refuse";
    } else if (verb == "unsent") {
      links_.links.at(index(w[1]).index()).unsent = std::stoull(w[2]);
    } else if (verb == "advance") {
      clock_.advance(std::stoull(w[1]));
      auto due = core_->advance();
      for (const auto& t : due.timeouts)
        timeouts_.push_back(labels_.at(t.id) + "@" + std::to_string(t.transport.index()) +
                            (t.failed_over ? ">" : ""));
      for (const auto& id : due.expired) {
        expired_.push_back(labels_.at(id));
        store_.erase(labels_.at(id));
      }
      if (!due.resend.empty()) pump();
    } else if (verb == "ack") {
      if (core_->acked(ids_.at(w[1]), peer_, index(w[2]))) store_.erase(w[1]);
    } else if (verb == "restart") {
      // What the store holds comes back as queued rows; the sessions of the old process are gone.
      make_core();
      for (auto& l : links_.links) l.session = 0;
      for (const auto& [label, row] : store_) core_->add(ids_.at(label), row);
    } else if (verb == "expect") {
      expect(w);
    } else {
      FAIL() << "unknown command " << verb;
    }
  }

  // Like the node: first the core picks what needs sending (admission), then each copy is handed
  // to its transport (transmission); a refused primary send rewinds the peer's lanes.
  void pump() {
    std::vector<std::pair<MessageId, Route>> picked;
    core_->visit_sendable(peer_, [&](const MessageId& id, OutboundMessage&, const Route& route, int) {
      picked.emplace_back(id, route);
      return DeliveryCore::Visit::take;
    });
    for (const auto& [id, route] : picked) {
      auto* m = core_->find(id);
      for (auto t : route.send) {
        const auto session = links_.session(t, peer_);
        if (!session || m->carried_on(session)) continue;
        if (links_.links.at(t.index()).refusing) {
          if (t == route.primary) core_->rewind(peer_);
          continue;
        }
        core_->transmitted(id, *m, t, session, t == route.primary, route.why);
        sent_.push_back(labels_.at(id) + "@" + std::to_string(t.index()));
      }
    }
  }

  void expect(const std::vector<std::string>& w) {
    const auto& what = w.at(1);
    if (what == "sent") {
      EXPECT_EQ(joined(sent_), rest(w, 2));
    } else if (what == "timeouts") {
      EXPECT_EQ(joined(timeouts_), rest(w, 2));
    } else if (what == "expired") {
      EXPECT_EQ(joined(expired_), rest(w, 2));
    } else if (what == "state") {
      EXPECT_EQ(store::to_string(message(w[2]).state), w[3]);
    } else if (what == "via") {
      const auto& m = message(w[2]);
      EXPECT_EQ(m.via.index(), std::stoul(w[3]));
      if (w.size() > 4) {
        ASSERT_EQ(w.size(), 7u) << "expect via X T from F timeout|lost";
        EXPECT_EQ(m.failed_from.index(), std::stoul(w[5]));
        EXPECT_EQ(m.failover_cause,
                  w[6] == "timeout" ? FailoverCause::ack_timeout : FailoverCause::session_lost);
      } else {
        EXPECT_FALSE(m.failed_from.valid());
      }
    } else if (what == "pending") {
      EXPECT_EQ(core_->pending_count(), std::stoul(w[2]));
    } else {
      FAIL() << "unknown expectation " << what;
    }
  }

  PeerId peer_;
  ManualClock clock_;
  ScriptedLinks links_;
  std::unique_ptr<DeliveryCore> core_;
  std::uint64_t next_session_ = 0;
  std::map<std::string, MessageId> ids_;
  std::map<MessageId, std::string> labels_;
  std::map<std::string, OutboundMessage> store_;  // what a restart reloads
  std::vector<std::string> sent_, timeouts_, expired_;
};

class DeliveryCoreScript : public ::testing::TestWithParam<Case> {};

TEST_P(DeliveryCoreScript, Runs) {
  Script script;
  script.run(GetParam());
}

const Case kAckTimeout[] = {
    {"an ack within the deadline: no timeout, delivered",
     {"transports 0:2000", "up 0", "send a", "pump", "expect sent a@0", "advance 1999", "expect timeouts -",
      "ack a 0", "expect state a delivered", "advance 5000", "expect timeouts -", "expect pending 0"}},
    {"no ack: the deadline fires at exactly the transport's timeout",
     {"transports 0:2000", "up 0", "send a", "pump", "expect sent a@0", "advance 1999", "expect timeouts -",
      "advance 1", "expect timeouts a@0", "expect state a sent", "expect sent -"}},
    {"each transport has its own timeout: the mixnet's is longer",
     {"transports 0:2000 1:9000", "up 1", "send a", "pump", "expect sent a@1", "advance 8999",
      "expect timeouts -", "advance 1", "expect timeouts a@1"}},
    {"the clock starts at the socket: a record still queued behind unsent bytes does not time out",
     {"transports 0:2000", "up 0", "send a", "pump", "unsent 0 65536", "advance 2000", "expect timeouts -",
      "unsent 0 0", "advance 1999", "expect timeouts -", "advance 1", "expect timeouts a@0"}},
    {"a link that never drains still times out (after the socket wait bound)",
     {"transports 0:2000 1:2000", "up 0", "up 1", "send a", "pump", "expect sent a@0", "unsent 0 65536",
      "advance 2000", "advance 2000", "advance 2000", "expect timeouts -", "advance 2000",
      "expect timeouts a@0>", "expect sent a@1"}},
    {"a late ack after the timeout still delivers it",
     {"transports 0:2000", "up 0", "send a", "pump", "advance 2000", "expect timeouts a@0", "ack a 0",
      "expect state a delivered"}},
};

const Case kFailover[] = {
    {"ack timeout: fails over to the other transport, credited as a timeout failover",
     {"transports 0:2000 1:2000", "up 0", "up 1", "send a", "pump", "expect sent a@0", "advance 2000",
      "expect timeouts a@0>", "expect sent a@1", "ack a 1", "expect state a delivered",
      "expect via a 1 from 0 timeout"}},
    {"session lost: goes out again over the other transport at once",
     {"transports 0:2000 1:2000", "up 0", "up 1", "send a", "pump", "expect sent a@0", "down 0", "pump",
      "expect sent a@1", "expect via a 1 from 0 lost", "advance 2000", "expect timeouts a@1"}},
    {"no other transport: it waits for its ack where it is, no duplicate",
     {"transports 0:2000", "up 0", "send a", "pump", "expect sent a@0", "advance 2000", "expect timeouts a@0",
      "pump", "expect sent -", "expect state a sent"}},
    {"session lost with nothing else up: waits, and resends when a session comes back",
     {"transports 0:2000", "up 0", "send a", "pump", "expect sent a@0", "down 0", "pump", "expect sent -",
      "expect state a queued", "up 0", "pump", "expect sent a@0", "expect via a 0"}},
    {"a transport that timed out is a candidate again once its session is new",
     {"transports 0:2000 1:2000", "up 0", "up 1", "send a", "pump", "expect sent a@0", "advance 2000",
      "expect timeouts a@0>", "expect sent a@1", "down 1", "up 0", "pump", "expect sent a@0"}},
    {"failovers are bounded (three by default), then it stays where it is",
     {"transports 0:1000 1:1000",
      "up 0",
      "up 1",
      "send a",
      "pump",
      "expect sent a@0",
      "advance 1000",
      "expect timeouts a@0>",
      "expect sent a@1",
      "down 0",
      "up 0",
      "advance 1000",
      "expect timeouts a@1>",
      "expect sent a@0",
      "down 1",
      "up 1",
      "advance 1000",
      "expect timeouts a@0>",
      "expect sent a@1",
      "down 0",
      "up 0",
      "advance 1000",
      "expect timeouts a@1",
      "expect sent -"}},
    {"no failover past failover_timeout_ms after the first transmission",
     {"transports 0:11000 1:2000", "up 0", "up 1", "send a", "pump", "expect sent a@0", "advance 11000",
      "expect timeouts a@0", "expect sent -"}},
    {"a transport going away requeues what it carried",
     {"transports 0:2000 1:2000", "up 0", "up 1", "send a", "pump", "expect sent a@0", "unavailable 0",
      "pump", "expect sent a@1", "expect via a 1 from 0 lost"}},
    {"a refused send keeps the message waiting, then it goes",
     {"transports 0:2000", "up 0", "refuse 0", "send a", "pump", "expect sent -", "expect state a queued",
      "accept 0", "pump", "expect sent a@0"}},
};

const Case kRedundancy[] = {
    {"redundancy 2: a copy on each transport, one deadline; the first ack wins",
     {"transports 0:2000 1:2000", "up 0", "up 1", "send a red 2", "pump", "expect sent a@0 a@1", "ack a 1",
      "expect state a delivered", "expect via a 1", "advance 5000", "expect timeouts -"}},
    {"redundancy 2 with one session up: the second copy goes when the other comes up",
     {"transports 0:2000 1:2000", "up 0", "send a red 2", "pump", "expect sent a@0", "up 1", "pump",
      "expect sent a@1", "pump", "expect sent -"}},
    {"a redundant send is not duplicated by a second pump",
     {"transports 0:2000 1:2000 2:2000", "up 0", "up 1", "up 2", "send a red 2", "pump",
      "expect sent a@0 a@1", "pump", "expect sent -"}},
    {"priority lanes: an emergency message overtakes the backlog",
     {"transports 0:2000", "send a prio 3", "send b prio 2", "send c prio 0", "up 0", "pump",
      "expect sent c@0 b@0 a@0"}},
};

const Case kExpiry[] = {
    {"a message whose TTL runs out unacknowledged fails",
     {"transports 0:60000", "up 0", "send a ttl 10", "pump", "advance 9999", "expect expired -", "advance 1",
      "expect expired a", "expect state a failed", "expect pending 0"}},
    {"a message that waits with no session expires too, and is never sent",
     {"transports 0:2000", "send a ttl 5", "advance 5000", "expect expired a", "up 0", "pump",
      "expect sent -"}},
    {"a delivered message does not expire",
     {"transports 0:2000", "up 0", "send a ttl 5", "pump", "ack a 0", "advance 10000", "expect expired -",
      "expect state a delivered"}},
    {"only the expired one of two fails",
     {"transports 0:2000", "send a ttl 5", "send b ttl 50", "advance 6000", "expect expired a", "up 0",
      "pump", "expect sent b@0"}},
};

const Case kRestart[] = {
    {"after a restart an unacknowledged message goes out again",
     {"transports 0:2000", "up 0", "send a", "send b", "pump", "expect sent a@0 b@0", "ack a 0", "restart",
      "expect pending 1", "up 0", "pump", "expect sent b@0", "ack b 0", "expect state b delivered"}},
    {"after a restart nothing is sent before a session is up",
     {"transports 0:2000", "send a", "restart", "pump", "expect sent -", "up 0", "pump", "expect sent a@0"}},
    {"after a restart the ack deadline is armed afresh",
     {"transports 0:2000 1:2000", "up 0", "send a", "pump", "expect sent a@0", "advance 1500", "restart",
      "up 0", "up 1", "pump", "expect sent a@0", "advance 1999", "expect timeouts -", "advance 1",
      "expect timeouts a@0>", "expect sent a@1"}},
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string out;
  for (const char* p = info.param.name; *p; ++p)
    out += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  return out.substr(0, 120);
}

INSTANTIATE_TEST_SUITE_P(AckTimeout, DeliveryCoreScript, ::testing::ValuesIn(kAckTimeout), case_name);
INSTANTIATE_TEST_SUITE_P(Failover, DeliveryCoreScript, ::testing::ValuesIn(kFailover), case_name);
INSTANTIATE_TEST_SUITE_P(Redundancy, DeliveryCoreScript, ::testing::ValuesIn(kRedundancy), case_name);
INSTANTIATE_TEST_SUITE_P(Expiry, DeliveryCoreScript, ::testing::ValuesIn(kExpiry), case_name);
INSTANTIATE_TEST_SUITE_P(Restart, DeliveryCoreScript, ::testing::ValuesIn(kRestart), case_name);

}  // namespace
}  // namespace hyphae::delivery
