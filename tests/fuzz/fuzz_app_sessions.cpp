// Fuzz target: the web app's session cookie as a browser (or anyone) sends it. The input is a
// Cookie header: the session id parsed out of it must be a piece of the header without ';', a
// header naming no live session finds none, and with a live session's cookie appended it finds
// that session exactly when the parser reads that cookie (always, when the input names no
// hyphae_session of its own). A login code works once.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "api/app_sessions.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using hyphae::api::AppSessions;
  const std::string header(reinterpret_cast<const char*>(data), size);
  const auto id = AppSessions::cookie_value(header);
  if (!id.empty() && (header.find(id) == std::string::npos || id.find(';') != std::string::npos)) std::abort();
  AppSessions sessions;
  if (sessions.find(header, 1)) std::abort();  // nothing was created yet
  const auto code = sessions.new_code(1);
  if (sessions.redeem(header, 2) && header != code) std::abort();
  auto session = sessions.redeem(code, 2);
  if (!session || sessions.redeem(code, 3)) std::abort();  // once
  const auto with_ours = header + "; hyphae_session=" + session->id;
  const auto* found = sessions.find(with_ours, 4);
  // The first hyphae_session pair in the header wins: ours is found exactly when the parser reads it.
  if ((AppSessions::cookie_value(with_ours) == session->id) != (found != nullptr)) std::abort();
  if (found && found->id != session->id) std::abort();
  if (header.find("hyphae_session") == std::string::npos && !found) std::abort();
  return 0;
}
