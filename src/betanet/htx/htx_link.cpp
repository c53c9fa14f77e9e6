#include "betanet/htx/htx_link.hpp"

#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <stdexcept>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "net/self_signed_cert.hpp"

namespace hyphae::htx {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::use_awaitable;

namespace {

constexpr std::string_view kExporterLabel = "EXPORTER-hyphae-htx-inner";
constexpr unsigned char kAlpn[] = {2, 'h', '2'};

int select_h2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
              unsigned int inlen, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kAlpn, sizeof kAlpn, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

std::shared_ptr<ssl::context> base_context(ssl::context::method method) {
  auto c = std::make_shared<ssl::context>(method);
  SSL_CTX_set_min_proto_version(c->native_handle(), TLS1_3_VERSION);
  return c;
}

std::uint64_t monotonic_ms() {
  return SystemClock().monotonic_ms();
}

}  // namespace

std::shared_ptr<ssl::context> htx_client_tls() {
  auto c = base_context(ssl::context::tls_client);
  c->set_verify_mode(ssl::verify_none);  // the inner Noise XK authenticates the server
  return c;
}

std::shared_ptr<ssl::context> htx_server_tls() {
  auto c = base_context(ssl::context::tls_server);
  auto cert = net::make_self_signed_cert("hyphae-htx");
  if (!cert) throw std::runtime_error("htx: cannot make a certificate: " + cert.error());
  c->use_certificate_chain(asio::buffer(cert->cert_pem));
  c->use_private_key(asio::buffer(cert->key_pem), ssl::context::pem);
  SSL_CTX_set_alpn_select_cb(c->native_handle(), select_h2, nullptr);
  return c;
}

struct HtxLink::Impl : std::enable_shared_from_this<HtxLink::Impl> {
  Impl(Strand s, std::shared_ptr<ssl::context> t, asio::ip::tcp::socket socket, HtxLinkCallbacks c,
       HtxLinkOptions o)
      : strand(std::move(s)),
        tls(std::move(t)),
        stream(std::move(socket), *tls),
        callbacks(std::move(c)),
        options(o),
        wake(strand),
        ticker(strand),
        deadline(strand) {}

  Strand strand;
  std::shared_ptr<ssl::context> tls;
  ssl::stream<asio::ip::tcp::socket> stream;
  HtxLinkCallbacks callbacks;
  HtxLinkOptions options;
  bool client = false;
  noise::KeyPair local;
  std::array<std::uint8_t, 32> server_static{};
  std::optional<HtxSession> session;
  bool up = false, closed = false;
  Bytes pending;  // session bytes waiting for the writer
  struct Queued {
    std::uint64_t stream;
    Bytes data;
    std::size_t at = 0;
  };
  std::deque<Queued> queue;
  std::size_t queued = 0;
  asio::steady_timer wake, ticker, deadline;

  void close(const std::string& why) {
    if (closed) return;
    closed = true;
    up = false;
    wake.cancel();
    ticker.cancel();
    deadline.cancel();
    boost::system::error_code ignored;
    stream.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream.lowest_layer().close(ignored);
    if (callbacks.on_closed) callbacks.on_closed(why);
  }

  // After TLS: ALPN must be h2; the exporter becomes the Noise prologue.
  std::optional<std::string> begin_session() {
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(stream.native_handle(), &alpn, &alpn_len);
    if (alpn_len != 2 || alpn[0] != 'h' || alpn[1] != '2') return "the TLS peer did not agree on ALPN h2";
    std::array<std::uint8_t, 32> binding{};
    if (SSL_export_keying_material(stream.native_handle(), binding.data(), binding.size(),
                                   kExporterLabel.data(), kExporterLabel.size(), nullptr, 0, 0) != 1)
      return "no TLS exporter value";
    session.emplace(client ? HtxSession::client(local, server_static, binding, options.session)
                           : HtxSession::server(local, binding, options.session));
    if (client) pending = session->start(monotonic_ms());
    return std::nullopt;
  }

  void fill_from_queue() {
    if (!up) return;
    const auto now = monotonic_ms();
    while (!queue.empty()) {
      auto& q = queue.front();
      auto n = session->send(q.stream, ByteView(q.data).subspan(q.at), now, pending);
      if (!n) {
        close("htx: " + n.error());
        return;
      }
      q.at += *n;
      queued -= *n;
      if (q.at < q.data.size()) return;  // the window is shut: wait for a WINDOW_UPDATE
      queue.pop_front();
    }
  }

  static asio::awaitable<void> writer(std::shared_ptr<Impl> self) {
    while (!self->closed) {
      self->fill_from_queue();
      if (self->pending.empty()) {
        self->wake.expires_at(asio::steady_timer::time_point::max());
        boost::system::error_code ec;
        co_await self->wake.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      Bytes out;
      out.swap(self->pending);
      boost::system::error_code ec;
      co_await asio::async_write(self->stream, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
      if (ec) {
        self->close("write: " + ec.message());
        co_return;
      }
    }
  }

  static asio::awaitable<void> reader(std::shared_ptr<Impl> self) {
    Bytes buffer(64 * 1024);
    while (!self->closed) {
      boost::system::error_code ec;
      const std::size_t n = co_await self->stream.async_read_some(asio::buffer(buffer),
                                                                  asio::redirect_error(use_awaitable, ec));
      if (self->closed) co_return;
      if (ec) {
        self->close(ec == asio::error::eof ? "closed by the peer" : "read: " + ec.message());
        co_return;
      }
      auto events = self->session->on_bytes(ByteView(buffer.data(), n), monotonic_ms(), self->pending);
      if (!events) {
        self->close("htx: " + events.error());
        co_return;
      }
      for (auto& e : *events) {
        if (self->closed) co_return;
        if (e.kind == HtxEvent::Kind::established) {
          self->up = true;
          self->deadline.cancel();
          self->arm_ticker();
          if (self->callbacks.on_established) self->callbacks.on_established();
        } else if (e.kind == HtxEvent::Kind::data && self->callbacks.on_data) {
          self->callbacks.on_data(e.stream, std::move(e.data));
        }
      }
      self->wake.cancel();  // answers to send, or a window that opened
    }
  }

  void arm_ticker() {
    const auto at = session->next_wakeup();
    if (!at) return;
    const auto now = monotonic_ms();
    ticker.expires_after(std::chrono::milliseconds(*at > now ? *at - now : 0));
    ticker.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->closed || !self->up) return;
      self->session->tick(monotonic_ms(), self->pending);
      self->wake.cancel();
      self->arm_ticker();
    });
  }

  void arm_deadline() {
    deadline.expires_after(std::chrono::milliseconds(options.handshake_timeout_ms));
    deadline.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->up) self->close("htx: no session within the handshake timeout");
    });
  }

  static asio::awaitable<void> run_client(std::shared_ptr<Impl> self, std::string host, std::uint16_t port) {
    try {
      asio::ip::tcp::resolver resolver(self->strand);
      auto endpoints = co_await resolver.async_resolve(host, std::to_string(port), use_awaitable);
      co_await asio::async_connect(self->stream.lowest_layer(), endpoints, use_awaitable);
      self->stream.lowest_layer().set_option(asio::ip::tcp::no_delay(true));
      SSL_set_alpn_protos(self->stream.native_handle(), kAlpn, sizeof kAlpn);
      co_await self->stream.async_handshake(ssl::stream_base::client, use_awaitable);
    } catch (const boost::system::system_error& e) {
      self->close("connect: " + e.code().message());
      co_return;
    }
    co_await self->after_tls();
  }

  static asio::awaitable<void> run_server(std::shared_ptr<Impl> self) {
    try {
      self->stream.lowest_layer().set_option(asio::ip::tcp::no_delay(true));
      co_await self->stream.async_handshake(ssl::stream_base::server, use_awaitable);
    } catch (const boost::system::system_error& e) {
      self->close("TLS: " + e.code().message());
      co_return;
    }
    co_await self->after_tls();
  }

  asio::awaitable<void> after_tls() {
    if (closed) co_return;
    if (auto problem = begin_session()) {
      close("htx: " + *problem);
      co_return;
    }
    asio::co_spawn(strand, writer(shared_from_this()), asio::detached);
    co_await reader(shared_from_this());
  }
};

HtxLink::HtxLink(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HtxLink::~HtxLink() {
  // The coroutines hold the Impl; ending them is close()'s job. A dropped link closes.
  asio::post(impl_->strand, [impl = impl_] { impl->close("the link was dropped"); });
}

std::shared_ptr<HtxLink> HtxLink::connect(Strand strand, std::shared_ptr<ssl::context> tls, std::string host,
                                          std::uint16_t port, const noise::KeyPair& local,
                                          const std::array<std::uint8_t, 32>& server_static,
                                          HtxLinkCallbacks callbacks, HtxLinkOptions options) {
  auto impl = std::make_shared<Impl>(strand, std::move(tls), asio::ip::tcp::socket(strand),
                                     std::move(callbacks), options);
  impl->client = true;
  impl->local = local;
  impl->server_static = server_static;
  asio::post(strand, [impl, host = std::move(host), port] {
    impl->arm_deadline();
    asio::co_spawn(impl->strand, Impl::run_client(impl, host, port), asio::detached);
  });
  return std::shared_ptr<HtxLink>(new HtxLink(impl));
}

std::shared_ptr<HtxLink> HtxLink::accept(Strand strand, std::shared_ptr<ssl::context> tls,
                                         asio::ip::tcp::socket socket, const noise::KeyPair& local,
                                         HtxLinkCallbacks callbacks, HtxLinkOptions options) {
  auto impl =
      std::make_shared<Impl>(strand, std::move(tls), std::move(socket), std::move(callbacks), options);
  impl->client = false;
  impl->local = local;
  asio::post(strand, [impl] {
    impl->arm_deadline();
    asio::co_spawn(impl->strand, Impl::run_server(impl), asio::detached);
  });
  return std::shared_ptr<HtxLink>(new HtxLink(impl));
}

std::error_code HtxLink::send(std::uint64_t stream, ByteView data) {
  if (impl_->closed || !impl_->up) return Errc::no_link;
  if (impl_->queued + data.size() > impl_->options.max_queued_bytes) return Errc::backpressure;
  impl_->queue.push_back(Impl::Queued{stream, Bytes(data.begin(), data.end()), 0});
  impl_->queued += data.size();
  impl_->wake.cancel();
  return {};
}

std::uint64_t HtxLink::open_stream() {
  return impl_->session ? impl_->session->open_stream() : 0;
}

void HtxLink::close() {
  impl_->close("closed here");
}

bool HtxLink::established() const {
  return impl_->up;
}

std::size_t HtxLink::queued_bytes() const {
  return impl_->queued;
}

std::optional<std::array<std::uint8_t, 32>> HtxLink::remote_static() const {
  if (!impl_->session) return std::nullopt;
  return impl_->client ? std::optional(impl_->server_static) : impl_->session->remote_static();
}

const HtxCounters& HtxLink::counters() const {
  static const HtxCounters none{};
  return impl_->session ? impl_->session->counters() : none;
}

}  // namespace hyphae::htx
