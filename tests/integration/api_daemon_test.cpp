// The API of a real `hyphae node` process: a payload that is not UTF-8 crosses two daemons and is
// streamed as payload_base64 (the receiving daemon used to exit, and again on every replay), and a
// non-loopback api_listen is served but warned about.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fstream>
#include <sstream>

#include "harness.hpp"
#include "util/json_util.hpp"

namespace hyphae::testing {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The node's message stream, read by the test; it acknowledges nothing.
class UnackedStream {
 public:
  explicit UnackedStream(LocalNode& node) {
    ws_.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), node.endpoint().port});
    ws_.handshake("127.0.0.1", "/v1/p2p/messages/stream?token=" + node.endpoint().token);
  }
  // The next `count` frames (fewer if the stream ends or stays silent for 10 s).
  std::vector<nlohmann::json> read(std::size_t count) {
    std::vector<nlohmann::json> frames;
    while (frames.size() < count) {
      boost::beast::flat_buffer buffer;
      boost::system::error_code ec = boost::asio::error::would_block;
      ws_.async_read(buffer, [&](boost::system::error_code e, std::size_t) { ec = e; });
      io_.restart();
      io_.run_for(std::chrono::seconds(10));
      if (ec) break;
      frames.push_back(nlohmann::json::parse(boost::beast::buffers_to_string(buffer.data()), nullptr, false));
    }
    return frames;
  }

 private:
  boost::asio::io_context io_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_{io_};
};

TEST(ApiDaemon, APayloadThatIsNotUtf8IsStreamedAsBase64AndTheDaemonSurvivesTheReplay) {
  NodePair p;
  const std::string surrogate = "\xed\xa0\x80", overlong = "\xc0\x80";
  const std::vector<Bytes> payloads{Bytes(surrogate.begin(), surrogate.end()),
                                    Bytes(overlong.begin(), overlong.end())};
  // Live: b's stream is open when the messages arrive (the handler that runs after the inbox
  // commit is where the daemon used to die).
  auto live = std::make_unique<UnackedStream>(p.b);
  for (const auto& raw : payloads)
    ok(p.a.api().request("POST", "/v1/messages",
                         nlohmann::json{{"to", p.b.peer_id()}, {"payload_base64", base64_encode(raw)}}),
       201);
  auto check = [&](const std::vector<nlohmann::json>& frames) {
    ASSERT_EQ(frames.size(), payloads.size());
    for (std::size_t i = 0; i < frames.size(); ++i) {
      EXPECT_FALSE(frames[i].contains("payload")) << frames[i].dump();
      EXPECT_EQ(base64_decode(frames[i].value("payload_base64", "")), payloads[i]);
    }
  };
  check(live->read(payloads.size()));
  live.reset();
  ASSERT_TRUE(p.b.running()) << read_file(p.b.log_file());
  // Replayed on the next subscription, since nothing was acknowledged.
  check(UnackedStream(p.b).read(payloads.size()));
  ASSERT_TRUE(p.b.running()) << read_file(p.b.log_file());
  auto inbox = ok(p.b.api().request("GET", "/v1/messages?after=0"));
  ASSERT_EQ(inbox["messages"].size(), 2u);
  EXPECT_EQ(inbox["messages"][0]["payload_base64"], base64_encode(Bytes(surrogate.begin(), surrogate.end())));
  ok(p.b.api().request("GET", "/v1/p2p/status"));
}

TEST(ApiDaemon, ANonLoopbackApiListenIsWarnedAboutAndStillServed) {
  TempDir dir;
  const auto config = dir.path() / "node.yaml";
  std::ofstream(config) << "api_listen: 0.0.0.0:0\n";
  LocalNode node("wide", hyphae_binary(), dir.path() / "wide");
  node.set_config_file(config);
  node.start();
  ok(node.api().request("GET", "/v1/p2p/status"));
  EXPECT_NE(read_file(node.log_file()).find("is not a loopback address"), std::string::npos);
}

}  // namespace
}  // namespace hyphae::testing
