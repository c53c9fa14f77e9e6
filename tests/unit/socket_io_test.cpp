// Socket.IO v4 / Engine.IO v4 packets: the examples of the protocol's own test suite
// (socketio/socket.io-protocol, test-suite/test-suite.js) parse as documented and encode back to
// the same frames; malformed packets are refused.
#include "signaling/socket_io.hpp"

#include <gtest/gtest.h>

namespace hyphae::signaling {
namespace {

TEST(SocketIo, TheProtocolTestSuitesPacketsParseAndEncodeBack) {
  struct Case {
    const char* frame;  // an Engine.IO message frame
    int type;
    const char* nsp;
    std::optional<std::uint64_t> ack;
    std::uint32_t attachments;
    const char* data;  // JSON, or "" for none
  };
  const Case cases[] = {
      {"40", 0, "/", std::nullopt, 0, ""},
      {"40{\"token\":\"1\"}", 0, "/", std::nullopt, 0, "{\"token\":\"1\"}"},
      {"40/admin,", 0, "/admin", std::nullopt, 0, ""},
      {"41", 1, "/", std::nullopt, 0, ""},
      {"42[\"ev\",1]", 2, "/", std::nullopt, 0, "[\"ev\",1]"},
      {"42456[\"ev\",{\"a\":2}]", 2, "/", 456, 0, "[\"ev\",{\"a\":2}]"},
      {"43456[\"answer\"]", 3, "/", 456, 0, "[\"answer\"]"},
      {"44/random,{\"message\":\"Invalid namespace\"}", 4, "/random", std::nullopt, 0,
       "{\"message\":\"Invalid namespace\"}"},
      {"452-[\"m\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]", 5, "/",
       std::nullopt, 2, "[\"m\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]"},
  };
  for (const auto& c : cases) {
    auto engine = parse_engine_packet(c.frame);
    ASSERT_TRUE(engine) << c.frame;
    EXPECT_EQ(engine->type, '4');
    auto p = parse_socket_io_packet(engine->data);
    ASSERT_TRUE(p) << c.frame;
    EXPECT_EQ(p->type, c.type) << c.frame;
    EXPECT_EQ(p->nsp, c.nsp) << c.frame;
    EXPECT_EQ(p->ack_id, c.ack) << c.frame;
    EXPECT_EQ(p->attachments, c.attachments) << c.frame;
    EXPECT_EQ(p->data, *c.data ? nlohmann::json::parse(c.data) : nlohmann::json()) << c.frame;
    EXPECT_EQ(encode_socket_io_frame(*p), c.frame);
  }
}

TEST(SocketIo, EngineIoPacketTypesAndMalformedPacketsAreTold) {
  for (const char* ok : {"0{}", "1", "2", "3", "4x", "5", "6"}) EXPECT_TRUE(parse_engine_packet(ok)) << ok;
  for (const char* bad : {"", "7", "x", "b4AAA"}) EXPECT_FALSE(parse_engine_packet(bad)) << bad;
  for (const char* bad : {"", "7", "2", "2{}", "2[]", "2[1]", "2[\"ev\"", "3[]", "35{}", "1{}", "0[1]",
                          "5[\"m\"]", "5x-[\"m\"]", "21234567890123456789012[\"e\"]", "4444 444"})
    EXPECT_FALSE(parse_socket_io_packet(bad)) << bad;
}

}  // namespace
}  // namespace hyphae::signaling
