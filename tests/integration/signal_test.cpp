// The signaling server as a real process: the npm socket.io-client package (what browser apps use)
// joins a room, sees the other member and relays an offer and an answer; a plain WebSocket device
// proves its PeerId before anything reaches it; a forged signature, a bad device id and an
// oversized frame close that connection only, and the server serves on.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fstream>

#include "core/identity.hpp"
#include "harness.hpp"
#include "signal_process.hpp"
#include "signaling/signal_core.hpp"
#include "testnet/local_registry.hpp"
#include "util/json_util.hpp"

namespace hyphae::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using namespace std::chrono_literals;

std::string key_hex(const Identity& id) {
  return to_hex(id.private_key_protobuf());
}

TEST(Signaling, SocketIoClientsJoinARoomSeeEachOtherAndRelayAnOfferAndAnAnswer) {
  const std::filesystem::path js = std::filesystem::path(HYPHAE_SOURCE_DIR) / "tests/js";
  ASSERT_TRUE(std::filesystem::exists(js / "node_modules/socket.io-client"))
      << "npm packages missing: scripts/setup.sh runs `npm ci` in tests/js";
  SignalProcess server;
  const auto alice = Identity::generate(), bob = Identity::generate();
  std::string out;
  const int rc = run_command("node '" + (js / "socketio_signal.mjs").string() + "' http://127.0.0.1:" +
                                 std::to_string(server.port) + " " + alice.peer_id().to_string() + " " +
                                 key_hex(alice) + " " + bob.peer_id().to_string() + " " + key_hex(bob),
                             out);
  ASSERT_EQ(rc, 0) << out;
  auto result = nlohmann::json::parse(out.substr(out.find('{')));
  const auto& seen = result["seen"];
  EXPECT_EQ(seen["bobRoom"]["members"].size(), 2u) << out;
  EXPECT_EQ(seen["peerJoined"]["deviceId"], bob.peer_id().to_string());
  EXPECT_EQ(seen["peerJoined"]["capabilities"]["relay"], true);
  EXPECT_EQ(seen["offer"]["from"], alice.peer_id().to_string());
  EXPECT_EQ(seen["offer"]["payload"]["sdp"], "v=0 offer");
  EXPECT_EQ(seen["answer"]["from"], bob.peer_id().to_string());
  EXPECT_EQ(seen["answer"]["payload"]["sdp"], "v=0 answer");
  EXPECT_TRUE(seen["errors"].empty()) << out;
}

TEST(Signaling, PlainWebSocketDevicesProveTheirPeerIdAndBadClientsAreClosedAlone) {
  SignalProcess server;
  const auto alice = Identity::generate(), bob = Identity::generate();
  WsDevice a(server.port, alice.peer_id().to_string());
  a.authenticate(alice);
  // Mallory claims bob's id but cannot sign for it: closed, and bob's id stays free.
  {
    WsDevice mallory(server.port, bob.peer_id().to_string());
    auto challenge = mallory.next();
    const auto sig = Identity::generate().sign(ByteView(reinterpret_cast<const std::uint8_t*>("x"), 1));
    mallory.send({{"type", "AUTH"}, {"signature", base64_encode(ByteView(sig.data(), sig.size()))}});
    EXPECT_EQ(mallory.next()["type"], "ERROR");
    EXPECT_TRUE(mallory.next().is_null());  // closed
  }
  a.send({{"type", "OFFER"}, {"to", bob.peer_id().to_string()}, {"payload", 1}});
  EXPECT_EQ(a.next()["error"], "that device is not connected");
  // Not a PeerId, an oversized frame: closed.
  {
    WsDevice bad(server.port, "not-a-peer");
    EXPECT_EQ(bad.next()["type"], "ERROR");
    EXPECT_TRUE(bad.next().is_null());
  }
  {
    WsDevice big(server.port, Identity::generate().peer_id().to_string());
    big.next();
    boost::system::error_code ec;
    big.ws.write(asio::buffer(std::string(200 * 1024, 'x')), ec);
    EXPECT_TRUE(big.next().is_null());
  }
  // The real bob gets alice's offer.
  WsDevice b(server.port, bob.peer_id().to_string());
  b.authenticate(bob);
  a.send({{"type", "OFFER"}, {"to", bob.peer_id().to_string()}, {"payload", {{"sdp", "v=0"}}}});
  auto offer = b.next();
  EXPECT_EQ(offer["type"], "OFFER");
  EXPECT_EQ(offer["from"], alice.peer_id().to_string());
  EXPECT_EQ(offer["payload"]["sdp"], "v=0");
  EXPECT_TRUE(server.process.running());
}

}  // namespace
}  // namespace hyphae::testing
