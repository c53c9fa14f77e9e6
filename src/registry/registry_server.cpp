// RegistryServer: Beast HTTP(S) sessions as coroutines over a worker pool; each request borrows a
// database connection for the time RegistryService::handle takes.
#include "registry/registry_server.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "core/address.hpp"
#include "core/clock.hpp"
#include "registry/mix_registry.hpp"

namespace hyphae::registry {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

struct RegistryServer::Impl : std::enable_shared_from_this<RegistryServer::Impl> {
  Impl(ServerOptions o, std::shared_ptr<spdlog::logger> l)
      : options(std::move(o)),
        log(std::move(l)),
        service(options.service, clock),
        acceptor(io),
        sweep_timer(io) {}

  ServerOptions options;
  std::shared_ptr<spdlog::logger> log;
  SystemClock clock;
  RegistryService service;
  std::unique_ptr<MixRegistry> mixes;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer sweep_timer;
  std::optional<ssl::context> tls;
  std::vector<std::thread> workers;
  std::atomic<std::size_t> open_connections{0};
  std::atomic<bool> stopped{false};

  // The database connections: a request takes one and gives it back.
  std::mutex pool_mutex;
  std::condition_variable pool_ready;
  std::vector<std::unique_ptr<RegistryDb>> pool;
  struct Lease {
    Impl& impl;
    std::unique_ptr<RegistryDb> db;
    explicit Lease(Impl& i) : impl(i) {
      std::unique_lock lock(impl.pool_mutex);
      impl.pool_ready.wait(lock, [&] { return !impl.pool.empty(); });
      db = std::move(impl.pool.back());
      impl.pool.pop_back();
    }
    ~Lease() {
      std::lock_guard lock(impl.pool_mutex);
      impl.pool.push_back(std::move(db));
      impl.pool_ready.notify_one();
    }
  };

  RegistryReply handle(const http::request<http::string_body>& req) {
    RegistryRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    if (auto it = req.find(http::field::authorization); it != req.end())
      r.authorization = std::string(it->value());
    r.body = req.body();
    Lease lease(*this);
    auto reply = service.handle(*lease.db, r);
    if (reply.status == 503) log->error("{} {}: {}", r.method, r.target, reply.body.value("error", ""));
    return reply;
  }

  static http::response<http::string_body> response_of(const RegistryReply& reply, unsigned version,
                                                       bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(reply.status), version};
    res.set(http::field::server, "hyphae-registry");
    res.set(http::field::content_type, "application/json");
    res.keep_alive(keep_alive);
    res.body() = reply.body.dump();
    res.prepare_payload();
    return res;
  }

  template <typename Stream>
  awaitable<void> serve(Stream& stream) {
    beast::flat_buffer buffer;
    const auto timeout = std::chrono::milliseconds(options.request_timeout_ms);
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options.service.max_body_bytes);
      parser.header_limit(16 * 1024);
      beast::get_lowest_layer(stream).expires_after(timeout);
      boost::system::error_code ec;
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (ec == http::error::body_limit) {
        auto res = response_of(
            {413, {{"error", "body over " + std::to_string(options.service.max_body_bytes) + " bytes"}}}, 11,
            false);
        co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
        co_return;
      }
      if (ec) co_return;  // closed, timed out or not HTTP
      const auto& req = parser.get();
      const bool keep_alive = req.keep_alive();
      auto res = response_of(handle(req), req.version(), keep_alive);
      beast::get_lowest_layer(stream).expires_after(timeout);
      co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
      if (ec || !keep_alive) co_return;
    }
  }

  awaitable<void> session(tcp::socket socket) {
    struct Count {
      std::atomic<std::size_t>& n;
      ~Count() { --n; }
    } count{open_connections};
    beast::tcp_stream stream(std::move(socket));
    if (!tls) {
      co_await serve(stream);
      boost::system::error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> secure(std::move(stream), *tls);
    beast::get_lowest_layer(secure).expires_after(std::chrono::milliseconds(options.request_timeout_ms));
    boost::system::error_code ec;
    co_await secure.async_handshake(ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    co_await serve(secure);
    co_await secure.async_shutdown(asio::redirect_error(use_awaitable, ec));
  }

  awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(asio::make_strand(io));
      co_await acceptor.async_accept(socket, asio::redirect_error(use_awaitable, ec));
      if (ec == asio::error::operation_aborted || stopped) co_return;
      if (ec) continue;  // e.g. out of file descriptors: keep serving the others
      if (open_connections.load() >= options.max_connections) {
        socket.close(ec);
        continue;
      }
      ++open_connections;
      auto executor = socket.get_executor();
      asio::co_spawn(executor, session(std::move(socket)), [self = shared_from_this()](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          self->log->error("registry connection failed: {}", ex.what());
        }
      });
    }
  }

  void sweep() {
    sweep_timer.expires_after(std::chrono::seconds(60));
    sweep_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->stopped) return;
      try {
        Lease lease(*self);
        if (auto n = lease.db->expire(self->clock.wall_ms())) self->log->info("{} announcements expired", n);
      } catch (const std::exception& e) {
        self->log->error("expiring announcements failed: {}", e.what());
      }
      self->sweep();
    });
  }
};

RegistryServer::RegistryServer(ServerOptions options, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_shared<Impl>(std::move(options), log ? std::move(log) : spdlog::default_logger())) {}

RegistryServer::~RegistryServer() {
  stop();
}

std::expected<void, std::string> RegistryServer::start() {
  auto& i = *impl_;
  const unsigned threads = std::max(1u, i.options.threads);
  try {
    for (unsigned n = 0; n < threads; ++n) i.pool.push_back(open_registry_db(i.options.db_url));
  } catch (const std::exception& e) {
    return std::unexpected(std::string(e.what()));
  }
  if (i.options.cert_file.empty() != i.options.key_file.empty())
    return std::unexpected(std::string("HTTPS needs both a certificate (--cert) and a key (--key)"));
  if (!i.options.mix_identity_dir.empty()) {
    auto id = Identity::load_or_create(i.options.mix_identity_dir);
    if (!id) return std::unexpected("cannot load or create the registry's identity: " + id.error().message());
    i.mixes = std::make_unique<MixRegistry>(std::move(*id), MixRegistryOptions{i.options.mix_epoch_ms, 1024},
                                            i.clock);
    i.service.set_mix_registry(i.mixes.get());
    i.log->info("registry: mix directory on, topologies signed by {}", i.mixes->peer_id().to_string());
  }
  if (!i.options.cert_file.empty()) {
    try {
      i.tls.emplace(ssl::context::tls_server);
      i.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      i.tls->use_certificate_chain_file(i.options.cert_file);
      i.tls->use_private_key_file(i.options.key_file, ssl::context::pem);
    } catch (const std::exception& e) {
      return std::unexpected("cannot load the certificate or key: " + std::string(e.what()));
    }
  }
  std::string host;
  std::uint16_t port = 0;
  if (!parse_address(i.options.listen, host, port))
    return std::unexpected("--listen must be host:port, not " + i.options.listen);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return std::unexpected("--listen: not an IP address: " + host);
  tcp::endpoint endpoint(address, port);
  i.acceptor.open(endpoint.protocol(), ec);
  if (!ec) i.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(endpoint, ec);
  if (!ec) i.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected("cannot listen on " + i.options.listen + ": " + ec.message());
  // Read before the workers start: from then on a request may take that connection out of the pool.
  const std::string backend = i.pool.front()->backend();
  asio::co_spawn(i.io, i.accept_loop(), asio::detached);
  i.sweep();
  for (unsigned n = 0; n < threads; ++n) i.workers.emplace_back([self = impl_] { self->io.run(); });
  i.log->info("registry listening on {}:{} ({}, {} database)", host, this->port(), i.tls ? "https" : "http",
              backend);
  return {};
}

std::uint16_t RegistryServer::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

bool RegistryServer::tls() const {
  return impl_->tls.has_value();
}

void RegistryServer::run() {
  for (auto& w : impl_->workers)
    if (w.joinable()) w.join();
}

void RegistryServer::stop() {
  auto& i = *impl_;
  if (i.stopped.exchange(true)) return;
  asio::post(i.io, [self = impl_] {
    boost::system::error_code ec;
    self->acceptor.close(ec);
    self->sweep_timer.cancel();
  });
  i.io.stop();
  for (auto& w : i.workers)
    if (w.joinable() && w.get_id() != std::this_thread::get_id()) w.join();
}

}  // namespace hyphae::registry
