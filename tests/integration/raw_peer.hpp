// RawPeer: a peer speaking the TCP mesh's link protocol directly (Noise XX, libp2p handshake
// payload, link records) over a blocking loopback socket, so tests can send hand-made records to a
// real node process: envelopes, floods, pings, records it would never send itself.
// Not thread-safe; owned by one test. Each RawPeer has a fresh identity unless one is given.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "core/identity.hpp"
#include "core/peer_id.hpp"
#include "crypto/noise/noise.hpp"
#include "transport/stream/link_session.hpp"

namespace hyphae::testing {

class RawPeer {
 public:
  RawPeer(unsigned short port, const PeerId& expected, Identity identity = Identity::generate())
      : socket_(io_), identity_(std::move(identity)), session_(identity_, link_static_, true, expected) {
    socket_.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    write(session_.start());
    pump_until([&] { return session_.established(); });
  }
  const Identity& identity() const { return identity_; }
  bool established() const { return session_.established(); }
  void send(stream::RecordType type, ByteView body) {
    session_.queue(type, body);
    Bytes wire;
    session_.seal(wire);
    write(wire);
  }
  // Queues every record and writes them in one blocking write (a burst as fast as TCP takes it).
  void send_burst(stream::RecordType type, const std::vector<Bytes>& bodies) {
    for (const auto& body : bodies) session_.queue(type, body);
    Bytes wire;
    session_.seal(wire);
    write(wire);
  }
  // Sends without ever reading; false once the node closed the connection (or the write failed).
  bool try_send(stream::RecordType type, ByteView body) {
    session_.queue(type, body);
    Bytes wire;
    session_.seal(wire);
    boost::system::error_code ec;
    boost::asio::write(socket_, boost::asio::buffer(wire), ec);
    return !ec;
  }
  // Reads until `done` or the connection goes quiet for a second (or closes: then closed() is true).
  template <typename F>
  void pump_until(F done) {
    namespace asio = boost::asio;
    socket_.non_blocking(false);
    while (!done()) {
      std::array<std::uint8_t, 65536> buf{};
      boost::system::error_code ec;
      socket_.async_read_some(asio::buffer(buf), [&](boost::system::error_code e, std::size_t n) {
        ec = e;
        if (e) return;
        Bytes out;
        auto err = session_.on_bytes(ByteView(buf.data(), n), out, [&](const stream::Record& r) {
          ++records_;
          if (r.type == stream::RecordType::relay) relay_.emplace_back(r.body.begin(), r.body.end());
          if (r.type == stream::RecordType::data) data_.emplace_back(r.body.begin(), r.body.end());
          if (r.type == stream::RecordType::ack)
            for (std::size_t i = 0; i + 16 <= r.body.size(); i += 16)
              acked_.push_back(to_hex(r.body.subspan(i, 16)));
        });
        if (err) ec = asio::error::invalid_argument;
        if (!out.empty()) write(out);
      });
      io_.restart();
      if (io_.run_for(std::chrono::seconds(1)) == 0) {
        socket_.cancel();
        io_.run();
        return;
      }
      if (ec) {
        closed_ = true;
        return;
      }
    }
  }
  const std::vector<std::string>& acked() const { return acked_; }
  const std::vector<Bytes>& relay_records() const { return relay_; }  // relay messages received
  const std::vector<Bytes>& data_records() const { return data_; }    // envelopes received
  std::size_t records() const { return records_; }
  bool closed() const { return closed_; }

 private:
  void write(const Bytes& wire) {
    if (!wire.empty()) boost::asio::write(socket_, boost::asio::buffer(wire));
  }
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  Identity identity_;
  noise::KeyPair link_static_ = noise::KeyPair::generate();
  stream::LinkSession session_;
  std::vector<std::string> acked_;
  std::vector<Bytes> relay_, data_;
  std::size_t records_ = 0;
  bool closed_ = false;
};

}  // namespace hyphae::testing
