// Fuzz target: a whole BitChat MeshNode (announces, Noise handshakes, encrypted records,
// fragments, broadcasts, REQUEST_SYNC, leave) fed hostile frames on two links. The input is a
// sequence of frames, each a u16 big-endian length and that many bytes; the clock advances 37 ms
// per frame and the node ticks between frames. Whatever arrives, the node must not crash, must
// not grow without bound, and must hand up only records from a session it reported up.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>

#include "bitchat/mesh_node.hpp"

using namespace hyphae;
using namespace hyphae::bitchat;

namespace {
// The corpus was recorded at this time (announces are checked against the clock).
constexpr std::uint64_t kStartMs = 1'767'225'600'000;

const Identity& identity() {
  static const Identity id =
      Identity::from_seed({1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                           17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32});
  return id;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  MeshNodeOptions o;
  o.announce_interval_ms = 1000;
  o.peer_timeout_ms = 3000;
  o.sync_interval_ms = 500;
  MeshNode node(identity(), o);
  std::uint64_t now = kStartMs;
  std::set<std::uint64_t> up;
  auto check = [&](MeshNode::Output&& out) {
    for (const auto& e : out.events) {
      if (e.kind == MeshEvent::Kind::peer_up) up.insert(e.session);
      if (e.kind == MeshEvent::Kind::peer_down) up.erase(e.session);
      if (e.kind == MeshEvent::Kind::record && !up.contains(e.session)) std::abort();
    }
  };
  check(node.start(now));
  check(node.link_up(1, std::nullopt, now));
  check(node.link_up(2, std::nullopt, now));
  std::size_t pos = 0, frames = 0;
  while (pos + 2 <= size && frames < 256) {
    const std::size_t len = static_cast<std::size_t>(data[pos]) << 8 | data[pos + 1];
    pos += 2;
    if (len > size - pos) break;
    bool malformed = false;
    check(node.on_frame(1 + static_cast<LinkId>(frames % 2), ByteView(data + pos, len), now, &malformed));
    pos += len;
    ++frames;
    now += 37;
    check(node.tick(now));
  }
  check(node.tick(now + 60'000));
  if (node.backlog() > (8u << 20)) std::abort();
  return 0;
}
