// Peer addresses as the configuration and the API write them: "host:port", "[v6]:port" or a
// multiaddr "/ip4/host/tcp/port" (also /ip6/, /dns4/, /dns/, with an optional /p2p/ tail), and the
// "transport=address" form that names the transport an address belongs to.
// Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string>

namespace hyphae {

// Parses "host:port" or "/ip4/host/tcp/port" (also /dns4/, /ip6/). Returns false if malformed.
bool parse_address(const std::string& address, std::string& host, std::uint16_t& port);

// A peer address may name its transport: "lan=host:port". Returns {transport, address}; the
// transport is empty for an address without a name (it belongs to the first transport).
struct TransportAddress {
  std::string transport;
  std::string address;
};
TransportAddress split_transport_address(const std::string& text);
// Whether `text` is [transport=]host:port (or a multiaddr), a WebSocket address or a WebRTC one
// (.../p2p-webrtc-star: ws_address.hpp);
// the transport name is not checked here.
bool valid_peer_address(const std::string& text);

}  // namespace hyphae
