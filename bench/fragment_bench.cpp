// Fragmentation cost: splitting and reassembling 1 MiB messages at a 244-byte MTU (BLE's
// usual payload), beside the bound that cannot be beaten in the same run: zlib's CRC32 over the
// same bytes, which both sides must compute once per fragment anyway. Prints MiB/s and the ratio;
// incompressible data, so LZ4 is tried and not used (its cost is included).
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "fragment/fragment.hpp"

using namespace hyphae;
using BenchClock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int rounds = argc > 1 && std::string_view(argv[1]) == "--quick" ? 5 : 50;
  Bytes msg(1 << 20);
  std::mt19937 rng(1);
  for (auto& b : msg) b = static_cast<std::uint8_t>(rng());
  const double mib = static_cast<double>(msg.size()) / (1 << 20) * rounds;

  auto t0 = BenchClock::now();
  std::size_t fragments = 0;
  std::vector<std::vector<Bytes>> all;
  for (int i = 0; i < rounds; ++i) {
    auto f = fragment::split(msg, fragment::FragmentOptions{244, 1024, std::nullopt});
    if (!f) return 1;
    fragments = f->size();
    all.push_back(std::move(*f));
  }
  const double split_s = std::chrono::duration<double>(BenchClock::now() - t0).count();

  fragment::Reassembler r;
  t0 = BenchClock::now();
  for (const auto& set : all)
    for (const auto& f : set) {
      auto got = r.accept("peer", f, 0);
      if (!got) return 2;
      if (*got && (*got)->size() != msg.size()) return 3;
    }
  const double join_s = std::chrono::duration<double>(BenchClock::now() - t0).count();
  if (r.stats().completed != static_cast<std::uint64_t>(rounds)) return 4;

  t0 = BenchClock::now();
  unsigned long crc = 0;
  for (int i = 0; i < rounds; ++i)
    for (std::size_t off = 0; off < msg.size(); off += 210)
      crc ^= ::crc32(0L, msg.data() + off, static_cast<uInt>(std::min<std::size_t>(210, msg.size() - off)));
  const double crc_s = std::chrono::duration<double>(BenchClock::now() - t0).count();

  const double crc_rate = mib / crc_s;
  std::printf("1 MiB messages at MTU 244: %zu fragments each, %d rounds (crc %lx)\n", fragments, rounds, crc);
  std::printf("%-28s %10.1f MiB/s   %6.2fx of zlib crc32 (%.1f MiB/s)\n", "split (lz4 tried)", mib / split_s,
              (mib / split_s) / crc_rate, crc_rate);
  std::printf("%-28s %10.1f MiB/s   %6.2fx of zlib crc32\n", "reassemble", mib / join_s,
              (mib / join_s) / crc_rate);
  std::printf("%-28s %10.0f fragments/s\n", "reassemble", static_cast<double>(fragments) * rounds / join_s);
  return 0;
}
