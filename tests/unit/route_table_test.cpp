// RouteTable: the HTTP engine's dispatch that the node API and other services share.
#include "api/route_table.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http/field.hpp>

namespace hyphae::api {
namespace {

namespace http = boost::beast::http;
using boost::asio::awaitable;

awaitable<Response> text(const Call& c, std::string body) {
  Response r{http::status::ok, c.req.version()};
  r.body() = std::move(body);
  co_return r;
}

struct Dispatch {
  RouteTable table;
  Response run(http::verb method, const std::string& target, std::string body = {}, std::string token = {}) {
    Request req{method, target, 11};
    req.body() = std::move(body);
    if (!token.empty()) req.set(http::field::authorization, token);
    boost::asio::io_context io;
    bool upgrade = false;
    auto f = boost::asio::co_spawn(io, table.dispatch(req, upgrade), boost::asio::use_future);
    io.run();
    return f.get();
  }
};

AuthRule needs(std::string token) {
  return {[token](const Request& req, const Target&) { return req[http::field::authorization] == token; },
          "need " + token};
}

TEST(RouteTable, CapturesLiteralsMethodsAndAuth) {
  Dispatch d;
  d.table.set_fallback_auth(needs("node"));
  d.table.add({http::verb::get, "/v1/messages/{id}", needs("node"),
               [](Call& c) { return text(c, "id=" + c.param("id")); }});
  d.table.add(
      {http::verb::get, "/v1/messages/batch", needs("node"), [](Call& c) { return text(c, "literal"); }});
  d.table.add({http::verb::post, "/v1/messages", needs("node"),
               [](Call& c) { return text(c, "to=" + c.body.value("to", std::string())); }});
  // Another service on the same engine, with its own rule.
  d.table.add({http::verb::get, "/registry/peers/{peer}", needs("registry"),
               [](Call& c) { return text(c, "peer " + c.param("peer") + " " + c.query("x", "-")); }});

  EXPECT_EQ(d.run(http::verb::get, "/v1/messages/abc", "", "node").body(), "id=abc");
  EXPECT_EQ(d.run(http::verb::get, "/v1/messages/batch", "", "node").body(), "literal");
  EXPECT_EQ(d.run(http::verb::post, "/v1/messages", R"({"to":"b"})", "node").body(), "to=b");
  EXPECT_EQ(d.run(http::verb::get, "/registry/peers/p1?x=2", "", "registry").body(), "peer p1 2");

  // Each route's own rule: the node's token does not open the registry and the other way round.
  EXPECT_EQ(d.run(http::verb::get, "/registry/peers/p1", "", "node").result(), http::status::unauthorized);
  auto refused = d.run(http::verb::get, "/v1/messages/abc", "", "registry");
  EXPECT_EQ(refused.result(), http::status::unauthorized);
  EXPECT_NE(refused.body().find("need node"), std::string::npos);

  // Unknown paths: 404 to an allowed caller, 401 to the rest (the routes are not mapped for them).
  EXPECT_EQ(d.run(http::verb::get, "/nowhere", "", "node").result(), http::status::not_found);
  EXPECT_EQ(d.run(http::verb::get, "/nowhere").result(), http::status::unauthorized);
  // A known path with another method: 405 and the methods it answers.
  auto wrong = d.run(http::verb::delete_, "/v1/messages", "", "node");
  EXPECT_EQ(wrong.result(), http::status::method_not_allowed);
  EXPECT_EQ(wrong[http::field::allow], "POST");
  // A POST body that is not JSON never reaches the handler.
  auto bad = d.run(http::verb::post, "/v1/messages", "{nope", "node");
  EXPECT_EQ(bad.result(), http::status::bad_request);
  EXPECT_NE(bad.body().find("not valid JSON"), std::string::npos);
  // A capture takes exactly one segment.
  EXPECT_EQ(d.run(http::verb::get, "/v1/messages/a/b", "", "node").result(), http::status::not_found);
}

TEST(RouteTable, ARouteAddedTwiceOrWithoutALeadingSlashIsAProgrammingError) {
  RouteTable t;
  auto h = [](Call& c) { return text(c, ""); };
  t.add({http::verb::get, "/a/{x}", AuthRule::anyone(), h});
  EXPECT_THROW(t.add({http::verb::get, "/a/{x}", AuthRule::anyone(), h}), std::invalid_argument);
  EXPECT_NO_THROW(t.add({http::verb::post, "/a/{x}", AuthRule::anyone(), h}));
  EXPECT_THROW(t.add({http::verb::get, "a", AuthRule::anyone(), h}), std::invalid_argument);
  EXPECT_EQ(t.size(), 2u);
}

}  // namespace
}  // namespace hyphae::api
