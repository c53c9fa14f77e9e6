// A `hyphae signal` server as a child process on a free port (optionally inside a named network
// namespace, listening on that namespace's address), for the tests that need one.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fstream>
#include <stdexcept>

#include "core/identity.hpp"
#include "harness.hpp"
#include "signaling/signal_core.hpp"
#include "util/json_util.hpp"

namespace hyphae::testing {

struct SignalProcess {
  TempDir dir{"hyphae-signal-"};
  ChildProcess process;
  unsigned short port = 0;
  std::string host = "127.0.0.1";

  SignalProcess() : SignalProcess("", "127.0.0.1") {}
  // `netns` empty: this process's namespace.
  SignalProcess(const std::string& netns, std::string listen_host, std::vector<std::string> extra = {})
      : host(std::move(listen_host)) {
    using namespace std::chrono_literals;
    const auto port_file = dir.path() / "port";
    std::vector<std::string> args{"signal", "--listen", host + ":0", "--port-file", port_file.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    if (netns.empty()) {
      process = ChildProcess(hyphae_binary(), args, dir.path() / "signal.log");
    } else {
      std::vector<std::string> wrapped{"netns", "exec", netns, hyphae_binary().string()};
      wrapped.insert(wrapped.end(), args.begin(), args.end());
      process = ChildProcess("/usr/sbin/ip", wrapped, dir.path() / "signal.log");
    }
    if (!wait_until(
            [&] { return std::filesystem::exists(port_file) && std::filesystem::file_size(port_file) > 0; },
            10s))
      throw std::runtime_error("hyphae signal did not start");
    std::ifstream(port_file) >> port;
  }
  std::string url() const { return "ws://" + host + ":" + std::to_string(port); }
  // The multiaddr a node at this server is reached by over WebRTC.
  std::string webrtc_address() const {
    return "/ip4/" + host + "/tcp/" + std::to_string(port) + "/ws/p2p-webrtc-star";
  }
};

// A plain WebSocket device at /{deviceId}.
struct WsDevice {
  boost::asio::io_context io;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws{io};
  WsDevice(unsigned short port, const std::string& device_id) {
    boost::asio::ip::tcp::resolver resolver(io);
    boost::beast::get_lowest_layer(ws).connect(resolver.resolve("127.0.0.1", std::to_string(port)));
    ws.handshake("127.0.0.1", "/" + device_id);
  }
  void send(const nlohmann::json& m) { ws.write(boost::asio::buffer(m.dump())); }
  // The next message, or null when the connection closed.
  nlohmann::json next() {
    boost::beast::flat_buffer buffer;
    boost::beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(5));
    boost::system::error_code ec;
    ws.read(buffer, ec);
    if (ec) return nullptr;
    return nlohmann::json::parse(boost::beast::buffers_to_string(buffer.data()));
  }
  void authenticate(const Identity& id) {
    auto challenge = next();
    ASSERT_EQ(challenge["type"], "CHALLENGE");
    const auto text = signaling::SignalCore::challenge_message(challenge["nonce"].get<std::string>(),
                                                               id.peer_id().to_string());
    const auto sig = id.sign(ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    send({{"type", "AUTH"}, {"signature", base64_encode(ByteView(sig.data(), sig.size()))}});
    ASSERT_EQ(next()["type"], "AUTHENTICATED");
  }
};

}  // namespace hyphae::testing
