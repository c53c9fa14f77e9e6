// http_fetch: resolve, connect, (TLS handshake), write, read, all raced against one deadline.
#include "net/http_fetch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace hyphae::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

bool parse_url(const std::string& url, ParsedUrl& out) {
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    out.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    out.tls = false;
    rest.remove_prefix(7);
  } else {
    return false;
  }
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.empty() || authority.find('@') != std::string_view::npos ||
      out.target.find('#') != std::string::npos)
    return false;
  if (authority.front() == '[') {  // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    out.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && authority.front() != ':') return false;
    out.port = authority.empty() ? "" : std::string(authority.substr(1));
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    out.port = colon == std::string_view::npos ? "" : std::string(authority.substr(colon + 1));
  }
  if (out.port.empty()) out.port = out.tls ? "443" : "80";
  return !out.host.empty() && out.port.find_first_not_of("0123456789") == std::string::npos;
}

namespace {

template <typename Stream>
awaitable<HttpResult> exchange(Stream& stream, const HttpRequest& request, const ParsedUrl& url) {
  HttpResult result;
  http::request<http::string_body> req{request.method == "POST" ? http::verb::post : http::verb::get,
                                       url.target, 11};
  req.set(http::field::host, url.host + ":" + url.port);
  req.set(http::field::user_agent, "hyphae");
  req.set(http::field::accept, "application/json");
  if (!request.bearer_token.empty()) req.set(http::field::authorization, "Bearer " + request.bearer_token);
  if (!request.body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = request.body;
  }
  req.keep_alive(false);
  req.prepare_payload();
  boost::system::error_code ec;
  co_await http::async_write(stream, req, asio::redirect_error(use_awaitable, ec));
  if (ec) {
    result.error = "write: " + ec.message();
    co_return result;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(request.max_response_bytes);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
  if (ec) {
    result.error = "read: " + ec.message();
    co_return result;
  }
  result.status = static_cast<int>(parser.get().result_int());
  result.body = std::move(parser.get().body());
  co_return result;
}

awaitable<HttpResult> fetch(HttpRequest request) {
  HttpResult result;
  ParsedUrl url;
  if (!parse_url(request.url, url)) {
    result.error = "not an http(s) URL: " + request.url;
    co_return result;
  }
  auto executor = co_await asio::this_coro::executor;
  boost::system::error_code ec;
  tcp::resolver resolver(executor);
  auto endpoints =
      co_await resolver.async_resolve(url.host, url.port, asio::redirect_error(use_awaitable, ec));
  if (ec) {
    result.error = "resolve " + url.host + ": " + ec.message();
    co_return result;
  }
  beast::tcp_stream tcp_stream(executor);
  tcp_stream.expires_after(request.timeout);
  co_await tcp_stream.async_connect(endpoints, asio::redirect_error(use_awaitable, ec));
  if (ec) {
    result.error = "connect " + url.host + ":" + url.port + ": " + ec.message();
    co_return result;
  }
  if (!url.tls) co_return co_await exchange(tcp_stream, request, url);

  ssl::context context(ssl::context::tls_client);
  context.set_verify_mode(ssl::verify_peer);
  if (!request.ca_file.empty())
    context.load_verify_file(request.ca_file, ec);
  else
    context.set_default_verify_paths(ec);
  if (ec) {
    result.error = "TLS trust store: " + ec.message();
    co_return result;
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), context);
  boost::system::error_code addr_ec;
  asio::ip::make_address(url.host, addr_ec);
  if (addr_ec) SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str());  // SNI for names only
  stream.set_verify_callback(ssl::host_name_verification(url.host));
  co_await stream.async_handshake(ssl::stream_base::client, asio::redirect_error(use_awaitable, ec));
  if (ec) {
    result.error = "TLS handshake with " + url.host + ": " + ec.message();
    co_return result;
  }
  result = co_await exchange(stream, request, url);
  co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));  // best effort
  co_return result;
}

}  // namespace

void http_fetch(asio::any_io_executor executor, HttpRequest request, std::function<void(HttpResult)> done) {
  asio::co_spawn(executor, fetch(std::move(request)),
                 [done = std::move(done)](std::exception_ptr e, HttpResult result) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       result = HttpResult{0, std::string("request failed: ") + ex.what(), {}};
                     }
                   }
                   done(std::move(result));
                 });
}

}  // namespace hyphae::net
