// WebSocket byte streams: a link's bytes carried in binary WebSocket messages (Boost.Beast), over
// plain TCP (ws://) or TLS (wss://, OpenSSL). The server side accepts an upgrade only on its path
// and answers anything else with an HTTP error; text messages close the stream. Writes go out as
// messages of at most 1 MiB, so a browser never buffers more than that for one message.
// Thread-safety and ownership: those of ByteStream (one link's strand, owned by the link).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "transport/stream/byte_stream.hpp"

namespace hyphae::ws {

inline constexpr std::size_t kMaxWsMessage = std::size_t{1} << 20;      // what we write per message
inline constexpr std::size_t kMaxWsReadMessage = std::size_t{4} << 20;  // what we accept per message

// An accepted connection. `tls` null: ws://; otherwise wss:// with that (server) context.
std::unique_ptr<stream::ByteStream> make_ws_server_stream(boost::asio::ip::tcp::socket socket,
                                                          std::shared_ptr<boost::asio::ssl::context> tls,
                                                          std::string path);

// A dialed connection: the upgrade request names `host` and `path`.
std::unique_ptr<stream::ByteStream> make_ws_client_stream(boost::asio::ip::tcp::socket socket,
                                                          std::shared_ptr<boost::asio::ssl::context> tls,
                                                          std::string host, std::string path);

}  // namespace hyphae::ws
