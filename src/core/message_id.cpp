#include "core/message_id.hpp"

#include <pthread.h>
#include <sodium.h>

#include <atomic>
#include <chrono>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace hyphae {
namespace {

// Bumped in a forked child so that it never reuses random bytes buffered by its parent.
std::atomic<std::uint64_t> g_fork_generation{0};

void register_fork_handler() {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, [] { g_fork_generation.fetch_add(1, std::memory_order_relaxed); });
    return true;
  }();
  (void)registered;
}

}  // namespace

MessageId MessageId::generate() {
  // One getrandom() per 409 IDs instead of one per message (this is on the send hot path).
  struct Pool {
    std::array<std::uint8_t, 4096> buf;
    std::size_t pos = sizeof buf;
    std::uint64_t generation = 0;
  };
  thread_local Pool pool;
  const std::uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
  if (pool.pos + 10 > pool.buf.size() || pool.generation != generation) {
    register_fork_handler();
    randombytes_buf(pool.buf.data(), pool.buf.size());
    pool.pos = 0;
    pool.generation = g_fork_generation.load(std::memory_order_relaxed);
  }
  MessageId id;
  const auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::system_clock::now().time_since_epoch())
                                                 .count());
  for (int i = 0; i < 6; ++i)
    id.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  constexpr std::size_t kRandomBytes = 10;
  std::memcpy(id.bytes.data() + 6, pool.buf.data() + pool.pos, kRandomBytes);
  sodium_memzero(pool.buf.data() + pool.pos, kRandomBytes);  // never hand out the same bytes twice
  pool.pos += kRandomBytes;
  return id;
}

std::uint64_t MessageId::timestamp_ms() const {
  std::uint64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = (ms << 8) | bytes[static_cast<std::size_t>(i)];
  return ms;
}

std::string MessageId::to_hex() const {
  return hyphae::to_hex(bytes);
}

std::expected<MessageId, std::error_code> MessageId::from_hex(std::string_view hex) {
  if (hex.size() != 32) return std::unexpected(make_error_code(Errc::malformed));
  bool ok = false;
  Bytes raw = hyphae::from_hex(hex, &ok);
  if (!ok || raw.size() != 16) return std::unexpected(make_error_code(Errc::malformed));
  MessageId id;
  std::memcpy(id.bytes.data(), raw.data(), id.bytes.size());
  return id;
}

bool MessageId::is_zero() const {
  for (auto b : bytes)
    if (b != 0) return false;
  return true;
}

}  // namespace hyphae
