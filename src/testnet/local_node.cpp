#include "testnet/local_node.hpp"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string_view>

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
  if (listen_port_ == 0 && !listen_host_.empty()) listen_port_ = free_tcp_port();
  std::error_code ec;
  std::filesystem::remove(data_dir_ / "node.json", ec);
  std::vector<std::string> args{"--data", data_dir_.string(), "node"};
  if (!config_file_.empty()) args.insert(args.end(), {"--config", config_file_.string()});
  if (!listen_host_.empty())
    args.insert(args.end(), {"--listen", listen_host_ + ":" + std::to_string(listen_port_)});
  args.insert(args.end(), {"--log-level", "info"});
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  client_.reset();
  endpoint_.reset();
  if (netns_.empty()) {
    process_ = ChildProcess(binary_, args, log_file());
  } else {
    // `ip netns exec` execs the program without forking, so the child pid is the node's.
    auto ip = find_ip_command();
    if (!ip) throw std::runtime_error("node " + name_ + ": the `ip` command (iproute2) is not installed");
    std::vector<std::string> wrapped{"netns", "exec", netns_, binary_.string()};
    wrapped.insert(wrapped.end(), args.begin(), args.end());
    process_ = ChildProcess(*ip, wrapped, log_file());
  }
  bool up = wait_until(
      [&] {
        if (!process_.running()) return true;
        auto endpoint = ApiEndpoint::from_data_dir(data_dir_);
        if (!endpoint) return false;
        endpoint->netns = netns_;
        endpoint_ = endpoint;
        return true;
      },
      std::chrono::seconds(15));
  if (!up || !endpoint_) {
    throw std::runtime_error("node " + name_ + " did not start" +
                             (netns_.empty() ? "" : " in network namespace " + netns_) + "; see " +
                             log_file().string());
  }
  std::ifstream info(data_dir_ / "node.json");
  auto j = nlohmann::json::parse(info, nullptr, false);
  peer_id_ = j.value("peer_id", "");
  if (listen_host_.empty()) listen_port_ = j.value("listen_port", static_cast<unsigned short>(0));
}

std::string LocalNode::address() const {
  const bool wildcard = listen_host_.empty() || listen_host_ == "0.0.0.0" || listen_host_ == "::";
  return (wildcard ? std::string("127.0.0.1") : listen_host_) + ":" + std::to_string(listen_port_);
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

std::optional<std::filesystem::path> find_ip_command() {
  for (const char* candidate : {"/usr/sbin/ip", "/sbin/ip"})
    if (::access(candidate, X_OK) == 0) return std::filesystem::path(candidate);
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "";
  while (!rest.empty()) {
    auto colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    if (dir.empty()) continue;
    auto candidate = std::filesystem::path(dir) / "ip";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
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
