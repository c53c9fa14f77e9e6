// Fuzz target: the signaling server's frames. The input is parsed as an Engine.IO packet and the
// Socket.IO packet inside it (what parses must encode to a frame that parses to the same thing),
// and handed to the signaling core as one plain WebSocket message from an authenticated device
// (whatever it is, the core answers or closes; it never throws). The first byte picks whether
// the device is authenticated.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/identity.hpp"
#include "signaling/signal_core.hpp"
#include "signaling/socket_io.hpp"
#include "util/json_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyphae::signaling;
  if (size == 0) return 0;
  const bool authenticated = data[0] & 1;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (auto engine = parse_engine_packet(text); engine && engine->type == '4') {
    if (auto packet = parse_socket_io_packet(engine->data)) {
      const auto frame = encode_socket_io_frame(*packet);
      auto again = parse_socket_io_packet(std::string_view(frame).substr(1));
      if (!again || encode_socket_io_frame(*again) != frame) std::abort();
    }
  }
  static const auto alice = hyphae::Identity::generate();
  static const auto bob = hyphae::Identity::generate();
  SignalOptions options;
  options.max_message_bytes = 4096;
  SignalCore core(options);
  core.connected(1, alice.peer_id().to_string(), 0);
  core.connected(2, bob.peer_id().to_string(), 0);
  if (authenticated) {
    for (auto [conn, id] : {std::pair{1ull, &alice}, std::pair{2ull, &bob}}) {
      const auto message = SignalCore::challenge_message(*core.challenge_of(conn), id->peer_id().to_string());
      const auto sig =
          id->sign(hyphae::ByteView(reinterpret_cast<const std::uint8_t*>(message.data()), message.size()));
      core.received(
          conn,
          nlohmann::json{{"type", "AUTH"},
                         {"signature", hyphae::base64_encode(hyphae::ByteView(sig.data(), sig.size()))}}
              .dump(),
          0);
    }
  }
  auto actions = core.received(1, text, 1);
  for (const auto& out : actions.send)
    if (!out.message.is_object() || !out.message.contains("type")) std::abort();
  core.disconnected(1);
  core.disconnected(2);
  if (core.connections() != 0 || core.rooms() != 0) std::abort();
  return 0;
}
