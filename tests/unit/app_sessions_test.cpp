// AppSessions: the web app's login codes and sessions stay bounded under a flood, a code works
// once, and the cookie parser finds the session among other cookies.
#include "api/app_sessions.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hyphae::api {
namespace {

TEST(AppSessions, AFloodOfCodesAndSessionsKeepsOnlyTheNewest) {
  AppSessions s;
  std::vector<std::string> codes;
  for (int i = 0; i < 40; ++i) codes.push_back(s.new_code(1));
  EXPECT_EQ(s.codes(), AppSessions::kMaxCodes);
  EXPECT_FALSE(s.redeem(codes.front(), 2));  // the oldest were dropped
  auto session = s.redeem(codes.back(), 2);
  ASSERT_TRUE(session);
  EXPECT_FALSE(s.redeem(codes.back(), 3));  // once
  const std::string first_cookie = "x=1; hyphae_session=" + session->id;
  ASSERT_NE(s.find(first_cookie, 4), nullptr);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(s.redeem(s.new_code(5), 5));
  EXPECT_EQ(s.sessions(), AppSessions::kMaxSessions);
  EXPECT_EQ(s.find(first_cookie, 6), nullptr);  // the oldest session ended
}

TEST(AppSessions, CodesAndSessionsExpire) {
  AppSessions s;
  const auto code = s.new_code(0);
  EXPECT_FALSE(s.redeem(code, AppSessions::kCodeTtlMs));
  auto session = s.redeem(s.new_code(0), 1);
  ASSERT_TRUE(session);
  EXPECT_NE(s.find("hyphae_session=" + session->id, AppSessions::kSessionTtlMs), nullptr);
  EXPECT_EQ(s.find("hyphae_session=" + session->id, AppSessions::kSessionTtlMs + 1), nullptr);
  EXPECT_EQ(AppSessions::cookie_value("a=b;hyphae_session=ID; c=d"), "ID");
  EXPECT_EQ(AppSessions::cookie_value("hyphae_sessionX=1"), "");
}

}  // namespace
}  // namespace hyphae::api
