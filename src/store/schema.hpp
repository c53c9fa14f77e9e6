// The store's versioned schema: an ordered list of migration steps and the routine that applies
// them at open. PRAGMA user_version is the authoritative version; schema_migrations keeps an audit
// row (version, name, applied_ms) per applied step. Each step runs in its own BEGIN IMMEDIATE
// transaction, so a crash or error mid-migration leaves the database at the previous version.
// Not thread-safe: call with exclusive use of the connection (Store::open does).
#pragma once

#include <span>
#include <string_view>
#include <system_error>

#include "store/sqlite.hpp"

namespace hyphae::store::schema {

struct Migration {
  int version;            // 1, 2, 3... contiguous; the step brings the database to this version
  std::string_view name;  // recorded in schema_migrations
  const char* sql;        // one or more statements, run inside the step's transaction
};

// The ordered steps; append only, never edit a released step.
std::span<const Migration> migrations();
int latest_version();

// Reads PRAGMA user_version. Returns -1 on error.
int current_version(sql::Db& db);

// Applies every step above the current version up to target_version (latest by default).
// Errors: Errc::unsupported if the database is newer than latest_version() (or target is out of
// range), Errc::store_failed if a step fails (that step is rolled back; earlier steps stay).
std::error_code migrate(sql::Db& db, int target_version = -1);

}  // namespace hyphae::store::schema
