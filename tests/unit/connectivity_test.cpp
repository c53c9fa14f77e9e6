// router::Connectivity: precedence of override > fresh probe > internet transports, staleness of
// probe results, and the timestamped history of online/offline switches.
#include "router/connectivity.hpp"

#include <gtest/gtest.h>

using namespace hyphae::router;

TEST(Connectivity, NoEvidenceMeansOfflineWithoutAnEvent) {
  Connectivity c;
  EXPECT_FALSE(c.online());
  EXPECT_EQ(c.basis(), ConnectivityBasis::none);
  EXPECT_TRUE(c.history().empty());
  c.report_transport("bitchat", false, 3, 10);  // offline transports are no evidence
  EXPECT_TRUE(c.history().empty());
  EXPECT_FALSE(c.probe_due(10));  // no probe configured
}

TEST(Connectivity, InternetTransportsDecideWithoutAProbe) {
  Connectivity c;
  c.report_transport("tcp", true, 1, 100);
  EXPECT_TRUE(c.online());
  EXPECT_EQ(c.basis(), ConnectivityBasis::transport);
  EXPECT_EQ(c.since_ms(), 100u);
  c.report_transport("quic", true, 0, 150);
  EXPECT_TRUE(c.online());  // one live link anywhere is enough
  c.report_transport("tcp", true, 0, 200);
  EXPECT_FALSE(c.online());
  ASSERT_EQ(c.history().size(), 2u);
  EXPECT_TRUE(c.history()[0].online);
  EXPECT_EQ(c.history()[0].at_ms, 100u);
  EXPECT_FALSE(c.history()[1].online);
  EXPECT_EQ(c.history()[1].at_ms, 200u);
  EXPECT_EQ(c.history()[1].detail, "tcp: 0 live link(s)");
}

TEST(Connectivity, AFreshProbeBeatsTransportsAndGoesStaleAfterThreeIntervals) {
  Connectivity c(1000);
  EXPECT_TRUE(c.probe_due(0));
  c.report_transport("tcp", true, 2, 0);
  EXPECT_TRUE(c.online());
  c.report_probe(false, "probe 127.0.0.1:9 failed: connection refused", 10);
  EXPECT_FALSE(c.online());  // links to peers on a LAN do not prove the internet
  EXPECT_EQ(c.basis(), ConnectivityBasis::probe);
  EXPECT_FALSE(c.probe_due(500));
  EXPECT_TRUE(c.probe_due(1010));
  c.tick(3009);
  EXPECT_FALSE(c.online());
  c.tick(3010);  // stale: the transports decide again
  EXPECT_TRUE(c.online());
  EXPECT_EQ(c.basis(), ConnectivityBasis::transport);
  EXPECT_EQ(c.history().back().detail, "probe result expired");
}

TEST(Connectivity, OverrideWinsUntilCleared) {
  Connectivity c(1000);
  c.report_probe(true, "probe ok", 0);
  EXPECT_TRUE(c.online());
  c.set_override(false, 5);
  EXPECT_FALSE(c.online());
  EXPECT_EQ(c.basis(), ConnectivityBasis::override_);
  c.report_probe(true, "probe ok", 10);
  EXPECT_FALSE(c.online());
  c.set_override(std::nullopt, 20);
  EXPECT_TRUE(c.online());
  EXPECT_EQ(c.basis(), ConnectivityBasis::probe);
  ASSERT_EQ(c.history().size(), 3u);
  EXPECT_EQ(c.history()[1].detail, "override: offline");
  EXPECT_EQ(to_string(ConnectivityBasis::override_), "override");
}

TEST(Connectivity, HistoryIsBounded) {
  Connectivity c;
  for (std::uint64_t t = 1; t <= 200; ++t) c.report_transport("tcp", true, t % 2, t);
  EXPECT_EQ(c.history().size(), Connectivity::kHistory);
  EXPECT_EQ(c.history().back().at_ms, 200u);
}
