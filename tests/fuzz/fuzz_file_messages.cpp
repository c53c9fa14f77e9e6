// Fuzz target: file transfer messages as a peer sends them. Each input is a sequence of messages
// (u16 length + bytes); each is decoded (a decoded message must encode back to the same bytes) and,
// alternately, handed to a receiving core that holds one accepted transfer and to a sending core
// that offered one. Writes the receiver asks for are "done" at once. Invariants: no write outside
// the transfer's size or before its accept, bytes done never exceed the size, and the cores' bounds
// on incoming transfers hold.
#include <cstdlib>

#include "core/identity.hpp"
#include "files/file_io.hpp"
#include "files/transfer_core.hpp"

namespace {

using namespace hyphae;
using namespace hyphae::files;

struct Fixture {
  PeerId self = Identity::generate().peer_id();
  PeerId peer = Identity::generate().peer_id();
};

void check(const TransferCore& core, const TransferLimits& limits) {
  std::size_t incoming = 0;
  for (const auto& [id, t] : core.transfers()) {
    if (t.done_bytes > t.size) std::abort();
    if (t.direction == Direction::in && !finished(t.state)) ++incoming;
  }
  if (incoming > limits.max_incoming) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture f;
  TransferLimits limits;
  limits.chunk_size = 64;
  limits.window_bytes = 512;
  limits.max_incoming = 8;
  limits.max_offers_per_peer = 4;
  limits.max_file_bytes = 4096;
  TransferCore receiver(f.self, limits), sender(f.self, limits);
  TransferCore::Out out;
  // The receiver holds an accepted 1000-byte transfer (id 0x11...), the sender offered one (0x22...).
  FileMessage offer;
  offer.kind = FileMessageKind::offer;
  offer.id.fill(0x11);
  offer.size = 1000;
  offer.chunk_size = 64;
  offer.name = "f";
  receiver.on_message(f.peer, offer, 1, out);
  receiver.accept(offer.id, 1, out);
  TransferId sent{};
  sent.fill(0x22);
  sender.offer(f.peer, sent, "g", "", "/nonexistent", 1000, Sha256{}, 1, out);
  std::uint64_t now = 2;
  std::size_t at = 0;
  bool to_receiver = true;
  while (at + 2 <= size) {
    const std::size_t n = (std::size_t{data[at]} << 8) | data[at + 1];
    at += 2;
    if (n > size - at) break;
    const ByteView bytes(data + at, n);
    at += n;
    auto m = decode_file_message(bytes);
    if (!m) continue;
    if (encode_file_message(*m) != Bytes(bytes.begin(), bytes.end())) std::abort();
    TransferCore& core = to_receiver ? receiver : sender;
    TransferCore::Out o;
    core.on_message(f.peer, *m, now, o);
    for (const auto& w : o.writes) {
      const auto* t = core.find(w.id);
      if (!t || t->state != TransferState::active || w.offset + (w.data.size() - w.data_at) > t->size)
        std::abort();
      TransferCore::Out next;
      const ByteView chunk(w.data.data() + w.data_at, w.data.size() - w.data_at);
      const bool good = w.hash_matches;
      core.on_written(w.id, w.epoch, w.offset, static_cast<std::uint32_t>(chunk.size()),
                      good ? TransferCore::WriteResult::written : TransferCore::WriteResult::bad_hash, "",
                      now, next);
    }
    for (const auto& r : o.reads) {
      const auto* t = core.find(r.id);
      if (!t || r.offset + r.length > t->size) std::abort();
    }
    core.tick(now, o);
    check(core, limits);
    now += 50;
    to_receiver = !to_receiver;
  }
  return 0;
}
