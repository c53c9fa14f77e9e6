// htx_bench: bulk throughput of one HTX link (TLS 1.3 outside, Noise XK frames inside) on loopback,
// beside, in the same run and the same process:
//   the TCP mesh's way of moving bytes: ChaCha20-Poly1305 records of 64 KiB over a plain TCP
//     socket, sealed by one thread and opened by another (the mesh link's work without its
//     bookkeeping) — target >= 0.8x;
//   TLS 1.3 alone (the outer layer without the inner frames), for scale.
// Each moves 256 MiB one way (64 MiB with --quick). Writes bench/results/htx.json.
#include <openssl/ssl.h>
#include <sodium.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <string_view>
#include <thread>

#include "betanet/htx/htx_link.hpp"
#include "common/report.hpp"
#include "util/allocator_tuning.hpp"

using namespace hyphae;
namespace asio = boost::asio;
using BenchClock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kRecord = 64 * 1024;

double seconds_since(BenchClock::time_point t) {
  return std::chrono::duration<double>(BenchClock::now() - t).count();
}

// Sealed 64 KiB records over TCP, one thread each side.
double mesh_like(std::size_t total) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::array<std::uint8_t, 32> key{};
  randombytes_buf(key.data(), key.size());
  std::thread receiver([&] {
    auto s = acceptor.accept();
    Bytes sealed(kRecord + 16), plain(kRecord);
    std::array<std::uint8_t, 12> nonce{};
    for (std::size_t got = 0; got < total; got += kRecord) {
      asio::read(s, asio::buffer(sealed));
      std::memcpy(nonce.data() + 4, &got, 8);
      unsigned long long n = 0;
      if (crypto_aead_chacha20poly1305_ietf_decrypt(plain.data(), &n, nullptr, sealed.data(), sealed.size(),
                                                    nullptr, 0, nonce.data(), key.data()) != 0)
        std::abort();
    }
  });
  asio::ip::tcp::socket s(io);
  s.connect(acceptor.local_endpoint());
  s.set_option(asio::ip::tcp::no_delay(true));
  Bytes plain(kRecord, 0x61), sealed(kRecord + 16);
  std::array<std::uint8_t, 12> nonce{};
  const auto start = BenchClock::now();
  for (std::size_t sent = 0; sent < total; sent += kRecord) {
    std::memcpy(nonce.data() + 4, &sent, 8);
    unsigned long long n = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(sealed.data(), &n, plain.data(), plain.size(), nullptr, 0,
                                              nullptr, nonce.data(), key.data());
    asio::write(s, asio::buffer(sealed));
  }
  receiver.join();
  return static_cast<double>(total) / seconds_since(start);
}

// TLS 1.3 alone, the same contexts HTX uses, one thread each side.
double tls_only(std::size_t total) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto server_tls = htx::htx_server_tls();
  auto client_tls = htx::htx_client_tls();
  std::thread receiver([&] {
    asio::ssl::stream<asio::ip::tcp::socket> s(acceptor.accept(), *server_tls);
    s.handshake(asio::ssl::stream_base::server);
    Bytes buf(kRecord);
    for (std::size_t got = 0; got < total;) got += s.read_some(asio::buffer(buf));
  });
  asio::ssl::stream<asio::ip::tcp::socket> s(io, *client_tls);
  s.lowest_layer().connect(acceptor.local_endpoint());
  const unsigned char alpn[] = {2, 'h', '2'};
  SSL_set_alpn_protos(s.native_handle(), alpn, sizeof alpn);
  s.handshake(asio::ssl::stream_base::client);
  Bytes plain(kRecord, 0x61);
  const auto start = BenchClock::now();
  for (std::size_t sent = 0; sent < total; sent += kRecord) asio::write(s, asio::buffer(plain));
  receiver.join();
  return static_cast<double>(total) / seconds_since(start);
}

// One HtxLink each side, each on its own thread.
double htx_link(std::size_t total) {
  asio::io_context server_io, client_io;
  asio::ip::tcp::acceptor acceptor(server_io,
                                   asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto server_key = noise::KeyPair::generate();
  std::atomic<std::size_t> received{0};
  std::shared_ptr<htx::HtxLink> server_link;
  acceptor.async_accept([&](boost::system::error_code ec, asio::ip::tcp::socket socket) {
    if (ec) return;
    htx::HtxLinkCallbacks cb;
    cb.on_data = [&](std::uint64_t, Bytes d) { received += d.size(); };
    server_link = htx::HtxLink::accept(asio::make_strand(server_io.get_executor()), htx::htx_server_tls(),
                                       std::move(socket), server_key, cb);
  });
  auto guard = asio::make_work_guard(server_io);
  std::thread server_thread([&] { server_io.run(); });
  std::atomic<bool> up{false};
  htx::HtxLinkCallbacks cb;
  cb.on_established = [&] { up = true; };
  auto strand = asio::make_strand(client_io.get_executor());
  auto link =
      htx::HtxLink::connect(strand, htx::htx_client_tls(), "127.0.0.1", acceptor.local_endpoint().port(),
                            noise::KeyPair::generate(), server_key.pub, cb);
  while (!up) client_io.run_one_for(std::chrono::milliseconds(10));
  const Bytes chunk(kRecord, 0x61);
  const auto stream = link->open_stream();
  std::size_t queued = 0;
  const auto start = BenchClock::now();
  while (received < total) {
    while (queued < total && link->queued_bytes() < (4u << 20)) {
      if (link->send(stream, chunk)) break;
      queued += chunk.size();
    }
    client_io.run_for(std::chrono::milliseconds(1));
    if (client_io.stopped()) client_io.restart();
    if (seconds_since(start) > 120) throw std::runtime_error("the HTX transfer took over 2 minutes");
  }
  const double rate = static_cast<double>(total) / seconds_since(start);
  link->close();
  client_io.run_for(std::chrono::milliseconds(50));
  guard.reset();
  server_io.stop();
  server_thread.join();
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();  // as the hyphae binary does
  if (sodium_init() < 0) return 1;
  const bool quick = argc > 1 && std::string_view(argv[1]) == "--quick";
  const std::size_t total = quick ? (std::size_t{64} << 20) : (std::size_t{256} << 20);
  bench::Report report;
  try {
    const double mesh = mesh_like(total);
    const double tls = tls_only(total);
    const double htx = htx_link(total);
    const std::string label = std::to_string(total >> 20) + " MiB over one HTX link";
    report.add(label, htx / 1e6, "MB/s", bench::Better::kHigher,
               "ChaCha20-Poly1305 records over TCP (the mesh's work)", mesh / 1e6, ">= 0.8x");
    report.add(label, htx / 1e6, "MB/s", bench::Better::kHigher, "TLS 1.3 alone", tls / 1e6);
  } catch (const std::exception& e) {
    report.add_failure("HTX link", "MB/s", e.what());
  }
  report.print_table();
  report.write_json(std::filesystem::path(HYPHAE_SOURCE_DIR) / "bench/results/htx.json");
  return report.has_failures() ? 1 : 0;
}
