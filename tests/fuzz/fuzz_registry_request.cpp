// Fuzz target: the registry's request handling (routing, the query string, the bearer header, the
// JSON body, the signed record inside it) over an in-memory database. Input: method, target,
// authorization and body separated by newlines. Whatever comes in, the reply is a status with a
// JSON object, an error status carries {"error": ...}, and nothing is stored for a refused request.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "registry/registry_service.hpp"
#include "support/memory_registry_db.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyphae::registry;
  static hyphae::ManualClock clock;
  static RegistryService service(RegistryOptions{}, clock);
  MemoryRegistryDb db;
  db.add_token("lab", RegistryService::hash_token("good-token"), 0);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  RegistryRequest request;
  std::string_view* parts[] = {nullptr, nullptr, nullptr};
  std::string_view method, target, authorization;
  parts[0] = &method;
  parts[1] = &target;
  parts[2] = &authorization;
  for (auto* part : parts) {
    const auto newline = input.find('\n');
    *part = input.substr(0, newline);
    input = newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);
  }
  request.method = std::string(method);
  request.target = std::string(target);
  request.authorization =
      std::string(authorization) == "good" ? "Bearer good-token" : std::string(authorization);
  request.body = std::string(input);
  const auto reply = service.handle(db, request);
  if (reply.status < 200 || reply.status > 599 || !reply.body.is_object()) std::abort();
  if (reply.status >= 400 && !reply.body.contains("error")) std::abort();
  if (reply.status >= 400 && db.size() != 0) std::abort();  // a refused request stored nothing
  return 0;
}
