// `hyphae demo`, the README's main command, runs to its end: three nodes, a node going down and
// coming back, the internet lost and found, then the mixnet. Its own checks throw on any step
// that does not happen, so a zero exit and its last line mean every act held.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace hyphae::testing {
namespace {

TEST(Demo, RunsToTheEndWithEveryActDone) {
  TempDir dir("hyphae-demo-test-");
  const auto out = run_cli(dir.path(), "demo");
  EXPECT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("Done: every message was delivered and acknowledged exactly once."),
            std::string::npos)
      << out.text;
  EXPECT_NE(out.text.find("via betanet"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("via mesh"), std::string::npos) << out.text;
}

}  // namespace
}  // namespace hyphae::testing
