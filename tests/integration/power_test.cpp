// The power policy with real node processes (seed 002): a battery override below 20 % moves
// ordinary traffic to the offline mesh, EMERGENCY messages still take the fastest transport, the
// keepalive period grows, and clearing the override returns to the measured state.
#include "two_transports.hpp"

namespace hyphae::testing {
namespace {

TEST(Power, LowBatteryMovesTrafficToTheMeshButEmergencyStaysFast) {
  TwoTransportPair p;
  auto& api = p.a.api();
  auto measured = ok(api.request("GET", "/v1/p2p/power"));
  EXPECT_TRUE(measured["measured"]["battery"].is_null()) << measured.dump();  // the fake sysfs is empty
  EXPECT_EQ(measured["policy"]["battery_level"], "none");
  auto before = p.send("on mains");
  ASSERT_TRUE(wait_until([&] { return p.delivered(before); }, std::chrono::seconds(10)));
  EXPECT_EQ(p.status(before)["transport"], "tcp");

  auto low = ok(api.request("POST", "/v1/p2p/power", nlohmann::json{{"battery", 0.15}, {"charging", false}}));
  EXPECT_EQ(low["policy"]["battery_level"], "low") << low.dump();
  EXPECT_EQ(low["policy"]["allowed_transports"], "offline_mesh");
  EXPECT_EQ(low["policy"]["keepalive_interval_ms"], 4 * 15000) << low.dump();  // seed 002: x4 on low
  EXPECT_EQ(low["effective"]["battery"], 0.15);

  auto normal = p.send("on 15 %");
  ASSERT_TRUE(wait_until([&] { return p.delivered(normal); }, std::chrono::seconds(10)));
  EXPECT_EQ(p.status(normal)["transport"], "lan");
  EXPECT_NE(p.status(normal)["transport_reason"].get<std::string>().find("battery < 20%"), std::string::npos)
      << p.status(normal).dump();
  auto urgent = p.send("EMERGENCY on 15 %", {{"priority", "emergency"}});
  ASSERT_TRUE(wait_until([&] { return p.delivered(urgent); }, std::chrono::seconds(10)));
  EXPECT_EQ(p.status(urgent)["transport"], "tcp");
  EXPECT_NE(p.status(urgent)["transport_reason"].get<std::string>().find("EMERGENCY"), std::string::npos)
      << p.status(urgent).dump();

  auto cleared = ok(api.request("POST", "/v1/p2p/power", nlohmann::json{{"battery", nullptr}}));
  EXPECT_EQ(cleared["policy"]["battery_level"], "none");
  auto after = p.send("back on mains");
  ASSERT_TRUE(wait_until([&] { return p.delivered(after); }, std::chrono::seconds(10)));
  EXPECT_EQ(p.status(after)["transport"], "tcp");

  auto bad = api.request("POST", "/v1/p2p/power", nlohmann::json{{"battery", 1.5}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body["error"].get<std::string>().find("'battery' must be 0..1"), std::string::npos);
  auto metrics = api.request("GET", "/metrics").raw;
  EXPECT_NE(metrics.find("p2p_battery_fraction -1"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace hyphae::testing
