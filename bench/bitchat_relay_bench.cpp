// BitChat relay core throughput: signed broadcast frames through MeshCore::on_frame on
// one core (decode, duplicate check, rate limits, relay scheduling and the relayed frame's
// encoding), beside libsodium's Ed25519 verification of the same frames measured in the same run —
// the bound a relay that verifies every signature would hit. The LAN link's socket cost is not in
// this figure (the LAN link is not built yet). Usage: bitchat_relay_bench [--quick]
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "bitchat/mesh_core.hpp"
#include "common/report.hpp"

using namespace hyphae;
using namespace hyphae::bitchat;

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const std::size_t frames = quick ? 20'000 : 200'000;
  if (sodium_init() < 0) return 1;
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk;
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> sk;
  crypto_sign_keypair(pk.data(), sk.data());
  // Distinct signed public messages (~60 bytes of text) from 100 senders.
  std::vector<Bytes> wire;
  std::vector<Packet> packets;
  wire.reserve(frames);
  for (std::size_t i = 0; i < frames; ++i) {
    Packet p;
    p.type = static_cast<std::uint8_t>(MessageType::message);
    p.sender.fill(static_cast<std::uint8_t>(i % 100));
    p.timestamp_ms = 1'700'000'000'000ull + i;
    const std::string text = "relay benchmark message number " + std::to_string(i) + " on the mesh";
    p.payload.assign(text.begin(), text.end());
    sign(p, sk);
    wire.push_back(*encode(p, {.pad = false, .compress = true}));
    packets.push_back(std::move(p));
  }
  MeshOptions options;
  options.self.fill(0xee);
  options.per_sender_rate = options.total_rate = options.per_sender_burst = options.total_burst = 1e12;
  MeshCore core(options);
  for (LinkId l = 0; l < 6; ++l) core.link_up(l);
  std::uint64_t sends = 0;
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t now = 1'000;
  for (std::size_t i = 0; i < frames; ++i) {
    auto out = core.on_frame(static_cast<LinkId>(i % 6), wire[i], now);
    sends += out.sends.size();
    if (i % 64 == 0) {
      now += 1;
      sends += core.tick(now + 1'000).sends.size();
    }
  }
  sends += core.tick(now + 10'000).sends.size();
  const double relay_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto t1 = std::chrono::steady_clock::now();
  std::size_t valid = 0;
  for (const auto& p : packets) valid += verify(p, pk) ? 0 : 1;
  const double verify_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  if (valid != frames || core.counters().relayed != frames) {
    std::fprintf(stderr, "bitchat_relay_bench: %zu of %zu verified, %llu relayed\n", valid, frames,
                 static_cast<unsigned long long>(core.counters().relayed));
    return 1;
  }
  bench::Report report;
  report.add("relay core: frames in per second, one core", static_cast<double>(frames) / relay_s, "frames/s",
             bench::Better::kHigher, "Ed25519 verify (libsodium) of the same frames",
             static_cast<double>(frames) / verify_s);
  report.add("frames sent per relayed packet", static_cast<double>(sends) / static_cast<double>(frames),
             "frames");
  report.print_table();
  report.write_json(std::filesystem::path(HYPHAE_SOURCE_DIR) / "bench/results/bitchat_relay.json");
  return 0;
}
