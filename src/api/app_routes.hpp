// The web app's routes on the node's API (docs/webapp.md): the built app itself (GET /app and
// /app/assets/{file}, no credentials: it holds no secret), the login that trades a one-time code for
// a session cookie (GET /app/login?code=), a new login URL for whoever holds the bearer token
// (POST /v1/app/login, what `hyphae app` calls), and the session's CSRF token and logout.
// Internal to src/api. Thread-safety: the handlers run on the node's strand. Ownership: they keep
// pointers to the Node and the AppSessions, which outlive the table.
#pragma once

#include <filesystem>

#include "api/app_sessions.hpp"
#include "api/route_table.hpp"

namespace hyphae {
class Node;
}

namespace hyphae::api {

// Where the built app is: $HYPHAE_APP_DIR, else web/dist/app of the source tree this was built from.
std::filesystem::path web_app_dir();

// `bearer` admits the token only; `any` the token or a session (with its CSRF token for changes).
void add_app_routes(RouteTable& table, Node& node, AppSessions& sessions, const AuthRule& bearer,
                    const AuthRule& any);

}  // namespace hyphae::api
