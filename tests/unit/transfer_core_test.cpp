// The file transfer core in memory: the message codec, a whole transfer between two cores with the
// adapter's work done inline, resuming after a lost session and after a restart, and what a hostile
// sender gets: bad names and sizes declined, a flood of offers bounded, chunks that fail their hash,
// chunks for transfers that do not exist.
#include "files/transfer_core.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <functional>

#include "core/error.hpp"
#include "core/identity.hpp"
#include "files/file_io.hpp"

namespace hyphae::files {
namespace {

TransferId make_id(std::uint8_t n) {
  TransferId id{};
  id.fill(n);
  return id;
}

TEST(FileMessages, RoundTripEveryKindAndRejectMalformed) {
  FileMessage offer;
  offer.kind = FileMessageKind::offer;
  offer.id = make_id(1);
  offer.size = 12345;
  offer.chunk_size = 4096;
  offer.sha256.fill(9);
  offer.name = "photo.jpg";
  offer.media_type = "image/jpeg";
  const auto bytes = encode_file_message(offer);
  auto back = decode_file_message(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->size, 12345u);
  EXPECT_EQ(back->chunk_size, 4096u);
  EXPECT_EQ(back->name, "photo.jpg");
  EXPECT_EQ(back->media_type, "image/jpeg");
  EXPECT_EQ(encode_file_message(*back), bytes);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut)
    EXPECT_FALSE(decode_file_message(ByteView(bytes.data(), cut))) << cut;
  Bytes longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(decode_file_message(longer));
  FileMessage chunk;
  chunk.kind = FileMessageKind::chunk;
  chunk.id = make_id(2);
  chunk.offset = 8192;
  const Bytes data(100, 7);
  chunk.data = data;
  chunk.sha256 = sha256_of(data);
  const Bytes chunk_bytes = encode_file_message(chunk);  // a decoded message views its input
  auto c = decode_file_message(chunk_bytes);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->offset, 8192u);
  EXPECT_EQ(Bytes(c->data.begin(), c->data.end()), data);
  EXPECT_EQ(c->sha256, chunk.sha256);
  FileMessage progress;
  progress.kind = FileMessageKind::progress;
  progress.offset = 77;
  progress.resend = true;
  const Bytes progress_bytes = encode_file_message(progress);
  auto pr = decode_file_message(progress_bytes);
  ASSERT_TRUE(pr);
  EXPECT_TRUE(pr->resend);
  Bytes bad_kind = encode_file_message(progress);
  bad_kind[0] = 9;
  EXPECT_FALSE(decode_file_message(bad_kind));
  Bytes bad_flags = encode_file_message(progress);
  bad_flags.back() = 2;
  EXPECT_FALSE(decode_file_message(bad_flags));
  Bytes zero_chunk = encode_file_message(offer);
  for (int i = 0; i < 4; ++i) zero_chunk[1 + 16 + 8 + i] = 0;  // chunk_size 0
  EXPECT_FALSE(decode_file_message(zero_chunk));
}

TEST(FileMessages, NamesWithPathsOrControlCharactersAreRefused) {
  for (const char* good : {"a.txt", "Résumé 2026.pdf", "x", "файл.bin"})
    EXPECT_TRUE(check_file_name(good)) << good;
  for (std::string bad : {std::string(""), std::string("."), std::string(".."), std::string("../etc/passwd"),
                          std::string("a/b"), std::string("a\\\\b"), std::string("nul\\0x", 6),
                          std::string("tab\\t"), std::string(" lead"), std::string("trail "),
                          std::string(256, 'a'), std::string("\\xc0\\xaf"), std::string("\\xed\\xa0\\x80")})
    EXPECT_FALSE(check_file_name(bad)) << bad;
}

// Two cores wired together; the adapter's work (reads, writes, hashes) is done in memory.
struct Wire {
  PeerId alice = Identity::generate().peer_id(), bob = Identity::generate().peer_id();
  TransferLimits limits;
  std::unique_ptr<TransferCore> a, b;
  Bytes file;                            // the sender's file
  std::map<TransferId, Bytes> received;  // the receiver's part files
  bool session_up = true;
  std::uint64_t now = 1000;
  std::size_t dropped_chunks = 0, corrupt_next = 0;

  explicit Wire(std::size_t size, TransferLimits l = {}) : limits(l) {
    limits.chunk_size = 1024;
    limits.window_bytes = 8 * 1024;
    limits.progress_every_bytes = 2048;
    file.resize(size);
    for (std::size_t i = 0; i < size; ++i) file[i] = static_cast<std::uint8_t>(i * 31 + 7);
    a = std::make_unique<TransferCore>(alice, limits);
    b = std::make_unique<TransferCore>(bob, limits);
  }
  // The adapter's work is queued and done in order, as the node's strand and worker do it.
  std::deque<std::function<void()>> work;
  void run(TransferCore& side, TransferCore::Out out) {
    queue(side, std::move(out));
    for (std::size_t steps = 0; !work.empty(); ++steps) {
      ASSERT_LT(steps, 1'000'000u);
      auto next = std::move(work.front());
      work.pop_front();
      next();
    }
  }
  void queue(TransferCore& side, TransferCore::Out out) {
    const bool from_a = &side == a.get();
    TransferCore& other = from_a ? *b : *a;
    for (auto& s : out.sends) {
      auto m = decode_file_message(s.bytes);
      ASSERT_TRUE(m);
      if (!s.durable && !session_up) {
        work.push_back([this, &side, id = m->id] {
          TransferCore::Out again;
          side.on_send_failed(id, now, again);
          queue(side, std::move(again));
        });
        continue;
      }
      if (m->kind == FileMessageKind::chunk && dropped_chunks > 0) {
        --dropped_chunks;
        continue;
      }
      Bytes copy = s.bytes;
      if (m->kind == FileMessageKind::chunk && corrupt_next > 0) {
        --corrupt_next;
        copy.back() ^= 1;
      }
      work.push_back([this, &other, from_a, copy = std::move(copy)] {
        auto mm = decode_file_message(copy);
        TransferCore::Out reply;
        other.on_message(from_a ? alice : bob, *mm, now, reply);
        queue(other, std::move(reply));
      });
    }
    for (auto& r : out.reads) {
      work.push_back([this, &side, r] {
        Bytes data(file.begin() + static_cast<std::ptrdiff_t>(r.offset),
                   file.begin() + static_cast<std::ptrdiff_t>(r.offset + r.length));
        FileMessage c;
        c.kind = FileMessageKind::chunk;
        c.id = r.id;
        c.offset = r.offset;
        c.data = data;
        c.sha256 = sha256_of(data);
        TransferCore::Out next;
        side.on_read(r.id, r.epoch, r.offset, encode_file_message(c), now, next);
        queue(side, std::move(next));
      });
    }
    for (auto& w : out.writes) {
      work.push_back([this, &side, w = std::move(w)] {
        const ByteView data(w.data.data() + w.data_at, w.data.size() - w.data_at);
        const bool good = w.hash_matches;
        auto& part = received[w.id];
        if (good) {
          if (part.size() < w.offset + data.size()) part.resize(w.offset + data.size());
          std::copy(data.begin(), data.end(), part.begin() + static_cast<std::ptrdiff_t>(w.offset));
        }
        TransferCore::Out next;
        side.on_written(w.id, w.epoch, w.offset, static_cast<std::uint32_t>(data.size()),
                        good ? TransferCore::WriteResult::written : TransferCore::WriteResult::bad_hash, "",
                        now, next);
        queue(side, std::move(next));
      });
    }
    for (auto& id : out.prepare) {
      const auto* t = side.find(id);
      received[id].resize(t->done_bytes);
    }
    for (auto& id : out.verify) {
      work.push_back([this, &side, id] {
        const auto* t = side.find(id);
        TransferCore::Out next;
        side.on_verified(id, sha256_of(received[id]) == t->sha256, "/downloads/" + t->name, now, next);
        queue(side, std::move(next));
      });
    }
  }
  TransferId offer(const std::string& name = "f.bin") {
    TransferCore::Out out;
    const auto id = make_id(42);
    a->offer(bob, id, name, "", "/src/f.bin", file.size(), sha256_of(file), now, out);
    run(*a, std::move(out));
    return id;
  }
  void accept(const TransferId& id) {
    TransferCore::Out out;
    ASSERT_FALSE(b->accept(id, now, out));
    run(*b, std::move(out));
  }
};

TEST(TransferCore, MovesAFileAndBothSidesAgreeItIsComplete) {
  Wire w(10 * 1024 + 17);
  const auto id = w.offer();
  ASSERT_NE(w.b->find(id), nullptr);
  EXPECT_EQ(w.b->find(id)->state, TransferState::offered);
  w.accept(id);
  EXPECT_EQ(w.a->find(id)->state, TransferState::complete);
  EXPECT_EQ(w.b->find(id)->state, TransferState::complete);
  EXPECT_EQ(w.received[id], w.file);
  EXPECT_EQ(w.b->find(id)->path, "/downloads/f.bin");
  EXPECT_EQ(w.a->counters().chunks_sent, 11u);
}

TEST(TransferCore, ResumesAfterALostSessionAndAGap) {
  Wire w(40 * 1024);
  const auto id = w.offer();
  w.dropped_chunks = 1;  // one chunk lost in flight: the receiver sees a gap and asks to resend
  w.accept(id);
  EXPECT_EQ(w.a->find(id)->state, TransferState::complete);
  EXPECT_EQ(w.received[id], w.file);
  EXPECT_GE(w.a->counters().rewinds, 1u);
}

TEST(TransferCore, ReceiverRestartResumesFromWhatItWrote) {
  Wire w(64 * 1024);
  const auto id = w.offer();
  w.session_up = false;  // chunks cannot go: the transfer waits
  w.accept(id);
  EXPECT_EQ(w.a->find(id)->state, TransferState::active);
  // The receiver "restarts" from a persisted row at 8 KiB (its part file holds that much).
  Transfer row = *w.b->find(id);
  row.done_bytes = 8 * 1024;
  w.received[id].assign(w.file.begin(), w.file.begin() + 8 * 1024);
  w.b = std::make_unique<TransferCore>(w.bob, w.limits);
  w.session_up = true;
  TransferCore::Out out;
  w.b->restore(row, w.now, out);
  w.run(*w.b, std::move(out));
  EXPECT_EQ(w.b->find(id)->state, TransferState::complete);
  EXPECT_EQ(w.received[id], w.file);
}

TEST(TransferCore, ChunksFailingTheirHashAreResentThenTheTransferFails) {
  {
    Wire w(8 * 1024);
    const auto id = w.offer();
    w.corrupt_next = 2;  // two bad chunks: resent, and the file still arrives whole
    w.accept(id);
    EXPECT_EQ(w.b->find(id)->state, TransferState::complete);
    EXPECT_GE(w.b->counters().chunks_bad_hash, 1u);  // the second may arrive after the first made a gap
    EXPECT_EQ(w.received[id], w.file);
  }
  {
    Wire w(8 * 1024);
    const auto id = w.offer();
    w.corrupt_next = 1000;  // every chunk bad: the receiver gives up with a clear error
    w.accept(id);
    EXPECT_EQ(w.b->find(id)->state, TransferState::failed);
    EXPECT_NE(w.b->find(id)->error.find("did not match its SHA-256"), std::string::npos)
        << w.b->find(id)->error;
    EXPECT_EQ(w.a->find(id)->state, TransferState::cancelled);
    EXPECT_NE(w.a->find(id)->error.find("did not match"), std::string::npos);
  }
}

TEST(TransferCore, HostileOffersAndChunksAreRefusedAndBounded) {
  TransferLimits limits;
  limits.max_file_bytes = 1 << 20;
  limits.max_offers_per_peer = 4;
  limits.max_incoming = 6;
  const auto self = Identity::generate().peer_id();
  TransferCore core(self, limits);
  const auto mallory = Identity::generate().peer_id();
  auto offer = [&](const PeerId& from, std::uint8_t n, std::string_view name, std::uint64_t size) {
    FileMessage m;
    m.kind = FileMessageKind::offer;
    m.id = make_id(n);
    m.name = name;
    m.size = size;
    m.chunk_size = 1024;
    TransferCore::Out out;
    core.on_message(from, m, 1, out);
    return out;
  };
  auto declined = [](const TransferCore::Out& out) -> std::string {
    if (out.sends.size() != 1) return "";
    auto m = decode_file_message(out.sends[0].bytes);
    return m && m->kind == FileMessageKind::decline ? std::string(m->reason) : "";
  };
  EXPECT_NE(declined(offer(mallory, 1, "../../.bashrc", 10)).find("path"), std::string::npos);
  EXPECT_NE(declined(offer(mallory, 2, "big.iso", 2 << 20)).find("larger than this node takes"),
            std::string::npos);
  EXPECT_EQ(core.transfers().size(), 0u);
  // A flood of good offers from one peer stops at its bound; other peers still have room up to the total.
  for (std::uint8_t n = 10; n < 110; ++n) offer(mallory, n, "f" + std::to_string(n), 10);
  EXPECT_EQ(core.transfers().size(), 4u);
  for (std::uint8_t n = 110; n < 120; ++n) offer(Identity::generate().peer_id(), n, "g", 10);
  EXPECT_EQ(core.transfers().size(), 6u);
  EXPECT_EQ(core.counters().offers_refused, 2u + 96u + 8u);
  // Chunks for transfers that do not exist, or that were never accepted, are counted and dropped.
  FileMessage chunk;
  chunk.kind = FileMessageKind::chunk;
  chunk.id = make_id(200);
  const Bytes data(10, 1);
  chunk.data = data;
  TransferCore::Out out;
  for (int i = 0; i < 1000; ++i) core.on_message(mallory, chunk, 1, out);
  chunk.id = make_id(10);  // offered, not accepted
  for (int i = 0; i < 1000; ++i) core.on_message(mallory, chunk, 1, out);
  EXPECT_TRUE(out.writes.empty());
  EXPECT_EQ(core.counters().chunks_unexpected, 2000u);
  // Another peer cannot answer for a transfer that is not its own.
  FileMessage cancel;
  cancel.kind = FileMessageKind::cancel;
  cancel.id = make_id(10);
  core.on_message(Identity::generate().peer_id(), cancel, 1, out);
  EXPECT_EQ(core.find(make_id(10))->state, TransferState::offered);
}

TEST(TransferCore, FinishedTransfersAreForgottenPastTheirBound) {
  TransferLimits limits;
  limits.max_finished = 5;
  TransferCore core(Identity::generate().peer_id(), limits);
  const auto peer = Identity::generate().peer_id();
  std::size_t forgotten = 0;
  for (std::uint8_t n = 1; n <= 50; ++n) {  // a peer offers and cancels, again and again
    FileMessage offer;
    offer.kind = FileMessageKind::offer;
    offer.id = make_id(n);
    offer.name = "f";
    offer.size = 10;
    offer.chunk_size = 1024;
    TransferCore::Out out;
    core.on_message(peer, offer, n, out);
    FileMessage cancel;
    cancel.kind = FileMessageKind::cancel;
    cancel.id = make_id(n);
    core.on_message(peer, cancel, n, out);
    forgotten += out.forgotten.size();
  }
  EXPECT_EQ(core.transfers().size(), 5u);
  EXPECT_EQ(forgotten, 45u);
  EXPECT_NE(core.find(make_id(50)), nullptr);  // the newest are kept
  EXPECT_EQ(core.find(make_id(1)), nullptr);
}

TEST(TransferCore, ChunksOfTheWrongSizeOrOffsetAreNotWritten) {
  Wire w(4 * 1024);
  const auto id = w.offer();
  w.session_up = false;
  w.accept(id);
  w.session_up = true;
  auto send_chunk = [&](std::uint64_t offset, std::size_t size) {
    Bytes data(size, 3);
    FileMessage c;
    c.kind = FileMessageKind::chunk;
    c.id = id;
    c.offset = offset;
    c.data = data;
    c.sha256 = sha256_of(data);
    TransferCore::Out out;
    w.b->on_message(w.alice, c, w.now, out);
    return out.writes.size();
  };
  EXPECT_EQ(send_chunk(0, 1000), 0u);     // shorter than a chunk
  EXPECT_EQ(send_chunk(10, 1024), 0u);    // not on a chunk boundary
  EXPECT_EQ(send_chunk(8192, 1024), 0u);  // beyond the end
  EXPECT_EQ(send_chunk(0, 1024), 1u);     // the expected one
  EXPECT_EQ(send_chunk(0, 1024), 0u);     // a duplicate
}

}  // namespace
}  // namespace hyphae::files
