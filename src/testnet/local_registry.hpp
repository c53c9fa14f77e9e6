// LocalRegistry: one `hyphae registry` process on loopback with its own database, as the tests,
// the demo and the benchmarks run it; tokens issued with `hyphae registry token create`. And the
// test PostgreSQL server (tests/services/pg_fixture.sh): its URL, or why there is none, and a
// fresh database on it per test.
// Thread-safety: none. Ownership: owns the child process; the directory belongs to the caller.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "testnet/process.hpp"

namespace hyphae {

class LocalRegistry {
 public:
  // db_url: sqlite:PATH or postgresql://...; cert/key: serve HTTPS.
  LocalRegistry(std::filesystem::path hyphae_binary, std::filesystem::path dir, std::string db_url,
                std::vector<std::string> extra_args = {});
  ~LocalRegistry();
  void start();  // waits until it listens (throws std::runtime_error after 15 s, with its log)
  void stop();
  bool running() { return process_.running(); }
  // Issues a token for `network` (throws on failure).
  std::string create_token(const std::string& network);
  unsigned short port() const { return port_; }
  std::string url() const;  // http(s)://127.0.0.1:PORT
  const std::string& db_url() const { return db_url_; }
  std::filesystem::path log_file() const { return dir_ / "registry.log"; }
  void set_tls(std::filesystem::path cert, std::filesystem::path key);
  // Runs it as `ip netns exec <ns> hyphae registry --listen <host>:0` (url() then names that host).
  void set_netns(std::string ns, std::string host);

 private:
  std::filesystem::path binary_, dir_;
  std::string db_url_;
  std::vector<std::string> extra_args_;
  std::filesystem::path cert_, key_;
  std::string netns_, host_ = "127.0.0.1";
  unsigned short port_ = 0;
  ChildProcess process_;
};

// The test PostgreSQL server's URL ($HYPHAE_TEST_PG_DIR/url), or nullopt with `why_not` set from
// the fixture's skip file (or the variable being unset).
std::optional<std::string> test_postgresql_url(std::string* why_not);
// Creates an empty database on that server and returns its URL (throws on failure).
std::string create_test_database(const std::string& server_url, const std::string& name);
// The same database over the server's Unix socket (in $HYPHAE_TEST_PG_DIR), which a process in
// another network namespace can reach; the TCP URL itself when there is no socket directory.
std::string test_postgresql_socket_url(const std::string& database_url);

// A self-signed certificate and key for 127.0.0.1 (openssl req), written into dir.
void make_self_signed_certificate(const std::filesystem::path& dir, std::filesystem::path& cert,
                                  std::filesystem::path& key);

// Runs a command line, returning its exit status and everything it printed.
int run_command(const std::string& command, std::string& output);

}  // namespace hyphae
