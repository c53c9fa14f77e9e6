// LocalRegistry and the test PostgreSQL helpers.
#include "testnet/local_registry.hpp"

#include <sys/wait.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <stdexcept>

#include "testnet/local_node.hpp"

namespace hyphae {

int run_command(const std::string& command, std::string& output) {
  output.clear();
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int rc = ::pclose(pipe);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

LocalRegistry::LocalRegistry(std::filesystem::path hyphae_binary, std::filesystem::path dir,
                             std::string db_url, std::vector<std::string> extra_args)
    : binary_(std::move(hyphae_binary)),
      dir_(std::move(dir)),
      db_url_(std::move(db_url)),
      extra_args_(std::move(extra_args)) {
  std::filesystem::create_directories(dir_);
}

LocalRegistry::~LocalRegistry() {
  stop();
}

void LocalRegistry::set_tls(std::filesystem::path cert, std::filesystem::path key) {
  cert_ = std::move(cert);
  key_ = std::move(key);
}

void LocalRegistry::set_netns(std::string ns, std::string host) {
  netns_ = std::move(ns);
  host_ = std::move(host);
}

void LocalRegistry::start() {
  const auto port_file = dir_ / "port";
  std::filesystem::remove(port_file);
  std::vector<std::string> args{
      "registry",    "--listen",        host_ + ":" + std::to_string(port_), "--db", db_url_,
      "--port-file", port_file.string()};
  if (!cert_.empty()) {
    args.insert(args.end(), {"--cert", cert_.string(), "--key", key_.string()});
  }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  if (netns_.empty()) {
    process_ = ChildProcess(binary_, args, log_file());
  } else {
    auto ip = find_ip_command();
    if (!ip) throw std::runtime_error("the registry cannot run in a namespace: no `ip` command");
    args.insert(args.begin(), {"netns", "exec", netns_, binary_.string()});
    process_ = ChildProcess(*ip, args, log_file());
  }
  const bool up = wait_until([&] { return std::filesystem::exists(port_file) || !process_.running(); },
                             std::chrono::seconds(15));
  if (!up || !std::filesystem::exists(port_file)) {
    std::ifstream log(log_file());
    std::stringstream text;
    text << log.rdbuf();
    throw std::runtime_error("the registry did not start: " + text.str());
  }
  std::ifstream(port_file) >> port_;
}

void LocalRegistry::stop() {
  if (process_.running()) process_.stop(SIGTERM);
}

std::string LocalRegistry::url() const {
  return std::string(cert_.empty() ? "http" : "https") + "://" + host_ + ":" + std::to_string(port_);
}

std::string LocalRegistry::create_token(const std::string& network) {
  std::string out;
  const int rc = run_command(
      binary_.string() + " registry token create --network " + network + " --db '" + db_url_ + "'", out);
  if (rc != 0) throw std::runtime_error("token create failed: " + out);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  const auto last_line = out.rfind('\n');
  return last_line == std::string::npos ? out : out.substr(last_line + 1);
}

std::optional<std::string> test_postgresql_url(std::string* why_not) {
  const char* dir = std::getenv("HYPHAE_TEST_PG_DIR");
  if (!dir) {
    if (why_not) *why_not = "HYPHAE_TEST_PG_DIR is not set (CTest starts PostgreSQL for these tests)";
    return std::nullopt;
  }
  std::ifstream url_file(std::filesystem::path(dir) / "url");
  std::string url;
  if (url_file >> url) return url;
  std::ifstream skip(std::filesystem::path(dir) / "skip");
  std::string reason;
  std::getline(skip, reason);
  if (why_not) *why_not = reason.empty() ? "the test PostgreSQL server did not start" : reason;
  return std::nullopt;
}

std::string create_test_database(const std::string& server_url, const std::string& name) {
  pqxx::connection admin(server_url);
  pqxx::nontransaction w(admin);
  w.exec("DROP DATABASE IF EXISTS " + w.quote_name(name));
  w.exec("CREATE DATABASE " + w.quote_name(name));
  const auto slash = server_url.rfind('/');
  return server_url.substr(0, slash + 1) + name;
}

std::string test_postgresql_socket_url(const std::string& database_url) {
  const char* dir = std::getenv("HYPHAE_TEST_PG_DIR");
  // postgresql://user:pass@127.0.0.1:PORT/DB -> postgresql://user:pass@/DB?host=DIR&port=PORT
  const auto at = database_url.find('@');
  const auto colon = database_url.find(':', at == std::string::npos ? 0 : at);
  const auto slash = database_url.find('/', at == std::string::npos ? 0 : at);
  if (!dir || at == std::string::npos || colon == std::string::npos || slash == std::string::npos ||
      colon > slash)
    return database_url;
  const std::string port = database_url.substr(colon + 1, slash - colon - 1);
  return database_url.substr(0, at + 1) + database_url.substr(slash) + "?host=" + dir + "&port=" + port;
}

void make_self_signed_certificate(const std::filesystem::path& dir, std::filesystem::path& cert,
                                  std::filesystem::path& key) {
  cert = dir / "cert.pem";
  key = dir / "key.pem";
  std::string out;
  const int rc = run_command(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout '" +
          key.string() + "' -out '" + cert.string() + "'",
      out);
  if (rc != 0) throw std::runtime_error("openssl req failed: " + out);
}

}  // namespace hyphae
