#include "store/sqlite.hpp"

namespace hyphae::store::sql {

Stmt::~Stmt() {
  if (s_) sqlite3_finalize(s_);
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    if (s_) sqlite3_finalize(s_);
    s_ = o.s_;
    o.s_ = nullptr;
  }
  return *this;
}

void Stmt::bind_blob(int i, ByteView b) {
  // sqlite3_bind_blob(nullptr, 0) would bind NULL; an empty value must stay an empty blob.
  if (b.empty()) {
    sqlite3_bind_zeroblob(s_, i, 0);
  } else {
    sqlite3_bind_blob(s_, i, b.data(), static_cast<int>(b.size()), SQLITE_STATIC);
  }
}

void Stmt::bind_text(int i, std::string_view t) {
  sqlite3_bind_text(s_, i, t.empty() ? "" : t.data(), static_cast<int>(t.size()), SQLITE_STATIC);
}

ByteView Stmt::col_blob(int c) const {
  const void* p = sqlite3_column_blob(s_, c);
  int n = sqlite3_column_bytes(s_, c);
  if (!p || n <= 0) return {};
  return {static_cast<const std::uint8_t*>(p), static_cast<std::size_t>(n)};
}

Bytes Stmt::col_bytes(int c) const {
  ByteView b = col_blob(c);
  return Bytes(b.begin(), b.end());
}

std::string Stmt::col_text(int c) const {
  const unsigned char* p = sqlite3_column_text(s_, c);
  int n = sqlite3_column_bytes(s_, c);
  if (!p || n <= 0) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

Db::~Db() {
  close();
}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    close();
    db_ = o.db_;
    o.db_ = nullptr;
  }
  return *this;
}

int Db::open(const std::filesystem::path& file, int flags) {
  close();
  int rc = sqlite3_open_v2(file.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) return rc;
  sqlite3_extended_result_codes(db_, 1);
  return SQLITE_OK;
}

void Db::close() {
  if (db_) {
    // sqlite3_close_v2 defers the close until every statement is finalized, so a wrong
    // destruction order leaks nothing.
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

int Db::exec(const char* sql) {
  return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
}

int Db::prepare(std::string_view sql, Stmt& out) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s,
                              nullptr);
  if (rc != SQLITE_OK) {
    if (s) sqlite3_finalize(s);
    return rc;
  }
  out = Stmt(s);
  return SQLITE_OK;
}

int Db::query_int(const char* sql, std::int64_t& out) {
  Stmt s;
  if (int rc = prepare(sql, s); rc != SQLITE_OK) return rc;
  int rc = s.step();
  if (rc == SQLITE_ROW) {
    out = s.col_i64(0);
    return SQLITE_OK;
  }
  return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
}

int Db::query_text(const char* sql, std::string& out) {
  Stmt s;
  if (int rc = prepare(sql, s); rc != SQLITE_OK) return rc;
  int rc = s.step();
  if (rc == SQLITE_ROW) {
    out = s.col_text(0);
    return SQLITE_OK;
  }
  return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
}

std::string Db::errmsg() const {
  return db_ ? sqlite3_errmsg(db_) : "no database handle";
}

}  // namespace hyphae::store::sql
