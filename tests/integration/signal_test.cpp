// The signaling server as a real process: the npm socket.io-client package (what browser apps use)
// joins a room, sees the other member and relays an offer and an answer; a plain WebSocket device
// proves its PeerId before anything reaches it; a forged signature, a bad device id and an
// oversized frame close that connection only, and the server serves on.
#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fstream>
#include <future>
#include <thread>

#include "core/error.hpp"
#include "core/identity.hpp"
#include "harness.hpp"
#include "signal_process.hpp"
#include "signaling/signal_client.hpp"
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

// A node's SignalClient under a flood of sends: at most 256 wait (the rest are refused at once with
// backpressure), and the writer paces them under the server's rate limit, so every accepted message
// arrives, in order, and the server never closes the connection for going over its rate.
TEST(Signaling, AFloodOfSignalClientSendsStopsAtItsBoundAndEveryAcceptedMessageArrives) {
  SignalProcess server;
  const auto alice = Identity::generate(), bob = Identity::generate();
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  auto log = std::make_shared<spdlog::logger>("signal-flood");
  signaling::SignalClientOptions options;
  options.host = "127.0.0.1";
  options.port = server.port;
  std::atomic<int> ready{0}, received{0};
  std::atomic<bool> in_order{true};
  signaling::SignalClientCallbacks alice_callbacks, bob_callbacks;
  alice_callbacks.on_ready = [&] { ++ready; };
  bob_callbacks.on_ready = [&] { ++ready; };
  bob_callbacks.on_message = [&](const nlohmann::json& m) {
    if (m.value("type", "") != "OFFER" || m.value("from", "") != alice.peer_id().to_string()) return;
    if (m["payload"].value("n", -1) != received.load()) in_order = false;
    ++received;
  };
  auto alice_strand = asio::make_strand(io.get_executor());
  signaling::SignalClient a(alice_strand, alice, options, alice_callbacks, log);
  auto bob_strand = asio::make_strand(io.get_executor());
  signaling::SignalClient b(bob_strand, bob, options, bob_callbacks, log);
  a.start();
  b.start();
  std::thread runner([&] { io.run(); });
  ASSERT_TRUE(wait_until([&] { return ready.load() == 2; }, 10s));

  std::promise<std::pair<int, int>> flooded;
  asio::post(alice_strand, [&] {
    int accepted = 0, refused = 0;
    for (int n = 0; n < 1000; ++n) {
      const auto ec = a.send("OFFER", bob.peer_id(), nlohmann::json{{"n", n}});
      if (!ec)
        ++accepted;
      else if (ec == Errc::backpressure)
        ++refused;
    }
    flooded.set_value({accepted, refused});
  });
  const auto [accepted, refused] = flooded.get_future().get();
  EXPECT_EQ(accepted, 256);
  EXPECT_EQ(refused, 744);
  // 256 at 40/s after a burst of 80: about 4.5 s.
  EXPECT_TRUE(wait_until([&] { return received.load() >= 256; }, 20s)) << received.load();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(received.load(), 256);
  EXPECT_TRUE(in_order.load());

  std::promise<nlohmann::json> status;
  asio::post(alice_strand, [&] { status.set_value(a.status_json()); });
  const auto s = status.get_future().get();
  EXPECT_EQ(s["connects"], 1) << s.dump();
  EXPECT_EQ(s["failures"], 0) << s.dump();
  EXPECT_GT(s["paced"].get<int>(), 0) << s.dump();
  EXPECT_EQ(s["signed_in"], true);
  EXPECT_TRUE(server.process.running());

  asio::post(alice_strand, [&] { a.stop(); });
  asio::post(bob_strand, [&] { b.stop(); });
  guard.reset();
  std::this_thread::sleep_for(100ms);
  io.stop();
  runner.join();
}

}  // namespace
}  // namespace hyphae::testing
