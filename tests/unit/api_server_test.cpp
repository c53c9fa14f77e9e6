// The API server over real loopback sockets: timeouts, the connection cap, the Host/Origin guard,
// 405s, the row cap, payloads that are not UTF-8, and slow WebSocket consumers.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "api_test_support.hpp"
#include "util/json_util.hpp"

namespace hyphae {
namespace {

using api_test::ApiHost;
using api_test::RawSocket;
using json = nlohmann::json;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using namespace std::chrono_literals;

std::string get(const ApiHost& h, const std::string& target, const std::string& extra_headers = "",
                const std::string& method = "GET") {
  return method + " " + target + " HTTP/1.1\r\nAuthorization: Bearer " + h.token() + "\r\n" + extra_headers +
         "Content-Length: 0\r\n\r\n";
}

// A WebSocket on the message stream, read synchronously by the test.
struct StreamClient {
  asio::io_context io;
  websocket::stream<asio::ip::tcp::socket> ws{io};
  explicit StreamClient(const ApiHost& h) {
    ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), h.port()});
    ws.set_option(websocket::stream_base::decorator([token = h.token()](websocket::request_type& req) {
      req.set(beast::http::field::authorization, "Bearer " + token);
    }));
    ws.handshake("127.0.0.1", "/v1/p2p/messages/stream");
  }
  // The next frame as JSON, or a discarded value once the stream is closed or after `limit`.
  json next(std::chrono::milliseconds limit = 10s) {
    beast::flat_buffer buffer;
    boost::system::error_code ec = asio::error::would_block;
    ws.async_read(buffer, [&](boost::system::error_code e, std::size_t) { ec = e; });
    io.restart();
    io.run_for(limit);
    if (ec) {
      if (ec == asio::error::would_block) {
        ws.next_layer().cancel();
        io.restart();
        io.run();
      }
      return json(json::value_t::discarded);
    }
    return json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
  }
  void ack(const json& message) {
    ws.write(asio::buffer(json{{"type", "ack"}, {"id", message["id"]}}.dump()));
  }
};

Bytes bytes_of(std::initializer_list<std::uint8_t> b) {
  return Bytes(b);
}

TEST(ApiServer, AClientThatSendsHalfARequestAndStallsIsClosedWithinTheTimeout) {
  ApiHost h([](NodeConfig& c) { c.api_timeout_ms = 200; });
  RawSocket stalled(h.port());
  ASSERT_TRUE(stalled.connected());
  stalled.send("GET /v1/p2p/status HTTP/1.1\r\nAuthorization: Bearer ");  // ... and nothing more
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(stalled.read_until_closed(3s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_TRUE(ApiHost::wait_for([&] { return h.connections() == 0; }));
  // An idle keep-alive connection is dropped the same way, a quick client is served.
  RawSocket idle(h.port());
  idle.send(get(h, "/v1/health"));
  EXPECT_EQ(api_test::status_of(idle.read_response()), 200);
  EXPECT_TRUE(idle.read_until_closed(3s));
  ApiClient client(h.endpoint());
  EXPECT_EQ(client.request("GET", "/v1/p2p/status").status, 200);
}

TEST(ApiServer, ConnectionsOverTheCapAreClosedAtOnceAndTheServerStillServes) {
  ApiHost h([](NodeConfig& c) { c.api_max_connections = 4; });
  std::vector<std::unique_ptr<RawSocket>> held;
  for (int i = 0; i < 4; ++i) held.push_back(std::make_unique<RawSocket>(h.port()));
  ASSERT_TRUE(ApiHost::wait_for([&] { return h.connections() == 4; }));
  RawSocket extra(h.port());
  ASSERT_TRUE(extra.connected());  // the kernel accepts it; the server closes it
  EXPECT_TRUE(extra.read_until_closed(2s));
  EXPECT_EQ(h.connections(), 4u);
  held.clear();
  ASSERT_TRUE(ApiHost::wait_for([&] { return h.connections() == 0; }));
  ApiClient client(h.endpoint());
  EXPECT_EQ(client.request("GET", "/v1/p2p/status").status, 200);
}

TEST(ApiServer, AForeignHostOrOriginIsRefusedWith403) {
  ApiHost h([](NodeConfig& c) { c.api_allowed_hosts = {"hyphae.lan"}; });
  auto ask = [&](const std::string& headers) {
    RawSocket s(h.port());
    s.send(get(h, "/v1/p2p/status", headers));
    return s.read_response();
  };
  const auto rebound = ask("Host: attacker.example:8080\r\n");
  EXPECT_EQ(api_test::status_of(rebound), 403);
  EXPECT_TRUE(json::parse(api_test::body_of(rebound)).contains("error"));
  EXPECT_EQ(api_test::status_of(ask("Host: 127.0.0.1\r\nOrigin: http://attacker.example\r\n")), 403);
  EXPECT_EQ(api_test::status_of(ask("Host: localhost:4000\r\nOrigin: null\r\n")), 403);
  EXPECT_EQ(api_test::status_of(ask("Host: 127.0.0.1.attacker.example\r\n")), 403);
  // Even the token-free health check: a page must not probe the API.
  RawSocket health(h.port());
  health.send("GET /v1/health HTTP/1.1\r\nHost: attacker.example\r\n\r\n");
  EXPECT_EQ(api_test::status_of(health.read_response()), 403);

  EXPECT_EQ(api_test::status_of(ask("Host: localhost:4000\r\n")), 200);
  EXPECT_EQ(api_test::status_of(ask("Host: [::1]:4000\r\nOrigin: http://localhost:3000\r\n")), 200);
  EXPECT_EQ(api_test::status_of(ask("Host: 127.0.0.1:" + std::to_string(h.port()) + "\r\n")), 200);
  EXPECT_EQ(api_test::status_of(ask("Host: HYPHAE.lan:8080\r\n")), 200);
}

TEST(ApiServer, AKnownPathWithTheWrongMethodIs405WithAllow) {
  ApiHost h;
  auto ask = [&](const std::string& method, const std::string& target) {
    RawSocket s(h.port());
    s.send(get(h, target, "Host: 127.0.0.1\r\n", method));
    return s.read_response();
  };
  auto r = ask("DELETE", "/v1/messages");
  EXPECT_EQ(api_test::status_of(r), 405);
  EXPECT_NE(r.find("Allow: GET, POST\r\n"), std::string::npos) << r;
  EXPECT_EQ(json::parse(api_test::body_of(r))["status"], 405);
  r = ask("GET", "/v1/p2p/broadcast");
  EXPECT_EQ(api_test::status_of(r), 405);
  EXPECT_NE(r.find("Allow: POST\r\n"), std::string::npos) << r;
  r = ask("PUT", "/v1/p2p/transports/tcp/fault");
  EXPECT_EQ(api_test::status_of(r), 405);
  EXPECT_EQ(api_test::status_of(ask("POST", "/v1/health")), 405);
  EXPECT_EQ(api_test::status_of(ask("GET", "/v1/nothing")), 404);
}

TEST(ApiServer, RowsPerGetAreClampedTo1000) {
  ApiHost h;
  h.link();
  h.send_from_b(std::vector<Bytes>(1005, bytes_of({'x'})));
  ApiClient client(h.endpoint());
  ASSERT_TRUE(ApiHost::wait_for(
      [&] { return client.request("GET", "/v1/p2p/status").body["counters"]["received"] == 1005; }, 30s));
  auto r = client.request("GET", "/v1/messages?after=0&limit=5000");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["messages"].size(), 1000u);
  r = client.request("GET", "/v1/messages?after=0&limit=99999999999999999999999");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["messages"].size(), 1000u);
  r = client.request("GET", "/v1/messages?after=1000&limit=5000");
  EXPECT_EQ(r.body["messages"].size(), 5u);
  EXPECT_EQ(client.request("GET", "/v1/messages?limit=ten").status, 400);
}

TEST(ApiServer, PayloadsThatAreNotUtf8AreStreamedAsBase64AndTheNodeKeepsRunning) {
  ApiHost h;
  h.link();
  const std::vector<Bytes> payloads{bytes_of({0xed, 0xa0, 0x80}), bytes_of({0xe0, 0x80, 0x80}),
                                    bytes_of({0xc0, 0x80}), bytes_of({0xf4, 0x90, 0x80, 0x80}),
                                    bytes_of({0xf0, 0x9f, 0x98, 0x80})};
  {
    StreamClient stream(h);
    h.send_from_b(payloads);
    for (std::size_t i = 0; i < payloads.size(); ++i) {
      auto m = stream.next();
      ASSERT_TRUE(m.is_object()) << "frame " << i;
      if (i + 1 < payloads.size()) {
        ASSERT_TRUE(m.contains("payload_base64")) << m.dump();
        EXPECT_EQ(base64_decode(m["payload_base64"].get<std::string>()), payloads[i]);
      } else {
        EXPECT_EQ(m["payload"], "\xf0\x9f\x98\x80");
      }
    }
  }
  ApiClient client(h.endpoint());
  auto inbox = client.request("GET", "/v1/messages?after=0");
  ASSERT_EQ(inbox.status, 200);
  ASSERT_EQ(inbox.body["messages"].size(), payloads.size());
  EXPECT_EQ(base64_decode(inbox.body["messages"][0]["payload_base64"].get<std::string>()), payloads[0]);
  // The replay on the next subscription (nothing was acked) works too: no crash loop.
  StreamClient again(h);
  auto m = again.next();
  ASSERT_TRUE(m.is_object());
  EXPECT_TRUE(m.contains("payload_base64"));
  EXPECT_EQ(client.request("GET", "/v1/p2p/status").status, 200);
}

TEST(ApiServer, ASlowStreamConsumerIsDroppedAndItsMessagesStayRetrievable) {
  ApiHost h([](NodeConfig& c) { c.api_ws_queue_bytes = 64 * 1024; });
  h.link();
  auto slow = std::make_unique<StreamClient>(h);  // never reads
  ASSERT_TRUE(ApiHost::wait_for([&] { return h.connections() == 1; }));
  const std::size_t count = 48;
  h.send_from_b(std::vector<Bytes>(count, Bytes(256 * 1024, 'm')));  // 12 MiB, more than socket buffers hold
  ApiClient client(h.endpoint());
  ASSERT_TRUE(ApiHost::wait_for(
      [&] { return client.request("GET", "/v1/p2p/status").body["counters"]["received"] == count; }, 30s));
  // The server dropped the stream (only the client's keep-alive connection is left)...
  EXPECT_TRUE(ApiHost::wait_for([&] { return h.connections() == 1; }, 5s));
  RawSocket raw(::dup(slow->ws.next_layer().native_handle()));
  EXPECT_TRUE(raw.read_until_closed(5s));
  slow.reset();
  // ... but every message is still in the inbox, and a reading client gets them all from the replay,
  // a queue's worth at a time (the node asks it to reconnect for the rest).
  EXPECT_EQ(client.request("GET", "/v1/messages?after=0&limit=1000").body["messages"].size(), count);
  std::set<std::string> seen;
  for (int round = 0; round < 100 && seen.size() < count; ++round) {
    StreamClient reader(h);
    for (;;) {
      auto m = reader.next(5s);
      if (!m.is_object()) break;
      ASSERT_EQ(m["payload"].get<std::string>().size(), 256u * 1024);
      seen.insert(m["id"].get<std::string>());
      reader.ack(m);
    }
  }
  EXPECT_EQ(seen.size(), count);
}

TEST(ApiServer, ANeighboursNicknameThatIsNotUtf8IsShownReplacedAndTheApiKeepsAnswering) {
  // Two nodes on one simulated BitChat radio medium; b announces the nickname "\xff".
  const std::string medium = "api-test-" + std::to_string(::getpid());
  auto mesh = [&](std::string nickname, std::string position) {
    return [=](NodeConfig& c) {
      auto& o = c.transports["mesh"].options;
      o["type"] = "bitchat";
      o["link"] = "radio";
      o["radio_medium"] = medium;
      o["radio_position"] = position;
      o["nickname"] = nickname;
      o["announce_interval_ms"] = "200";
      o["peer_timeout_ms"] = "5000";
    };
  };
  ApiHost h(mesh("alice", "0.1,0.5"), mesh("\xff", "0.15,0.5"));
  ApiClient client(h.endpoint());
  const std::string replaced = "\xef\xbf\xbd";  // U+FFFD
  auto shows_replaced = [&](const std::string& target) {
    auto r = client.request("GET", target);
    EXPECT_EQ(r.status, 200);
    return r.raw.find(replaced) != std::string::npos;
  };
  ASSERT_TRUE(ApiHost::wait_for([&] { return shows_replaced("/v1/p2p/transports"); }, 20s));
  EXPECT_TRUE(shows_replaced("/v1/p2p/status"));
  EXPECT_EQ(client.request("GET", "/v1/p2p/connections").status, 200);
}

// CPU time this process has used (all threads).
std::chrono::microseconds cpu_time() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto us = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

TEST(ApiServer, OutOfDescriptorsTheAcceptLoopWaitsInsteadOfSpinning) {
  ApiHost h;
  RawSocket waiting(h.port());  // its descriptor exists before the table is full
  ASSERT_TRUE(ApiHost::wait_for([&] { return h.connections() == 1; }));
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  std::vector<int> filler;
  {
    // Fill the descriptor table: the server's next accept fails with EMFILE.
    rlimit low = old;
    low.rlim_cur = std::min<rlim_t>(old.rlim_cur, 4096);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    for (int fd; (fd = ::dup(0)) >= 0;) filler.push_back(fd);
  }
  RawSocket blocked(h.port());  // fails too: no descriptor for the client either
  EXPECT_FALSE(blocked.connected());
  // Free exactly one descriptor for a client socket; the server still has none.
  ::close(filler.back());
  filler.pop_back();
  RawSocket pending(h.port());
  ASSERT_TRUE(pending.connected());
  const auto before = cpu_time();
  std::this_thread::sleep_for(500ms);
  const auto used = cpu_time() - before;
  for (int fd : filler) ::close(fd);
  ::setrlimit(RLIMIT_NOFILE, &old);
  EXPECT_LT(used, 150ms) << "the accept loop spun on EMFILE";
  // Once descriptors are back, the waiting connection is accepted and served.
  pending.send(get(h, "/v1/health"));
  EXPECT_EQ(api_test::status_of(pending.read_response()), 200);
}

TEST(ApiServer, StopWithLiveSessionsAndStreamsIsSafe) {
  auto h = std::make_unique<ApiHost>();
  StreamClient stream(*h);
  RawSocket half(h->port());
  half.send("GET /v1/p2p/status HTTP/1.1\r\n");
  ASSERT_TRUE(ApiHost::wait_for([&] { return h->connections() == 2; }));
  h->on_strand([&] {
    h->api().stop();
    return 0;
  });
  EXPECT_TRUE(half.read_until_closed(2s));
  h.reset();  // the server and the nodes go while the client sockets are still open
}

}  // namespace
}  // namespace hyphae
