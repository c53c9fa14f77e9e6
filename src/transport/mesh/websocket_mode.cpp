// MeshTransport in WebSocket mode: the "websocket" transport type (options, TLS contexts).
#include <boost/asio/ssl/context.hpp>

#include "core/address.hpp"
#include "core/ws_address.hpp"
#include "net/self_signed_cert.hpp"
#include "transport/mesh/mesh_transport.hpp"

namespace hyphae::transport {

namespace ssl = boost::asio::ssl;

namespace {

std::shared_ptr<ssl::context> tls_context(ssl::context::method method) {
  auto context = std::make_shared<ssl::context>(method);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  return context;
}

}  // namespace

TransportType MeshTransport::websocket_type_info() {
  using K = OptionSpec::Kind;
  return {
      "websocket",
      "links in WebSocket messages (ws:// or wss://): Noise XX with libp2p PeerIds inside, for "
      "HTTP-only networks and browsers",
      {
          {"type",
           K::choice,
           0,
           0,
           {"websocket"},
           "websocket",
           "the type, for an instance with a name of its own"},
          {"listen",
           K::text,
           0,
           0,
           {},
           "127.0.0.1:0",
           "host:port to accept WebSocket links on (port 0: any)"},
          {"tls",
           K::boolean,
           0,
           0,
           {},
           "false",
           "wss://: TLS around the WebSocket (the listener's and dials')"},
          {"tls_cert", K::text, 0, 0, {}, "", "PEM certificate chain for wss:// (none: a self-signed one)"},
          {"tls_key", K::text, 0, 0, {}, "", "PEM private key of tls_cert"},
          {"path", K::text, 0, 0, {}, "/", "the HTTP path the listener upgrades (others get 404)"},
          {"max_handshakes",
           K::integer,
           1,
           100'000,
           {},
           std::to_string(kDefaultMaxHandshakes),
           "accepted connections still in their handshakes; the oldest is closed to admit a new one"},
          {"dial_timeout_ms",
           K::integer,
           10,
           600'000,
           {},
           std::to_string(kDefaultDialTimeoutMs),
           "how long a dial may take to connect before it counts as failed (and backs off)"},
      },
      &MeshTransport::make_websocket};
}

std::expected<std::unique_ptr<Transport>, std::string> MeshTransport::make_websocket(
    TransportContext context) {
  const auto schema = websocket_type_info().options;
  const std::string where = "transport " + context.name + ": ";
  std::string listen = schema.text(context.options, "listen");
  std::string host;
  std::uint16_t port = 0;
  if (!parse_address(listen, host, port))
    return std::unexpected(where + "listen '" + listen + "' is not host:port");
  WebSocketMode mode;
  mode.path = schema.text(context.options, "path");
  if (!ws::parse_ws_address("ws://h:1" + mode.path))
    return std::unexpected(where + "path '" + mode.path + "' must start with / and hold no spaces");
  const auto tls_text = schema.check("tls", schema.text(context.options, "tls"));
  if (!tls_text) return std::unexpected(where + tls_text.error());
  const bool tls = *tls_text == "true";
  const std::string cert_file = schema.text(context.options, "tls_cert");
  const std::string key_file = schema.text(context.options, "tls_key");
  if (cert_file.empty() != key_file.empty())
    return std::unexpected(where + "tls_cert and tls_key go together");
  try {
    // Dials to wss:// addresses: the Noise handshake inside authenticates the peer by its PeerId, so
    // the TLS layer only has to look like HTTPS and does not check the certificate.
    mode.client_tls = tls_context(ssl::context::tls_client);
    mode.client_tls->set_verify_mode(ssl::verify_none);
    if (tls) {
      mode.server_tls = tls_context(ssl::context::tls_server);
      if (!cert_file.empty()) {
        mode.server_tls->use_certificate_chain_file(cert_file);
        mode.server_tls->use_private_key_file(key_file, ssl::context::pem);
      } else {
        auto made = net::make_self_signed_cert("hyphae");
        if (!made) return std::unexpected(where + "cannot make a certificate: " + made.error());
        mode.server_tls->use_certificate_chain(boost::asio::buffer(made->cert_pem));
        mode.server_tls->use_private_key(boost::asio::buffer(made->key_pem), ssl::context::pem);
      }
    }
  } catch (const boost::system::system_error& e) {
    return std::unexpected(where + "TLS: " + e.what());
  }
  auto base = router::Capabilities::websocket_preset();
  const std::size_t records = context.max_record_bytes ? context.max_record_bytes : std::size_t{1} << 20;
  base.mtu = static_cast<std::uint32_t>(std::min<std::size_t>(records, 1u << 30));
  base.max_message_size = base.mtu;
  auto caps = apply_capability_options(base, context.options);
  if (!caps) return std::unexpected(where + caps.error());
  auto max_handshakes = schema.integer(context.options, "max_handshakes", kDefaultMaxHandshakes);
  if (!max_handshakes) return std::unexpected(where + max_handshakes.error());
  auto dial_timeout = schema.integer(context.options, "dial_timeout_ms", kDefaultDialTimeoutMs);
  if (!dial_timeout) return std::unexpected(where + dial_timeout.error());
  auto transport =
      std::make_unique<MeshTransport>(std::move(context), *caps, std::move(listen), std::move(mode));
  transport->max_handshakes_ = static_cast<std::size_t>(*max_handshakes);
  transport->dial_timeout_ = std::chrono::milliseconds(*dial_timeout);
  return transport;
}

}  // namespace hyphae::transport
