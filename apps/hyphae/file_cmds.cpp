// `hyphae send-file PEERID FILE` (with a progress bar: bytes, rate, ETA) and `hyphae files`
// (list, accept, decline, cancel): clients of a running node's file transfer API.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <thread>

#include "commands.hpp"

namespace hyphae::cli {

namespace {

std::string human_bytes(double n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (n >= 1024 && u < 4) {
    n /= 1024;
    ++u;
  }
  char out[32];
  std::snprintf(out, sizeof out, u == 0 ? "%.0f %s" : "%.1f %s", n, units[u]);
  return out;
}

std::string human_seconds(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  const auto total = static_cast<long>(s + 0.5);
  char out[32];
  if (total >= 3600)
    std::snprintf(out, sizeof out, "%ld:%02ld:%02ld", total / 3600, (total / 60) % 60, total % 60);
  else
    std::snprintf(out, sizeof out, "%02ld:%02ld", total / 60, total % 60);
  return out;
}

// "[#########.........]  42%  8.4 MiB / 20.0 MiB  12.3 MiB/s  ETA 00:01"
std::string progress_line(const nlohmann::json& f) {
  const double size = f.value("size", 0.0), bytes = f.value("bytes", 0.0), rate = f.value("rate_bps", 0.0);
  const double fraction = size > 0 ? bytes / size : 1.0;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                    std::string(static_cast<std::size_t>(kWidth - filled), '.') + "]";
  char pct[16];
  std::snprintf(pct, sizeof pct, "%3.0f%%", fraction * 100);
  return bar + " " + pct + "  " + human_bytes(bytes) + " / " + human_bytes(size) + "  " + human_bytes(rate) +
         "/s  ETA " + human_seconds(rate > 0 ? (size - bytes) / rate : NAN);
}

void print_transfer(const nlohmann::json& f) {
  std::cout << f.value("id", "") << "  " << f.value("direction", "") << "  " << f.value("state", "") << "  "
            << f.value("name", "") << "  " << human_bytes(f.value("bytes", 0.0)) << " / "
            << human_bytes(f.value("size", 0.0)) << "  " << f.value("peer", "");
  if (f.contains("path")) std::cout << "  " << f["path"].get<std::string>();
  if (f.contains("error")) std::cout << "  (" << f["error"].get<std::string>() << ")";
  std::cout << "\n";
}

}  // namespace

void add_file_commands(CLI::App& app, Common& common) {
  auto* send =
      app.add_subcommand("send-file", "send a file with a progress bar: hyphae send-file PEERID FILE");
  struct SendArgs {
    std::string peer, file, name;
    bool no_wait = false;
  };
  auto args = std::make_shared<SendArgs>();
  send->add_option("peer", args->peer, "recipient PeerId")->required();
  send->add_option("file", args->file, "the file to send")->required();
  send->add_option("--name", args->name, "the name the recipient sees (default: the file's)");
  send->add_flag("--no-wait", args->no_wait, "offer it and return (follow with `hyphae files`)");
  send->callback([&common, args] {
    auto client = connect_to_node(common);
    nlohmann::json body{{"to", args->peer}, {"path", std::filesystem::absolute(args->file).string()}};
    if (!args->name.empty()) body["name"] = args->name;
    auto offered = checked(client.request("POST", "/v1/files", body));
    const auto id = offered["id"].get<std::string>();
    if (args->no_wait || common.json) {
      std::cout << (common.json ? offered.dump() : id) << "\n";
      if (args->no_wait) return;
    }
    const bool tty = ::isatty(STDERR_FILENO) != 0;
    std::string last_state;
    for (;;) {
      auto f = checked(client.request("GET", "/v1/files/" + id));
      const auto state = f.value("state", "");
      if (state != last_state && !tty) std::cerr << id << " " << state << "\n";
      if (state == "offered" && state != last_state && tty)
        std::cerr << "waiting for the recipient to accept...\n";
      last_state = state;
      if (state == "active" || state == "complete") {
        if (tty) std::cerr << "\r" << progress_line(f) << std::flush;
      }
      if (state == "complete") {
        if (tty) std::cerr << "\n";
        if (common.json)
          std::cout << f.dump() << "\n";
        else
          std::cout << "sent " << f.value("name", "") << " (" << human_bytes(f.value("size", 0.0))
                    << "), SHA-256 verified by the recipient\n";
        return;
      }
      if (state == "declined" || state == "cancelled" || state == "failed") {
        if (tty) std::cerr << "\n";
        throw std::runtime_error("the transfer was " + state + ": " + f.value("error", ""));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });

  auto* files = app.add_subcommand("files", "list file transfers; accept, decline or cancel one");
  files->callback([&common, files] {
    if (!files->get_subcommands().empty()) return;
    auto client = connect_to_node(common);
    auto body = checked(client.request("GET", "/v1/files"));
    if (common.json) {
      std::cout << body.dump() << "\n";
      return;
    }
    if (body["files"].empty())
      std::cout << "no transfers (received files go to " << body.value("download_dir", "") << ")\n";
    for (const auto& f : body["files"]) print_transfer(f);
  });
  for (const char* action : {"accept", "decline", "cancel"}) {
    auto* sub =
        files->add_subcommand(action, std::string(action) + " a transfer: hyphae files " + action + " ID");
    auto id = std::make_shared<std::string>();
    sub->add_option("id", *id, "the transfer id")->required();
    sub->callback([&common, id, action] {
      auto client = connect_to_node(common);
      auto body =
          checked(client.request("POST", "/v1/files/" + *id + "/" + action, nlohmann::json::object()));
      if (common.json)
        std::cout << body.dump() << "\n";
      else
        print_transfer(body);
    });
  }
}

}  // namespace hyphae::cli
