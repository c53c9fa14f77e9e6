// Multiaddr: self-describing network addresses as libp2p writes them, in text
// ("/ip4/10.0.0.2/udp/4001/quic-v1") and in binary (a varint protocol code, then the value: fixed
// size, or a varint length and bytes). The protocols a peer record carries are supported: ip4, ip6,
// tcp, udp, dns, dns4, dns6, dnsaddr, quic, quic-v1, ws, wss, tls, webtransport, webrtc,
// webrtc-direct, p2p and p2p-circuit. Unknown codes are refused (their value length is unknown).
// Thread-safety: pure functions. Ownership: values.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <system_error>

#include "core/bytes.hpp"

namespace hyphae::discovery {

inline constexpr std::size_t kMaxMultiaddrBytes = 1024;

// Text to binary; the error is a sentence naming what is wrong.
std::expected<Bytes, std::string> multiaddr_from_text(std::string_view text);
// Binary to text; Errc::malformed for truncated values, unknown codes or bad values.
std::expected<std::string, std::error_code> multiaddr_to_text(ByteView bytes);

}  // namespace hyphae::discovery
