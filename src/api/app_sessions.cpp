// AppSessions: login codes, session cookies and CSRF tokens (see the header).
#include "api/app_sessions.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>

#include "core/bytes.hpp"

namespace hyphae::api {

namespace {

std::string random_hex() {
  std::array<std::uint8_t, 32> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  return to_hex(ByteView(bytes.data(), bytes.size()));
}

}  // namespace

bool secret_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void AppSessions::prune(std::uint64_t now_ms) {
  std::erase_if(codes_, [&](const Code& c) { return c.expires_ms <= now_ms; });
  std::erase_if(sessions_, [&](const AppSession& s) { return s.expires_ms <= now_ms; });
}

std::string AppSessions::new_code(std::uint64_t now_ms) {
  prune(now_ms);
  while (codes_.size() >= kMaxCodes) codes_.pop_front();
  codes_.push_back({random_hex(), now_ms + kCodeTtlMs});
  return codes_.back().code;
}

std::optional<AppSession> AppSessions::redeem(std::string_view code, std::uint64_t now_ms) {
  prune(now_ms);
  auto it =
      std::find_if(codes_.begin(), codes_.end(), [&](const Code& c) { return secret_equal(c.code, code); });
  if (it == codes_.end()) return std::nullopt;
  codes_.erase(it);  // once
  while (sessions_.size() >= kMaxSessions) sessions_.pop_front();
  sessions_.push_back({random_hex(), random_hex(), now_ms + kSessionTtlMs});
  return sessions_.back();
}

std::string_view AppSessions::cookie_value(std::string_view header) {
  while (!header.empty()) {
    auto end = header.find(';');
    auto pair = header.substr(0, end);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > kSessionCookie.size() && pair.starts_with(kSessionCookie) &&
        pair[kSessionCookie.size()] == '=')
      return pair.substr(kSessionCookie.size() + 1);
    if (end == std::string_view::npos) break;
    header.remove_prefix(end + 1);
  }
  return {};
}

const AppSession* AppSessions::find(std::string_view cookie_header, std::uint64_t now_ms) {
  const auto id = cookie_value(cookie_header);
  if (id.empty()) return nullptr;
  prune(now_ms);
  for (const auto& s : sessions_)
    if (secret_equal(s.id, id)) return &s;
  return nullptr;
}

void AppSessions::end(std::string_view session_id) {
  std::erase_if(sessions_, [&](const AppSession& s) { return secret_equal(s.id, session_id); });
}

}  // namespace hyphae::api
