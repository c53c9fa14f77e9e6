// BitChat relay over the LAN link on real UDP sockets: a sender, a relay and a sink, each
// a LanLink on 127.0.0.1, all on ONE thread (so the figure is per core and includes the sender's
// and the sink's socket work too). The relay runs MeshCore (decode, dedupe, rate limits, relay,
// re-encode) on every frame and forwards it to the sink. Beside it, in the same run: the same
// three links with the relay forwarding raw datagrams (no BitChat processing: the socket bound),
// and libsodium's Ed25519 verification rate (the bound for a relay that verifies every frame).
// Usage: bitchat_lan_bench [--quick]
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "bitchat/link/lan_link.hpp"
#include "bitchat/mesh_core.hpp"
#include "common/report.hpp"

using namespace hyphae;
using namespace hyphae::bitchat;
namespace asio = boost::asio;

namespace {

struct Sink final : LinkSink {
  std::function<void(LinkId, const ShortId&)> up;
  std::function<void(LinkId, ByteView)> frame;
  void on_neighbour_up(LinkId link, const ShortId& claimed, const std::string&, std::size_t) override {
    if (up) up(link, claimed);
  }
  void on_neighbour_down(LinkId, const std::string&) override {}
  void on_frame(LinkId link, ByteView f) override {
    if (frame) frame(link, f);
  }
};

ShortId id_of(std::uint8_t b) {
  ShortId s;
  s.fill(b);
  return s;
}

// One run: `frames` frames from sender to sink through the relay; returns frames per second.
double run(const std::vector<Bytes>& wire, bool mesh) {
  asio::io_context io;
  auto strand = asio::make_strand(io.get_executor());
  Sink relay_sink, sender_sink, sink_sink;
  LanLinkOptions base;
  base.multicast = false;
  base.listen_address = "127.0.0.1";
  base.beacon_interval_ms = 200;
  base.neighbour_timeout_ms = 60'000;
  base.mtu = 1400;
  LanLinkOptions ro = base;
  ro.self = id_of(2);
  LanLink relay(strand, ro, relay_sink);
  if (relay.start()) return 0;
  const std::string at = "127.0.0.1:" + std::to_string(relay.listen_port());
  LanLinkOptions so = base, ko = base;
  so.self = id_of(1);
  so.static_peers = {at};
  ko.self = id_of(3);
  ko.static_peers = {at};
  LanLink sender(strand, so, sender_sink);
  LanLink sink(strand, ko, sink_sink);
  if (sender.start() || sink.start()) return 0;

  MeshOptions options;
  options.self = id_of(2);
  options.jitter = false;
  options.per_sender_rate = options.total_rate = options.per_sender_burst = options.total_burst = 1e12;
  MeshCore core(options);
  LinkId to_relay = 0, to_sink = 0;
  std::map<LinkId, ShortId> relay_links;
  relay_sink.up = [&](LinkId l, const ShortId& who) {
    relay_links[l] = who;
    core.link_up(l, who);
  };
  sender_sink.up = [&](LinkId l, const ShortId&) { to_relay = l; };
  std::size_t sent = 0, received = 0;
  const std::size_t window = 128;
  auto pump = [&] {
    while (to_relay && sent < wire.size() && sent - received < window) sender.send(to_relay, wire[sent++]);
  };
  std::uint64_t now = 1'000;
  relay_sink.frame = [&](LinkId from, ByteView f) {
    if (mesh) {
      auto out = core.on_frame(from, f, ++now);
      for (auto& s : out.sends) relay.send(s.link, s.frame);
    } else {
      for (const auto& [l, who] : relay_links)
        if (l != from) relay.send(l, f);
    }
  };
  sink_sink.frame = [&](LinkId, ByteView) {
    ++received;
    pump();
  };
  // Wait for the three to see each other.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((relay_links.size() < 2 || !to_relay) && std::chrono::steady_clock::now() < deadline)
    io.run_one_for(std::chrono::milliseconds(10));
  (void)to_sink;
  const auto t0 = std::chrono::steady_clock::now();
  pump();
  auto last = t0;
  std::size_t last_received = 0;
  while (received < wire.size()) {
    io.run_one_for(std::chrono::milliseconds(20));
    const auto t = std::chrono::steady_clock::now();
    if (received != last_received) {
      last_received = received;
      last = t;
    } else if (t - last > std::chrono::milliseconds(200)) {  // a lost datagram: refill the window
      last = t;
      const std::size_t in_flight = sent - received;
      received += in_flight;  // count them as gone, keep going
      pump();
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sender.stop();
  sink.stop();
  relay.stop();
  io.run_for(std::chrono::milliseconds(50));
  return static_cast<double>(last_received) / s;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const std::size_t frames = quick ? 20'000 : 100'000;
  if (sodium_init() < 0) return 1;
  spdlog::set_level(spdlog::level::warn);
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk;
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> sk;
  crypto_sign_keypair(pk.data(), sk.data());
  std::vector<Bytes> wire;
  std::vector<Packet> packets;
  for (std::size_t i = 0; i < frames; ++i) {
    Packet p;
    p.type = static_cast<std::uint8_t>(MessageType::message);
    p.sender.fill(static_cast<std::uint8_t>(0x10 + i % 100));
    p.timestamp_ms = 1'700'000'000'000ull + i;
    const std::string text = "lan relay benchmark message " + std::to_string(i);
    p.payload.assign(text.begin(), text.end());
    sign(p, sk);
    wire.push_back(*encode(p, {.pad = false}));
    packets.push_back(std::move(p));
  }
  const double raw = run(wire, false);
  const double relayed = run(wire, true);
  const auto t1 = std::chrono::steady_clock::now();
  std::size_t bad = 0;
  for (const auto& p : packets) bad += verify(p, pk) ? 1 : 0;
  const double verify_rate = static_cast<double>(frames) /
                             std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  if (bad || raw <= 0 || relayed <= 0) {
    std::fprintf(stderr, "bitchat_lan_bench: a run failed (raw %.0f, relayed %.0f, bad signatures %zu)\n",
                 raw, relayed, bad);
    return 1;
  }
  bench::Report report;
  report.add("LAN relay (MeshCore), frames/s, sender+relay+sink on one core", relayed, "frames/s",
             bench::Better::kHigher, "the same links forwarding raw datagrams", raw);
  report.add("LAN relay (MeshCore) beside Ed25519 verify", relayed, "frames/s", bench::Better::kHigher,
             "Ed25519 verify (libsodium), one core", verify_rate);
  report.print_table();
  report.write_json(std::filesystem::path(HYPHAE_SOURCE_DIR) / "bench/results/bitchat_lan.json");
  return 0;
}
