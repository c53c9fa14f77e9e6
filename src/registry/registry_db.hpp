// RegistryDb: where the registry server keeps its tokens, announced peer records and coordinator
// heartbeats. Two implementations with one schema: SQLite (a file, the embedded default) and
// PostgreSQL (libpqxx), chosen by the --db URL: "sqlite:PATH" (or a bare path) or
// "postgresql://user:pass@host:port/db".
// Thread-safety: an implementation is used by one thread at a time; the server keeps a pool of
// them (one per worker thread), each with its own connection. Ownership: owns its connection.
// Errors: every call may throw RegistryDbError (the server answers 503 and logs it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hyphae::registry {

struct RegistryDbError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct PeerRow {
  std::string network;
  std::string peer;  // PeerId, base58
  std::uint64_t seq = 0;
  std::string envelope_base64;  // the signed record as announced
  std::string role;             // BASIC, RELAY, SUPER_PEER
  std::string coordinators;     // space-separated PeerIds from the record
  std::string record_json;      // the record as the API shows it (verified and rendered once, at announce)
  std::uint64_t expires_ms = 0;
  std::uint64_t last_seen_ms = 0;
};

struct CoordinatorRow {
  std::string peer;
  std::uint64_t last_seen_ms = 0;
  std::string envelope_base64;
};

enum class AnnounceResult { stored, repeat, replay };

class RegistryDb {
 public:
  virtual ~RegistryDb() = default;
  // Creates the tables if missing (both backends share the schema).
  virtual void migrate() = 0;
  virtual void add_token(const std::string& network, const std::string& token_hash, std::uint64_t now_ms) = 0;
  // The network a token (by its hash) belongs to.
  virtual std::optional<std::string> token_network(const std::string& token_hash) = 0;
  // Keeps the record if its seq is higher than the stored one's; an equal seq only refreshes
  // last_seen (repeat); a lower one changes nothing (replay).
  virtual AnnounceResult announce(const PeerRow& row) = 0;
  virtual std::optional<PeerRow> peer(const std::string& network, const std::string& peer,
                                      std::uint64_t now_ms) = 0;
  // Unexpired peers with a PeerId after `after` (the cursor), in PeerId order, at most `limit`.
  virtual std::vector<PeerRow> active_peers(const std::string& network, std::uint64_t now_ms,
                                            const std::string& after, std::size_t limit) = 0;
  virtual void heartbeat(const std::string& network, const CoordinatorRow& row) = 0;
  virtual std::optional<CoordinatorRow> coordinator(const std::string& network, const std::string& peer) = 0;
  // Deletes expired announcements; returns how many.
  virtual std::uint64_t expire(std::uint64_t now_ms) = 0;
  virtual std::string backend() const = 0;  // "sqlite" or "postgresql"
};

// The tables both backends create when missing (the same SQL runs on SQLite and PostgreSQL).
extern const char* const kRegistrySchema;

// Opens the database a --db URL names. Throws RegistryDbError with a readable reason.
std::unique_ptr<RegistryDb> open_registry_db(const std::string& url);
bool is_postgresql_url(const std::string& url);

}  // namespace hyphae::registry
