// Fuzz target: bytes an HTX peer may send. The first byte picks:
//   0: the rest through the frame parser alone (any result; a parsed frame lies inside the input);
//   1: the rest fed, in two pieces, to a server session right after its handshake: any result
//      but a crash, and a session that refused bytes stays refused;
//   2: the rest XORed into three genuine frames (2 bytes offset, then the bytes): a changed frame
//      is never delivered (the CRC32 and the tag cover every byte), no change delivers all three.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "betanet/htx/htx_session.hpp"

using namespace hyphae;
using namespace hyphae::htx;

namespace {

struct Pair {
  HtxSession client, server;
  Pair()
      : client(HtxSession::client(keys().first, keys().second.pub, as_bytes("binding"), {}, 1)),
        server(HtxSession::server(keys().second, as_bytes("binding"), {}, 2)) {
    Bytes to_s = client.start(0), to_c;
    for (int i = 0; i < 3; ++i) {
      to_c.clear();
      if (!server.on_bytes(to_s, 0, to_c)) std::abort();
      to_s.clear();
      if (!client.on_bytes(to_c, 0, to_s)) std::abort();
    }
    if (!client.established() || !server.established()) std::abort();
  }
  static const std::pair<noise::KeyPair, noise::KeyPair>& keys() {
    static const std::pair<noise::KeyPair, noise::KeyPair> k{noise::KeyPair::generate(),
                                                             noise::KeyPair::generate()};
    return k;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ByteView in(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto f = parse_frame(in, 16'384);
      if (f && *f && (*f)->size > in.size()) std::abort();
      return 0;
    }
    case 1: {
      Pair p;
      Bytes out;
      const std::size_t half = in.size() / 2;
      auto a = p.server.on_bytes(in.first(half), 5, out);
      if (!a) return 0;
      (void)p.server.on_bytes(in.subspan(half), 6, out);
      return 0;
    }
    default: {
      if (in.size() < 2) return 0;
      Pair p;
      Bytes frames;
      for (const char* m : {"one", "two", "three"})
        if (!p.client.send(1, as_bytes(m), 7, frames)) std::abort();
      const std::size_t offset = (static_cast<std::size_t>(in[0]) << 8 | in[1]) % frames.size();
      bool changed = false;
      for (std::size_t i = 2; i < in.size() && offset + i - 2 < frames.size(); ++i) {
        frames[offset + i - 2] ^= in[i];
        changed |= in[i] != 0;
      }
      Bytes out;
      auto r = p.server.on_bytes(frames, 8, out);
      if (changed && r) {
        // Alive only when the change made a frame look unfinished (its length): then the frames
        // before it were delivered, genuine, and nothing from the changed one.
        std::size_t delivered = 0;
        for (const auto& e : *r) {
          if (e.kind != HtxEvent::Kind::data) continue;
          const auto s = to_string(e.data);
          if (s != "one" && s != "two" && s != "three") std::abort();
          ++delivered;
        }
        if (delivered >= 3) std::abort();
        return 0;
      }
      if (!changed && (!r || r->size() != 3)) std::abort();
      return 0;
    }
  }
}
