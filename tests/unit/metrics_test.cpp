#include <gtest/gtest.h>

#include "metrics/registry.hpp"

namespace hyphae::metrics {
namespace {

TEST(Metrics, RendersPrometheusTextFormat) {
  Registry r;
  r.counter("p2p_messages_sent_total", "Messages sent", {{"transport", "tcp"}}).inc(3);
  r.counter("p2p_messages_sent_total", "ignored", {{"transport", "bitchat"}}).inc();
  r.gauge("p2p_active_connections", "Live links").set(2);
  auto& h = r.histogram("p2p_message_latency_seconds", "Latency", {0.01, 0.1, 1}, {{"transport", "tcp"}});
  h.observe(0.005);
  h.observe(0.05);
  h.observe(0.05);
  h.observe(5);
  auto text = r.render();
  EXPECT_NE(
      text.find("# HELP p2p_messages_sent_total Messages sent\n# TYPE p2p_messages_sent_total counter\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("p2p_messages_sent_total{transport=\"tcp\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("p2p_messages_sent_total{transport=\"bitchat\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("p2p_active_connections 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("p2p_message_latency_seconds_bucket{transport=\"tcp\",le=\"0.01\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("p2p_message_latency_seconds_bucket{transport=\"tcp\",le=\"0.10000000000000001\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("p2p_message_latency_seconds_bucket{transport=\"tcp\",le=\"+Inf\"} 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("p2p_message_latency_seconds_count{transport=\"tcp\"} 4\n"), std::string::npos);
  EXPECT_EQ(render_labels({{"k", "a\"b\\c"}}), "{k=\"a\\\"b\\\\c\"}");
  EXPECT_THROW(r.gauge("p2p_messages_sent_total", "wrong kind"), std::logic_error);
}

}  // namespace
}  // namespace hyphae::metrics
