// MeshTransport over WebRTC data channels: the "webrtc" transport type (options, capabilities).
#include <boost/asio/ip/address.hpp>

#include "core/address.hpp"
#include "core/ws_address.hpp"
#include "transport/mesh/mesh_transport.hpp"
#include "transport/webrtc/webrtc_connector.hpp"
#include "util/option_text.hpp"

namespace hyphae::transport {

namespace {

constexpr std::uint64_t kDefaultNegotiationTimeoutMs = 15'000;
constexpr std::uint64_t kDefaultMaxNegotiations = 32;

}  // namespace

TransportType MeshTransport::webrtc_type_info() {
  using K = OptionSpec::Kind;
  return {
      "webrtc",
      "links in WebRTC data channels (ICE, DTLS, SCTP) negotiated through a `hyphae signal` server: "
      "Noise XX with libp2p PeerIds inside, for browsers and peers behind NATs",
      {
          {"type", K::choice, 0, 0, {"webrtc"}, "webrtc", "the type, for an instance with a name of its own"},
          {"signal", K::text, 0, 0, {}, "", "the signaling server, ws://host:port (required)"},
          {"rooms", K::list, 0, 0, {}, "hyphae", "rooms to join at the signaling server"},
          {"stun", K::text, 0, 0, {}, "", "STUN server IP:port for server-reflexive candidates"},
          {"interfaces", K::list, 0, 0, {}, "", "IP addresses to gather host candidates on (default: all)"},
          {"port_min", K::integer, 0, 65535, {}, "0", "lowest UDP port for candidates (0: any)"},
          {"port_max", K::integer, 0, 65535, {}, "0", "highest UDP port for candidates (0: any)"},
          {"negotiation_timeout_ms",
           K::integer,
           500,
           600'000,
           {},
           std::to_string(kDefaultNegotiationTimeoutMs),
           "offer to open data channel, else the attempt fails (and the dial backs off)"},
          {"max_negotiations",
           K::integer,
           1,
           10'000,
           {},
           std::to_string(kDefaultMaxNegotiations),
           "offers and answers in flight; a new offer past it evicts the oldest answer"},
          {"max_handshakes",
           K::integer,
           1,
           100'000,
           {},
           std::to_string(kDefaultMaxHandshakes),
           "links in their Noise handshake; the oldest is closed to admit a new one"},
      },
      &MeshTransport::make_webrtc};
}

std::expected<std::unique_ptr<Transport>, std::string> MeshTransport::make_webrtc(TransportContext context) {
  const auto schema = webrtc_type_info().options;
  const std::string where = "transport " + context.name + ": ";
  const std::string signal = schema.text(context.options, "signal");
  rtc::WebRtcOptions options;
  {
    std::string host;
    std::uint16_t port = 0;
    auto url = ws::parse_ws_address(signal);
    if (url && !url->tls && url->path == "/") {
      host = url->host;
      port = url->port;
    } else if (!parse_address(signal, host, port)) {
      return std::unexpected(where + "signal '" + signal + "' is not ws://host:port (the signaling server)");
    }
    options.signal.host = host;
    options.signal.port = port;
  }
  options.signal.rooms = split_option_list(schema.text(context.options, "rooms"));
  options.signal.capabilities = {{"transports", {"webrtc"}}, {"services", {"messaging"}}, {"kind", "node"}};
  options.connection.stun_server = schema.text(context.options, "stun");
  for (const auto& ip : split_option_list(schema.text(context.options, "interfaces"))) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(ip, ec);
    if (ec) return std::unexpected(where + "interfaces: '" + ip + "' is not an IP address");
    options.connection.interface_addresses.push_back(ip);
  }
  auto port_min = schema.integer(context.options, "port_min", 0);
  auto port_max = schema.integer(context.options, "port_max", 0);
  if (!port_min) return std::unexpected(where + port_min.error());
  if (!port_max) return std::unexpected(where + port_max.error());
  if (*port_min > *port_max) return std::unexpected(where + "port_min is above port_max");
  options.connection.port_min = static_cast<std::uint16_t>(*port_min);
  options.connection.port_max = static_cast<std::uint16_t>(*port_max);
  auto timeout = schema.integer(context.options, "negotiation_timeout_ms", kDefaultNegotiationTimeoutMs);
  if (!timeout) return std::unexpected(where + timeout.error());
  options.negotiation_timeout_ms = *timeout;
  auto negotiations = schema.integer(context.options, "max_negotiations", kDefaultMaxNegotiations);
  if (!negotiations) return std::unexpected(where + negotiations.error());
  options.max_negotiations = static_cast<std::size_t>(*negotiations);
  auto max_handshakes = schema.integer(context.options, "max_handshakes", kDefaultMaxHandshakes);
  if (!max_handshakes) return std::unexpected(where + max_handshakes.error());

  // The link is a byte stream spread over data channel messages (64 KiB each, under every
  // browser's max-message-size), so a record of any size travels whole, as on TCP.
  auto base = router::Capabilities::webrtc_preset();
  const std::size_t records = context.max_record_bytes ? context.max_record_bytes : std::size_t{1} << 20;
  base.mtu = static_cast<std::uint32_t>(std::min<std::size_t>(records, 1u << 30));
  base.max_message_size = base.mtu;
  auto caps = apply_capability_options(base, context.options);
  if (!caps) return std::unexpected(where + caps.error());

  auto log = logger_for(context);
  auto connector =
      std::make_unique<rtc::WebRtcConnector>(context.strand, *context.identity, std::move(options), log);
  auto transport = std::make_unique<MeshTransport>(std::move(context), *caps, std::move(connector));
  transport->max_handshakes_ = static_cast<std::size_t>(*max_handshakes);
  return transport;
}

}  // namespace hyphae::transport
