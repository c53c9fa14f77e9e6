// LocalNode: one `hyphae node` process on loopback with its own data directory, as the demo,
// the integration tests and the benchmarks run them. Start, stop (gracefully or with SIGKILL),
// restart on the same port and data directory, and talk to its API. Optionally inside a Linux
// network namespace (`ip netns exec`), with a configuration file and a chosen listen host.
// Thread-safety: none. Ownership: owns the child process; the data directory belongs to the caller.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/client.hpp"
#include "testnet/process.hpp"

namespace hyphae {

class LocalNode {
 public:
  LocalNode(std::string name, std::filesystem::path hyphae_binary, std::filesystem::path data_dir,
            std::vector<std::string> extra_args = {});
  ~LocalNode();

  // Starts the process and waits until its API answers (throws std::runtime_error after 15 s).
  void start();
  void stop();       // SIGTERM, graceful
  void kill_hard();  // SIGKILL, as a crash
  bool running() { return process_.running(); }
  pid_t pid() const { return process_.pid(); }  // the node process (also under `ip netns exec`), or -1

  // Settings for the next start() (a running node keeps what it started with):
  // Runs the node as `ip netns exec <name> hyphae ...` inside that existing named network namespace;
  // api() then connects from inside it too (ApiEndpoint::netns). Empty: this process's namespace.
  void set_netns(std::string name) { netns_ = std::move(name); }
  const std::string& netns() const { return netns_; }
  // Passes `--config <file>` (a YAML file, docs/configuration.md). The file must not set data_dir
  // to another directory: start() waits for node.json in data_dir().
  void set_config_file(std::filesystem::path file) { config_file_ = std::move(file); }
  // The host of `--listen host:port` (default 127.0.0.1; e.g. 0.0.0.0 or a namespace's address).
  // Empty: no --listen, so the config file's `listen` applies and listen_port() comes from node.json.
  void set_listen_host(std::string host) { listen_host_ = std::move(host); }

  const std::string& name() const { return name_; }
  const std::string& peer_id() const { return peer_id_; }
  unsigned short listen_port() const { return listen_port_; }
  // host:port to dial the node at (127.0.0.1 when it listens on a wildcard or the config decides).
  std::string address() const;
  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::filesystem::path log_file() const { return data_dir_ / "node.log"; }
  ApiClient& api();
  const ApiEndpoint& endpoint() const { return *endpoint_; }

 private:
  std::string name_;
  std::filesystem::path binary_;
  std::filesystem::path data_dir_;
  std::vector<std::string> extra_args_;
  std::string netns_;
  std::filesystem::path config_file_;
  std::string listen_host_ = "127.0.0.1";
  unsigned short listen_port_ = 0;
  std::string peer_id_;
  ChildProcess process_;
  std::optional<ApiEndpoint> endpoint_;
  std::unique_ptr<ApiClient> client_;
};

// The `ip` command (iproute2): /usr/sbin/ip, /sbin/ip, or the first `ip` on PATH; nullopt if none.
std::optional<std::filesystem::path> find_ip_command();

// A fresh temporary directory (removed by the destructor unless keep() was called).
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "hyphae-");
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

}  // namespace hyphae
