// RegistryDb on PostgreSQL through libpqxx: the same schema and queries as the SQLite backend,
// with prepared statements on one connection per worker.
#include <pqxx/pqxx>

#include "registry/registry_db.hpp"

namespace hyphae::registry {

namespace {

long long i64(std::uint64_t v) {
  return static_cast<long long>(v);
}

class PgRegistryDb final : public RegistryDb {
 public:
  explicit PgRegistryDb(const std::string& url) try : conn_(url) {
  } catch (const std::exception& e) {
    throw RegistryDbError(std::string("cannot connect to PostgreSQL: ") + e.what());
  }

  void migrate() override {
    run([&] {
      pqxx::work w(conn_);
      // Two servers starting at once: one creates the tables, the other waits for its lock.
      w.exec("SELECT pg_advisory_xact_lock(8470)");
      w.exec(kRegistrySchema);
      w.commit();
    });
    conn_.prepare("token_insert", "INSERT INTO tokens(hash, network, created_ms) VALUES($1, $2, $3)");
    conn_.prepare("token_select", "SELECT network FROM tokens WHERE hash = $1");
    conn_.prepare("peer_upsert",
                  "INSERT INTO peers(network, peer, seq, envelope, role, coordinators, record_json, "
                  "expires_ms, last_seen_ms)"
                  " VALUES($1, $2, $3, $4, $5, $6, $9, $7, $8) ON CONFLICT(network, peer) DO UPDATE SET"
                  " seq = excluded.seq, envelope = excluded.envelope, role = excluded.role,"
                  " coordinators = excluded.coordinators, record_json = excluded.record_json, expires_ms = "
                  "excluded.expires_ms,"
                  " last_seen_ms = excluded.last_seen_ms WHERE excluded.seq > peers.seq");
    conn_.prepare(
        "peer_touch",
        "UPDATE peers SET last_seen_ms = GREATEST(last_seen_ms, $4) WHERE network = $1 AND peer = $2"
        " AND seq = $3 RETURNING seq");
    conn_.prepare(
        "peer_select",
        "SELECT peer, seq, envelope, role, coordinators, expires_ms, last_seen_ms, record_json FROM peers"
        " WHERE network = $1 AND peer = $2 AND expires_ms > $3");
    conn_.prepare(
        "active_select",
        "SELECT peer, seq, envelope, role, coordinators, expires_ms, last_seen_ms, record_json FROM peers"
        " WHERE network = $1 AND expires_ms > $2 AND peer COLLATE \"C\" > $3 ORDER BY peer COLLATE "
        "\"C\" LIMIT $4");
    conn_.prepare("heartbeat_upsert",
                  "INSERT INTO coordinators(network, peer, last_seen_ms, envelope) VALUES($1, $2, $3, $4)"
                  " ON CONFLICT(network, peer) DO UPDATE SET last_seen_ms = excluded.last_seen_ms,"
                  " envelope = excluded.envelope");
    conn_.prepare("coordinator_select",
                  "SELECT last_seen_ms, envelope FROM coordinators WHERE network = $1 AND peer = $2");
    conn_.prepare("expire", "DELETE FROM peers WHERE expires_ms <= $1");
  }

  void add_token(const std::string& network, const std::string& hash, std::uint64_t now) override {
    run([&] {
      pqxx::work w(conn_);
      w.exec_prepared("token_insert", hash, network, i64(now));
      w.commit();
    });
  }

  std::optional<std::string> token_network(const std::string& hash) override {
    return run([&]() -> std::optional<std::string> {
      pqxx::nontransaction w(conn_);
      auto r = w.exec_prepared("token_select", hash);
      if (r.empty()) return std::nullopt;
      return r[0][0].as<std::string>();
    });
  }

  AnnounceResult announce(const PeerRow& row) override {
    return run([&] {
      pqxx::work w(conn_);
      auto up =
          w.exec_prepared("peer_upsert", row.network, row.peer, i64(row.seq), row.envelope_base64, row.role,
                          row.coordinators, i64(row.expires_ms), i64(row.last_seen_ms), row.record_json);
      AnnounceResult result = AnnounceResult::stored;
      if (up.affected_rows() == 0) {
        auto touched =
            w.exec_prepared("peer_touch", row.network, row.peer, i64(row.seq), i64(row.last_seen_ms));
        result = touched.empty() ? AnnounceResult::replay : AnnounceResult::repeat;
      }
      w.commit();
      return result;
    });
  }

  std::optional<PeerRow> peer(const std::string& network, const std::string& peer,
                              std::uint64_t now) override {
    return run([&]() -> std::optional<PeerRow> {
      pqxx::nontransaction w(conn_);
      auto r = w.exec_prepared("peer_select", network, peer, i64(now));
      if (r.empty()) return std::nullopt;
      return row_of(r[0], network);
    });
  }

  std::vector<PeerRow> active_peers(const std::string& network, std::uint64_t now, const std::string& after,
                                    std::size_t limit) override {
    return run([&] {
      pqxx::nontransaction w(conn_);
      auto r = w.exec_prepared("active_select", network, i64(now), after, static_cast<long long>(limit));
      std::vector<PeerRow> out;
      out.reserve(r.size());
      for (const auto& row : r) out.push_back(row_of(row, network));
      return out;
    });
  }

  void heartbeat(const std::string& network, const CoordinatorRow& row) override {
    run([&] {
      pqxx::work w(conn_);
      w.exec_prepared("heartbeat_upsert", network, row.peer, i64(row.last_seen_ms), row.envelope_base64);
      w.commit();
    });
  }

  std::optional<CoordinatorRow> coordinator(const std::string& network, const std::string& peer) override {
    return run([&]() -> std::optional<CoordinatorRow> {
      pqxx::nontransaction w(conn_);
      auto r = w.exec_prepared("coordinator_select", network, peer);
      if (r.empty()) return std::nullopt;
      return CoordinatorRow{peer, r[0][0].as<std::uint64_t>(), r[0][1].as<std::string>()};
    });
  }

  std::uint64_t expire(std::uint64_t now) override {
    return run([&] {
      pqxx::work w(conn_);
      auto r = w.exec_prepared("expire", i64(now));
      w.commit();
      return static_cast<std::uint64_t>(r.affected_rows());
    });
  }

  std::string backend() const override { return "postgresql"; }

 private:
  static PeerRow row_of(const pqxx::row& r, const std::string& network) {
    PeerRow p;
    p.network = network;
    p.peer = r[0].as<std::string>();
    p.seq = r[1].as<std::uint64_t>();
    p.envelope_base64 = r[2].as<std::string>();
    p.role = r[3].as<std::string>();
    p.coordinators = r[4].as<std::string>();
    p.expires_ms = r[5].as<std::uint64_t>();
    p.last_seen_ms = r[6].as<std::uint64_t>();
    p.record_json = r[7].as<std::string>();
    return p;
  }
  template <typename F>
  auto run(F f) -> decltype(f()) {
    try {
      return f();
    } catch (const RegistryDbError&) {
      throw;
    } catch (const std::exception& e) {
      throw RegistryDbError(std::string("postgresql: ") + e.what());
    }
  }

  pqxx::connection conn_;
};

}  // namespace

std::unique_ptr<RegistryDb> open_postgresql_registry_db(const std::string& url) {
  return std::make_unique<PgRegistryDb>(url);
}

}  // namespace hyphae::registry
