// LocalNode: one `hyphae node` process on loopback with its own data directory, as the demo,
// the integration tests and the benchmarks run them. Start, stop (gracefully or with SIGKILL),
// restart on the same port and data directory, and talk to its API.
// Thread-safety: none. Ownership: owns the child process; the data directory belongs to the caller.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/client.hpp"
#include "util/process.hpp"

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

  const std::string& name() const { return name_; }
  const std::string& peer_id() const { return peer_id_; }
  unsigned short listen_port() const { return listen_port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(listen_port_); }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::filesystem::path log_file() const { return data_dir_ / "node.log"; }
  ApiClient& api();
  const ApiEndpoint& endpoint() const { return *endpoint_; }

 private:
  std::string name_;
  std::filesystem::path binary_;
  std::filesystem::path data_dir_;
  std::vector<std::string> extra_args_;
  unsigned short listen_port_ = 0;
  std::string peer_id_;
  ChildProcess process_;
  std::optional<ApiEndpoint> endpoint_;
  std::unique_ptr<ApiClient> client_;
};

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
