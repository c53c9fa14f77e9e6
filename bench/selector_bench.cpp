// The selector's cost per message: router::select over 3-5 transports with varied requirements,
// health and context (target: well under 1 µs per call). Plain chrono loop; prints ns/call.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "router/selection.hpp"

using namespace hyphae::router;

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string_view(argv[1]) == "--quick";
  const long calls = quick ? 1'000'000 : argc > 1 ? std::atol(argv[1]) : 10'000'000;
  // 64 precomputed input variants so the loop measures select(), not input generation.
  struct Input {
    MessageRequirements req;
    Context ctx;
    std::vector<TransportView> ts;
  };
  std::vector<Input> inputs;
  std::uint32_t x = 12345;
  auto rnd = [&x] { return x = x * 1664525u + 1013904223u, x >> 8; };
  for (int i = 0; i < 64; ++i) {
    Input in;
    in.ts = {{"bitchat", Capabilities::bitchat_preset(), {}},
             {"betanet", Capabilities::betanet_preset(), {}},
             {"tcp", Capabilities::direct_tcp_preset(), {}}};
    if (i % 3 != 0) in.ts.push_back({"quic", Capabilities::quic_preset(), {}});
    if (i % 3 == 2) in.ts.push_back({"websocket", Capabilities::websocket_preset(), {}});
    for (auto& t : in.ts) {
      t.health.available = rnd() % 8 != 0;
      t.health.degraded = rnd() % 6 == 0;
      t.health.recent_latency_ms = rnd() % 2 ? rnd() % 2000 : 0;
    }
    in.req.size = rnd() % 50'000;
    in.req.priority = static_cast<Priority>(rnd() % 4);
    in.req.cast = rnd() % 5 == 0 ? Cast::broadcast : Cast::unicast;
    in.req.privacy = static_cast<Privacy>(rnd() % 3 == 0 ? rnd() % 3 : 0);
    in.req.optimize_for = static_cast<Optimize>(rnd() % 5);
    in.req.redundancy = static_cast<std::uint8_t>(1 + rnd() % 2);
    in.ctx.has_internet = rnd() % 4 != 0;
    in.ctx.device = static_cast<DeviceType>(rnd() % 4);
    in.ctx.battery_fraction = rnd() % 3 == 0 ? -1.0f : static_cast<float>(rnd() % 100) / 100.0f;
    in.ctx.network_quality = static_cast<float>(rnd() % 100) / 100.0f;
    inputs.push_back(std::move(in));
  }
  std::uint64_t sink = 0;
  for (int i = 0; i < 100'000; ++i) {  // warm-up
    const Input& in = inputs[i & 63];
    sink += select(in.req, in.ts, in.ctx).count;
  }
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < calls; ++i) {
    const Input& in = inputs[i & 63];
    Selection s = select(in.req, in.ts, in.ctx);
    sink += s.count + s.reason_count + static_cast<std::uint64_t>(s.order[0]);
  }
  auto t1 = std::chrono::steady_clock::now();
  double ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(calls);
  std::printf("selector: %ld calls over 3-5 transports, %.1f ns/call (target < 1000 ns) [checksum %llu]\n",
              calls, ns, static_cast<unsigned long long>(sink));
  return ns < 1000.0 ? 0 : 1;
}
