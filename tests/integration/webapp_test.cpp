// The web app served by a real node: `hyphae app` prints a one-time login link, the link sets an
// HttpOnly SameSite=Strict session cookie and works once, the cookie alone reads but changes
// nothing without the session's CSRF token, the app's files come with a strict CSP, and bad asset
// names or foreign origins are refused. Then headless Chromium logs in with such a link and the
// control panel shows the node, its transports and a failover (fault injection) as it happens.
#include <sodium.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <regex>

#include "harness.hpp"
#include "signal_process.hpp"
#include "testnet/local_registry.hpp"
#include "two_transports.hpp"

namespace hyphae::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

RawResponse raw_http(std::uint16_t port, http::verb method, const std::string& target,
                     const std::map<std::string, std::string>& headers = {}, const std::string& body = "") {
  asio::io_context io;
  beast::tcp_stream stream(io);
  asio::ip::tcp::resolver resolver(io);
  stream.connect(resolver.resolve("127.0.0.1", std::to_string(port)));
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  RawResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    out.headers[name] = std::string(field.value());
  }
  out.body = res.body();
  return out;
}

std::array<std::uint8_t, 32> sha256_of(const std::string& bytes) {
  std::array<std::uint8_t, 32> out{};
  crypto_hash_sha256(out.data(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return out;
}

std::uint16_t api_port(LocalNode& node) {
  auto endpoint = ApiEndpoint::from_data_dir(node.data_dir());
  if (!endpoint) throw std::runtime_error("no node.json");
  return endpoint->port;
}

// The login URL `hyphae app` prints for the node.
std::string login_url(LocalNode& node) {
  const auto out = run_cli(node.data_dir(), "app");
  EXPECT_EQ(out.status, 0) << out.text;
  std::smatch m;
  const std::regex url(R"(http://\S+/app/login\?code=[0-9a-f]{64})");
  if (!std::regex_search(out.text, m, url)) throw std::runtime_error("no login URL in: " + out.text);
  return m.str();
}

TEST(WebApp, OneTimeLinkSessionCookieAndCsrf) {
  TwoTransportPair p;
  const auto port = api_port(p.a);
  // The app's page is public and locked down; no credentials reach anything else.
  auto page = raw_http(port, http::verb::get, "/app/");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("<div id=\"root\">"), std::string::npos);
  EXPECT_NE(page.headers["content-security-policy"].find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(page.headers["x-frame-options"], "DENY");
  EXPECT_EQ(raw_http(port, http::verb::get, "/app/assets/..%2f..%2fapi.token").status, 404);
  EXPECT_EQ(raw_http(port, http::verb::get, "/app/assets/.hidden").status, 404);
  EXPECT_EQ(raw_http(port, http::verb::get, "/v1/p2p/status").status, 401);
  EXPECT_EQ(raw_http(port, http::verb::post, "/v1/app/login", {}, "{}").status, 401);
  EXPECT_EQ(raw_http(port, http::verb::get, "/app/login?code=" + std::string(64, 'a')).status, 403);

  // The link trades its code for a cookie the page's scripts cannot read, once.
  const auto url = login_url(p.a);
  const auto target = url.substr(url.find("/app/login"));
  auto login = raw_http(port, http::verb::get, target);
  ASSERT_EQ(login.status, 303) << login.body;
  EXPECT_EQ(login.headers["location"], "/app/");
  const auto cookie = login.headers["set-cookie"];
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  const auto session = cookie.substr(0, cookie.find(';'));         // "hyphae_session=..."
  EXPECT_EQ(raw_http(port, http::verb::get, target).status, 403);  // used

  // The cookie reads; a change needs the session's CSRF token too.
  EXPECT_EQ(raw_http(port, http::verb::get, "/v1/p2p/status", {{"Cookie", session}}).status, 200);
  auto info = raw_http(port, http::verb::get, "/v1/app/session", {{"Cookie", session}});
  ASSERT_EQ(info.status, 200);
  const auto csrf = nlohmann::json::parse(info.body)["csrf_token"].get<std::string>();
  EXPECT_EQ(csrf.size(), 64u);
  const auto message = nlohmann::json{{"to", p.b.peer_id()}, {"payload", "from the web app"}}.dump();
  EXPECT_EQ(raw_http(port, http::verb::post, "/v1/messages", {{"Cookie", session}}, message).status, 401);
  EXPECT_EQ(raw_http(port, http::verb::post, "/v1/messages",
                     {{"Cookie", session}, {"X-CSRF-Token", std::string(64, '0')}}, message)
                .status,
            401);
  auto sent = raw_http(port, http::verb::post, "/v1/messages", {{"Cookie", session}, {"X-CSRF-Token", csrf}},
                       message);
  EXPECT_EQ(sent.status, 201) << sent.body;
  // A login link needs the token itself, not a session.
  EXPECT_EQ(
      raw_http(port, http::verb::post, "/v1/app/login", {{"Cookie", session}, {"X-CSRF-Token", csrf}}, "{}")
          .status,
      401);
  // Another site's page cannot use it (the Origin check stays on).
  EXPECT_EQ(raw_http(port, http::verb::get, "/v1/p2p/status",
                     {{"Cookie", session}, {"Origin", "http://evil.example"}})
                .status,
            403);
  // Logging out ends the session.
  EXPECT_EQ(
      raw_http(port, http::verb::post, "/v1/app/logout", {{"Cookie", session}, {"X-CSRF-Token", csrf}}, "{}")
          .status,
      200);
  EXPECT_EQ(raw_http(port, http::verb::get, "/v1/p2p/status", {{"Cookie", session}}).status, 401);
  ASSERT_TRUE(wait_until([&] { return inbox(p.b).size() == 1; }, 10s));
}

// Headless Chromium opens the login link; the control panel shows the node and its transports,
// the send form sends a message while tcp drops everything and the failover to lan appears on the
// timeline within a second of the node's failover, then tcp dies and shows unavailable within a
// second of the node reporting it so. No console errors.
TEST(WebApp, ControlPanelShowsAFailoverAsItHappens) {
  const std::filesystem::path root(HYPHAE_SOURCE_DIR);
  ASSERT_TRUE(std::filesystem::exists(root / "web/dist/app/index.html"))
      << "the web app is not built: `make build` runs `npm run build` in web/";
  ASSERT_TRUE(std::filesystem::exists(root / "tests/js/node_modules/playwright-core"))
      << "npm packages missing: scripts/setup.sh runs `npm ci` in tests/js";
  TwoTransportPair p;
  TempDir shots;
  std::string out;
  const int rc = run_command("node '" + (root / "tests/js/webapp.mjs").string() + "' '" + login_url(p.a) +
                                 "' " + p.b.peer_id() + " '" + shots.path().string() + "' 2>&1",
                             out);
  if (rc == 77) GTEST_SKIP() << out;
  ASSERT_EQ(rc, 0) << out;
  const auto seen = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(seen["landed"], "/app/");
  EXPECT_EQ(seen["peerId"], p.a.peer_id());
  const auto shown = seen["transports"].get<std::vector<std::string>>();
  EXPECT_EQ(std::set<std::string>(shown.begin(), shown.end()),
            (std::set<std::string>{"tcp", "lan", "relay"}));
  EXPECT_EQ(seen["cookieVisible"], false);
  EXPECT_EQ(seen["withoutCsrf"], 401);
  EXPECT_EQ(seen["lossyStatus"], 200);
  EXPECT_EQ(seen["deadStatus"], 200);
  EXPECT_EQ(seen["secondLogin"], 403);
  // From the node's failover (its metric rising) to the panel showing it.
  EXPECT_LE(seen["failoverShownMs"].get<int>(), 1000) << out;
  EXPECT_LE(seen["deadShownMs"].get<int>(), 1000) << out;
  EXPECT_TRUE(seen["errors"].empty()) << out;
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& [id, payload] : inbox(p.b))
          if (payload == "failover me") return true;
        return false;
      },
      10s));
  for (const char* shot : {"control-panel.png", "messages.png"}) {
    const auto file = shots.path() / shot;
    ASSERT_TRUE(std::filesystem::exists(file)) << shot;
    EXPECT_GT(std::filesystem::file_size(file), 10'000u) << shot;
  }
  if (const char* keep = std::getenv("HYPHAE_SCREENSHOT_DIR"))
    for (const char* shot : {"control-panel.png", "messages.png"})
      std::filesystem::copy_file(shots.path() / shot, std::filesystem::path(keep) / shot,
                                 std::filesystem::copy_options::overwrite_existing);
}

// Two browsers (two Chromium contexts, two PeerIds) log in to the same node's app, join a room
// through `hyphae signal`, see each other and the node (its WebRTC transport joined the room), chat
// both ways, to the node and from the node's user, and one drops a 20 MiB file on the other: the
// progress bars reach 100 % and the downloaded file's SHA-256 is the sender's. Then files cross
// between a browser and the node both ways (the TypeScript and C++ sides of the file protocol).
TEST(WebApp, TwoBrowsersJoinARoomChatAndSendA20MiBFile) {
  const std::filesystem::path root(HYPHAE_SOURCE_DIR);
  ASSERT_TRUE(std::filesystem::exists(root / "web/dist/app/index.html"))
      << "the web app is not built: `make build` runs `npm run build` in web/";
  SignalProcess signal;
  TempDir dir;
  const auto config = dir.path() / "node.yaml";
  std::ofstream(config) << "power:\n  sysfs_root: " << (dir.path() / "no-sysfs").string() << "\n"
                        << "mdns: false\n"
                        << "files:\n  auto_accept: true\n"
                        << "transport:\n  rtc:\n    type: webrtc\n    signal: " << signal.url()
                        << "\n    rooms: [lab]\n    interfaces: [127.0.0.1]\n";
  LocalNode node{"n", hyphae_binary(), dir.path() / "n", {"--config", config.string()}};
  node.start();
  // A file on the node's disk for the node's user to offer to a browser.
  const auto for_alice = dir.path() / "for-alice.bin";
  std::string content(2 * 1024 * 1024 + 12345, '\0');
  randombytes_buf(content.data(), content.size());
  std::ofstream(for_alice, std::ios::binary) << content;
  TempDir shots;
  std::string out;
  const int rc = run_command("node '" + (root / "tests/js/messenger.mjs").string() + "' '" + login_url(node) +
                                 "' '" + login_url(node) + "' " + node.peer_id() + " '" +
                                 shots.path().string() + "' lab '" + for_alice.string() + "' 2>&1",
                             out);
  if (rc == 77) GTEST_SKIP() << out;
  ASSERT_EQ(rc, 0) << out;
  const auto seen = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_TRUE(seen["errors"].empty()) << out;
  const auto size = 20 * 1024 * 1024;
  EXPECT_EQ(seen["progressIn"], nlohmann::json({size, size})) << out;
  EXPECT_EQ(seen["progressOut"], nlohmann::json({size, size})) << out;
  EXPECT_EQ(seen["received"]["size"], size);
  EXPECT_EQ(seen["received"]["name"], "big.bin");
  EXPECT_EQ(seen["received"]["sha256"], seen["sentSha256"]) << out;
  EXPECT_EQ(seen["received"]["announced"], seen["sentSha256"]) << out;
  EXPECT_NE(seen["rtt"].get<std::string>().find("ms"), std::string::npos) << out;
  EXPECT_EQ(seen["nodeUserStatus"], 201) << out;  // and alice's page showed it
  // The direct message reached the node's inbox from alice's PeerId.
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& [id, payload] : inbox(node))
          if (payload.find("hello node") != std::string::npos) return true;
        return false;
      },
      10s));
  // Files between a browser and the node, both ways, with the node's own file protocol.
  EXPECT_EQ(seen["offerStatus"], 201) << out;
  EXPECT_EQ(seen["fromNode"]["size"], content.size()) << out;
  EXPECT_EQ(seen["fromNode"]["sha256"], to_hex(sha256_of(content))) << out;
  const auto files = node.api().request("GET", "/v1/files").body["files"];
  bool received = false;
  for (const auto& f : files)
    if (f["direction"] == "in" && f["name"] == "to-node.bin") {
      EXPECT_EQ(f["state"], "complete") << f.dump();
      EXPECT_EQ(f["sha256"], seen["toNodeSha256"]) << f.dump();
      EXPECT_EQ(f["size"], 3 * 1024 * 1024);
      received = true;
    }
  EXPECT_TRUE(received) << files.dump();
  EXPECT_TRUE(std::filesystem::file_size(shots.path() / "messenger.png") > 10'000u);
  if (const char* keep = std::getenv("HYPHAE_SCREENSHOT_DIR"))
    std::filesystem::copy_file(shots.path() / "messenger.png", std::filesystem::path(keep) / "messenger.png",
                               std::filesystem::copy_options::overwrite_existing);
}

}  // namespace
}  // namespace hyphae::testing
