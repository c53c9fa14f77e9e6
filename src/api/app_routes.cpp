// The web app's routes: static files, login codes, session cookies (see the header).
#include "api/app_routes.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "node/node.hpp"

namespace hyphae::api {

namespace http = boost::beast::http;
using boost::asio::awaitable;

namespace {

awaitable<Response> done(Response res) {
  co_return res;
}

std::uint64_t steady_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

std::string_view content_type(const std::filesystem::path& file) {
  const auto ext = file.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".json" || ext == ".map") return "application/json";
  if (ext == ".woff2") return "font/woff2";
  return "application/octet-stream";
}

// Hardening for every page and asset: scripts and styles from here only (connections also to a
// signaling server, ws:// or wss://, for the messenger), no framing, no referrer (the login
// URL carries a code), no type sniffing.
void secure_headers(Response& res) {
  res.set(http::field::server, "hyphae");
  res.set(
      "Content-Security-Policy",
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
      "connect-src 'self' ws: wss: blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
}

Response file_response(const Request& req, const std::filesystem::path& file, bool immutable) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return error_response(req, http::status::not_found,
                          "the web app is not built here (make build runs npm in web/): " + file.string());
  std::ostringstream body;
  body << in.rdbuf();
  Response res{http::status::ok, req.version()};
  secure_headers(res);
  res.set(http::field::content_type, content_type(file));
  res.set(http::field::cache_control, immutable ? "public, max-age=31536000, immutable" : "no-cache");
  res.keep_alive(req.keep_alive());
  res.body() = body.str();
  res.prepare_payload();
  return res;
}

bool safe_asset_name(const std::string& name) {
  if (name.empty() || name.size() > 128 || name.front() == '.') return false;
  return name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
         std::string::npos;
}

std::string session_cookie(std::string_view value, std::uint64_t max_age_s) {
  return std::string(kSessionCookie) + "=" + std::string(value) +
         "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_s);
}

}  // namespace

std::filesystem::path web_app_dir() {
  if (const char* dir = std::getenv("HYPHAE_APP_DIR"); dir && *dir) return dir;
#ifdef HYPHAE_WEB_APP_DIR
  return HYPHAE_WEB_APP_DIR;
#else
  return "web/dist/app";
#endif
}

void add_app_routes(RouteTable& table, Node& node, AppSessions& sessions, const AuthRule& bearer,
                    const AuthRule& any) {
  using v = http::verb;
  Node* const n = &node;
  AppSessions* const s = &sessions;
  table.add({v::get, "/app", AuthRule::anyone(),
             [](Call& c) { return done(file_response(c.req, web_app_dir() / "index.html", false)); }});
  table.add({v::get, "/app/assets/{file}", AuthRule::anyone(), [](Call& c) {
               const auto& name = c.param("file");
               if (!safe_asset_name(name))
                 return done(error_response(c.req, http::status::not_found, "no such asset"));
               return done(file_response(c.req, web_app_dir() / "assets" / name, true));
             }});
  // The one-time code becomes a session: a cookie the page cannot read, then the app.
  table.add(
      {v::get, "/app/login", AuthRule::anyone(), [s](Call& c) {
         auto session = s->redeem(c.query("code"), steady_ms());
         if (!session)
           return done(error_response(c.req, http::status::forbidden,
                                      "this login link was used already or has expired; run `hyphae app` "
                                      "for a new one"));
         Response res{http::status::see_other, c.req.version()};
         secure_headers(res);
         res.set(http::field::location, "/app/");
         res.set(http::field::set_cookie, session_cookie(session->id, AppSessions::kSessionTtlMs / 1000));
         res.set(http::field::cache_control, "no-store");
         res.keep_alive(c.req.keep_alive());
         res.prepare_payload();
         return done(std::move(res));
       }});
  // A login URL for whoever holds the token (the CLI); the Host it was asked at is the one to open.
  table.add({v::post, "/v1/app/login", bearer, [s](Call& c) {
               std::string host(c.req[http::field::host]);
               if (host.empty()) host = "127.0.0.1";
               const auto code = s->new_code(steady_ms());
               return done(json_response(c.req, http::status::created,
                                         {{"url", "http://" + host + "/app/login?code=" + code},
                                          {"expires_in_ms", AppSessions::kCodeTtlMs}}));
             }});
  table.add({v::get, "/v1/app/session", any, [n, s](Call& c) {
               nlohmann::json out{{"peer_id", n->peer_id().to_string()}};
               if (const auto* session = s->find(c.req[http::field::cookie], steady_ms()))
                 out["csrf_token"] = session->csrf;
               auto res = json_response(c.req, http::status::ok, out);
               res.set(http::field::cache_control, "no-store");
               return done(std::move(res));
             }});
  table.add({v::post, "/v1/app/logout", any, [s](Call& c) {
               s->end(AppSessions::cookie_value(c.req[http::field::cookie]));
               auto res = json_response(c.req, http::status::ok, {{"ok", true}});
               res.set(http::field::set_cookie, session_cookie("", 0));
               return done(std::move(res));
             }});
}

}  // namespace hyphae::api
