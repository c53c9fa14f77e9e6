// Fuzz target: one raw HTTP request, parsed with Beast's request parser and dispatched through the
// API router (api/api_router.hpp) against a Node created in-process on a temporary directory, with a
// known token. Covers authentication, the Host/Origin guard, 405s, every route's JSON parsing and
// output (each JSON response must parse back), and, for an upgrade request, the message stream's
// frames: the body as a client frame and as a received payload. The node is not started, so no
// request dials out.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "api/api_router.hpp"
#include "node/node.hpp"
#include "testnet/local_node.hpp"

namespace {

namespace http = boost::beast::http;

struct World {
  boost::asio::io_context io;
  hyphae::TempDir dir{"hyphae-fuzz-http-"};
  std::unique_ptr<hyphae::Node> node;
  std::unique_ptr<hyphae::api::Router> router;
  World() {
    hyphae::NodeConfig config;
    config.data_dir = dir.path();
    config.log_level = "off";
    config.api_listen = "127.0.0.1:8080";
    config.max_message_bytes = 64 * 1024;
    auto created = hyphae::Node::create(io.get_executor(), config);
    if (!created) {
      std::fprintf(stderr, "cannot create the node: %s\n", created.error().c_str());
      std::abort();
    }
    node = std::move(*created);
    router = std::make_unique<hyphae::api::Router>(*node, "fuzz-token");
  }
};

World& world() {
  static World w;
  return w;
}

void must_be_json(const std::string& text) {
  if (nlohmann::json::parse(text, nullptr, false).is_discarded()) {
    std::fprintf(stderr, "not JSON: %s\n", text.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& w = world();
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(256 * 1024);
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;
  const hyphae::api::Request req = parser.release();

  bool upgrade = false;
  std::optional<hyphae::api::Response> res;
  boost::asio::co_spawn(w.node->executor(), w.router->handle(req, upgrade),  // on the node's strand
                        [&](std::exception_ptr e, hyphae::api::Response r) {
                          if (e) std::abort();  // the router must answer, never throw
                          res = std::move(r);
                        });
  w.io.restart();  // the previous input may have run the context out of work, which stops it
  for (int i = 0; i < 500 && !res; ++i) w.io.run_one_for(std::chrono::milliseconds(10));
  if (!res) {
    std::fprintf(stderr, "the router did not answer within 5 s\n");
    std::abort();
  }
  static const bool verbose = std::getenv("HYPHAE_FUZZ_VERBOSE") != nullptr;  // to inspect a corpus
  if (verbose)
    std::fprintf(stderr, "%s %s -> %d%s %.200s\n", std::string(req.method_string()).c_str(),
                 std::string(req.target()).c_str(), res->result_int(), upgrade ? " (upgrade)" : "",
                 res->body().c_str());
  if (upgrade) {
    std::string error_frame;
    if (!hyphae::api::parse_stream_frame(req.body(), error_frame)) must_be_json(error_frame);
    hyphae::InboundMessage message;
    message.payload.assign(req.body().begin(), req.body().end());
    must_be_json(hyphae::api::stream_message_text(message));
    return 0;
  }
  if (res->result() == http::status::method_not_allowed && res->find(http::field::allow) == res->end())
    std::abort();
  if ((*res)[http::field::content_type] == "application/json") must_be_json(res->body());
  return 0;
}
