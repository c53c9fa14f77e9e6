#include "testnet/local_node.hpp"

#include <signal.h>
#include <stdlib.h>

#include <fstream>
#include <stdexcept>

namespace hyphae {

LocalNode::LocalNode(std::string name, std::filesystem::path hyphae_binary, std::filesystem::path data_dir,
                     std::vector<std::string> extra_args)
    : name_(std::move(name)),
      binary_(std::move(hyphae_binary)),
      data_dir_(std::move(data_dir)),
      extra_args_(std::move(extra_args)) {
  std::filesystem::create_directories(data_dir_);
}

LocalNode::~LocalNode() = default;

void LocalNode::start() {
  if (listen_port_ == 0) listen_port_ = free_tcp_port();
  std::error_code ec;
  std::filesystem::remove(data_dir_ / "node.json", ec);
  std::vector<std::string> args{"--data",  data_dir_.string(), "node", "--listen",
                                address(), "--log-level",      "info"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  process_ = ChildProcess(binary_, args, log_file());
  client_.reset();
  endpoint_.reset();
  bool up = wait_until(
      [&] {
        if (!process_.running()) return true;
        auto endpoint = ApiEndpoint::from_data_dir(data_dir_);
        if (!endpoint) return false;
        endpoint_ = endpoint;
        return true;
      },
      std::chrono::seconds(15));
  if (!up || !endpoint_) {
    throw std::runtime_error("node " + name_ + " did not start; see " + log_file().string());
  }
  std::ifstream info(data_dir_ / "node.json");
  auto j = nlohmann::json::parse(info, nullptr, false);
  peer_id_ = j.value("peer_id", "");
}

void LocalNode::stop() {
  process_.stop(SIGTERM);
  client_.reset();
}

void LocalNode::kill_hard() {
  process_.stop(SIGKILL);
  client_.reset();
}

ApiClient& LocalNode::api() {
  if (!endpoint_) throw std::runtime_error("node " + name_ + " is not running");
  if (!client_) client_ = std::make_unique<ApiClient>(*endpoint_);
  return *client_;
}

TempDir::TempDir(const std::string& prefix) {
  auto base = std::filesystem::temp_directory_path() / (prefix + "XXXXXX");
  std::string templ = base.string();
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  if (keep_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace hyphae
