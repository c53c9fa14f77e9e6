// Thin RAII wrappers over the SQLite C API used by the store: a connection (Db) and a prepared
// statement (Stmt) with typed bind/column helpers that never allocate except to return values.
// Not thread-safe: each Db and its Stmts belong to one thread at a time (the store guards them
// with a mutex and opens connections with SQLITE_OPEN_NOMUTEX). Move-only owners; a Stmt must
// be destroyed before the Db that prepared it.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "core/bytes.hpp"

namespace hyphae::store::sql {

class Stmt {
 public:
  Stmt() = default;
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt();
  Stmt(Stmt&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  sqlite3_stmt* get() const { return s_; }
  explicit operator bool() const { return s_ != nullptr; }

  // Binders (1-based index). Blobs and text are bound SQLITE_STATIC: the caller keeps the memory
  // alive until the statement has been stepped and reset. An empty blob binds as a zero-length
  // blob, never as NULL.
  void bind_i64(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind_u64(int i, std::uint64_t v) { sqlite3_bind_int64(s_, i, static_cast<std::int64_t>(v)); }
  void bind_blob(int i, ByteView b);
  void bind_text(int i, std::string_view t);
  void bind_null(int i) { sqlite3_bind_null(s_, i); }

  int step() { return sqlite3_step(s_); }
  void reset() { sqlite3_reset(s_); }

  std::int64_t col_i64(int c) const { return sqlite3_column_int64(s_, c); }
  std::uint64_t col_u64(int c) const { return static_cast<std::uint64_t>(sqlite3_column_int64(s_, c)); }
  ByteView col_blob(int c) const;  // valid until the next step/reset
  Bytes col_bytes(int c) const;
  std::string col_text(int c) const;
  bool col_is_null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  // Copies a blob column into a fixed array; returns false if the size differs.
  template <std::size_t N>
  bool col_array(int c, std::array<std::uint8_t, N>& out) const {
    ByteView b = col_blob(c);
    if (b.size() != N) return false;
    std::copy(b.begin(), b.end(), out.begin());
    return true;
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// Resets a statement when the scope ends, so a statement never keeps a read snapshot or a
// pointer into caller memory alive past its use.
class ResetGuard {
 public:
  explicit ResetGuard(Stmt& s) : s_(s) {}
  ~ResetGuard() { s_.reset(); }
  ResetGuard(const ResetGuard&) = delete;
  ResetGuard& operator=(const ResetGuard&) = delete;

 private:
  Stmt& s_;
};

class Db {
 public:
  Db() = default;
  ~Db();
  Db(Db&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Opens (flags as for sqlite3_open_v2). Returns the SQLite result code; on failure the
  // message is in errmsg() when a handle could be allocated.
  int open(const std::filesystem::path& file, int flags);
  void close();

  sqlite3* get() const { return db_; }
  // Runs one or more statements without results. Returns the SQLite result code.
  int exec(const char* sql);
  // Prepares a statement that lives as long as the connection (SQLITE_PREPARE_PERSISTENT).
  int prepare(std::string_view sql, Stmt& out);
  // Runs a single-row query returning one integer (e.g. "PRAGMA user_version").
  int query_int(const char* sql, std::int64_t& out);
  // Runs a single-row query returning one text value (e.g. "PRAGMA journal_mode=WAL").
  int query_text(const char* sql, std::string& out);

  std::string errmsg() const;
  int extended_errcode() const { return db_ ? sqlite3_extended_errcode(db_) : SQLITE_MISUSE; }
  bool in_transaction() const { return db_ && !sqlite3_get_autocommit(db_); }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace hyphae::store::sql
