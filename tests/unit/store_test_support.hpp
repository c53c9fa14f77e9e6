// Helpers shared by the store tests (store_test.cpp, store_migration_test.cpp): row builders, a
// fixture with a fresh database file per test, and a gate that holds the writer thread so batches
// group deterministically.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "store/schema.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace hyphae::store::test_support {

namespace fs = std::filesystem;

inline MessageKey key(std::uint32_t n, std::uint8_t tag = 0) {
  MessageKey k{};
  k[0] = tag;
  k[12] = static_cast<std::uint8_t>(n >> 24);
  k[13] = static_cast<std::uint8_t>(n >> 16);
  k[14] = static_cast<std::uint8_t>(n >> 8);
  k[15] = static_cast<std::uint8_t>(n);
  return k;
}

inline Bytes peer_id(std::string_view name) {
  Bytes b{0x00, 0x24};  // identity multihash prefix; the store treats ids as opaque bytes
  append(b, as_bytes(name));
  return b;
}

// Envelope rows in both outbox generation tables of a closed store file (-1 on error).
inline std::int64_t stored_outbox_envelopes(const fs::path& file) {
  sql::Db db;
  std::int64_t n = -1;
  if (db.open(file, SQLITE_OPEN_READONLY) != SQLITE_OK ||
      db.query_int(
          "SELECT (SELECT count(*) FROM outbox_envelopes_0) + (SELECT count(*) FROM outbox_envelopes_1)",
          n) != SQLITE_OK)
    return -1;
  return n;
}

inline OutboxRow outbox(std::uint32_t n, const Bytes& to, int priority = 2, std::uint64_t created = 1000) {
  OutboxRow r;
  r.id = key(n);
  r.to = to;
  r.envelope = Bytes(256, static_cast<std::uint8_t>(n));
  r.priority = priority;
  r.created_ms = created;
  r.updated_ms = created;
  return r;
}

inline InboxRow inbox(std::uint32_t n, std::uint64_t received = 5000) {
  InboxRow r;
  r.id = key(n, 0x11);
  r.from = peer_id("alice");
  r.received_ms = received;
  r.envelope = Bytes(64, static_cast<std::uint8_t>(n));
  return r;
}

// Holds the writer thread inside a callback until release(), so that every batch submitted
// meanwhile lands in the same group commit (deterministic grouping, no sleeps).
class WriterGate {
 public:
  explicit WriterGate(Store& s) {
    s.submit(WriteBatch{}, [this](std::error_code) {
      entered_.set_value();
      open_.get_future().wait();
    });
    entered_.get_future().wait();
  }
  void release() { open_.set_value(); }

 private:
  std::promise<void> entered_, open_;
};

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("hyphae_store_" + std::to_string(::getpid()) + "_" +
                                        info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = dir_ / "node.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Store> open_ok(Options o = {}) {
    auto s = Store::open(db_, o);
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message());
    return s ? std::move(*s) : nullptr;
  }

  fs::path dir_, db_;
};

using StoreMigration = StoreTest;
using StoreOutbox = StoreTest;
using StoreInbox = StoreTest;
using StorePeers = StoreTest;
using StoreGroupCommit = StoreTest;
using StoreCrash = StoreTest;

}  // namespace hyphae::store::test_support
