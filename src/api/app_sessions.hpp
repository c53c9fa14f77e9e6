// AppSessions: how the web app logs in without ever seeing the API's bearer token. Whoever holds
// the token (`hyphae app`) asks for a one-time login code; opening the login URL with it trades the
// code for a session: a random id in an HttpOnly, SameSite=Strict cookie, plus a CSRF token the app
// reads from GET /v1/app/session and sends back in X-CSRF-Token on every state-changing request.
// Codes live 5 minutes and work once; sessions last 24 hours. Bounds: 16 unused codes and 64
// sessions (the oldest goes first). Secrets are compared in constant time.
// Time comes in as `now_ms` (monotonic). Thread-safety: none (the API's strand). Ownership: values.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace hyphae::api {

inline constexpr std::string_view kSessionCookie = "hyphae_session";
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

struct AppSession {
  std::string id;    // the cookie's value
  std::string csrf;  // what state-changing requests must carry
  std::uint64_t expires_ms = 0;
};

class AppSessions {
 public:
  static constexpr std::uint64_t kCodeTtlMs = 5 * 60 * 1000;
  static constexpr std::uint64_t kSessionTtlMs = 24 * 60 * 60 * 1000;
  static constexpr std::size_t kMaxCodes = 16, kMaxSessions = 64;

  // A fresh one-time login code (hex).
  std::string new_code(std::uint64_t now_ms);
  // The code's session, once; nullopt for an unknown, used or expired code.
  std::optional<AppSession> redeem(std::string_view code, std::uint64_t now_ms);
  // The live session a Cookie header names, or null.
  const AppSession* find(std::string_view cookie_header, std::uint64_t now_ms);
  void end(std::string_view session_id);
  std::size_t codes() const { return codes_.size(); }
  std::size_t sessions() const { return sessions_.size(); }

  // The session id in a Cookie header ("a=b; hyphae_session=ID"), or empty.
  static std::string_view cookie_value(std::string_view cookie_header);

 private:
  struct Code {
    std::string code;
    std::uint64_t expires_ms;
  };
  void prune(std::uint64_t now_ms);
  std::deque<Code> codes_;
  std::deque<AppSession> sessions_;
};

// Constant-time equality for secrets of public length.
bool secret_equal(std::string_view a, std::string_view b);

}  // namespace hyphae::api
