// http_fetch: one HTTP/1.1 request to a URL (http:// or https://), asynchronously, for the node's
// clients of outside services (the registry). HTTPS verifies the server's certificate against
// `ca_file` (or the system's store) and its host name. The response body is bounded.
// Thread-safety: `done` runs on `executor` (pass the node's strand). Ownership: the request is
// copied; nothing is kept after `done`.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace hyphae::net {

struct HttpRequest {
  std::string method = "GET";
  std::string url;           // http://host:port/path?query or https://...
  std::string bearer_token;  // sent as `Authorization: Bearer ...` when not empty
  std::string body;          // sent as application/json when not empty
  std::string ca_file;       // HTTPS: trust these certificates (PEM) instead of the system's
  std::chrono::milliseconds timeout{5000};
  std::size_t max_response_bytes = 1 << 20;
};

struct HttpResult {
  int status = 0;     // 0: no response (see error)
  std::string error;  // why there is no response
  std::string body;
};

struct ParsedUrl {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path and query, "/" at least
};
// Splits an http(s) URL; false when it is not one (no userinfo, no fragment).
bool parse_url(const std::string& url, ParsedUrl& out);

void http_fetch(boost::asio::any_io_executor executor, HttpRequest request,
                std::function<void(HttpResult)> done);

}  // namespace hyphae::net
