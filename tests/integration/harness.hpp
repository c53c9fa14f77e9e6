// Shared helpers for the integration tests: start real `hyphae node` processes on loopback.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "testnet/local_node.hpp"

namespace hyphae::testing {

inline std::filesystem::path hyphae_binary() {
  return HYPHAE_BIN;
}

// The `hyphae` command with `args` against the node whose data directory is `data`: exit status
// and everything it printed (stdout and stderr).
struct CliOutput {
  int status = -1;
  std::string text;
};
inline CliOutput run_cli(const std::filesystem::path& data, const std::string& args) {
  std::string command = hyphae_binary().string() + " --data " + data.string() + " " + args + " 2>&1";
  CliOutput out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.text.append(buffer, n);
  int rc = ::pclose(pipe);
  out.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

// One transport's entry in GET /v1/p2p/transports (throws when the node has none by that name).
inline nlohmann::json transport_status(LocalNode& node, const std::string& name);

// The transports of the node's live sessions, one entry per session.
inline std::multiset<std::string> session_transports(LocalNode& node) {
  std::multiset<std::string> out;
  const auto body = node.api().request("GET", "/v1/p2p/connections").body;
  for (const auto& c : body["connections"]) out.insert(c["transport"].get<std::string>());
  return out;
}

// GET /v1/messages/{id}.
inline nlohmann::json message_status(LocalNode& node, const std::string& id) {
  return node.api().request("GET", "/v1/messages/" + id).body;
}

inline nlohmann::json ok(const ApiResponse& r, int expected = 200) {
  EXPECT_EQ(r.status, expected) << r.body.dump();
  return r.body;
}

inline nlohmann::json transport_status(LocalNode& node, const std::string& name) {
  const auto body = ok(node.api().request("GET", "/v1/p2p/transports"));
  for (const auto& t : body["transports"])
    if (t["name"] == name) return t;
  throw std::runtime_error("no transport " + name + " in " + body.dump());
}

inline void connect(LocalNode& from, const LocalNode& to) {
  ok(from.api().request("POST", "/v1/peers",
                        nlohmann::json{{"peer_id", to.peer_id()}, {"addresses", {to.address()}}}),
     201);
}

inline std::size_t connection_count(LocalNode& node) {
  return node.api().request("GET", "/v1/p2p/connections").body["connections"].size();
}

// Two node processes "a" and "b" in a temporary directory; with `linked`, a has dialed b and both
// report the link.
struct NodePair {
  TempDir dir;
  LocalNode a{"a", hyphae_binary(), dir.path() / "a"};
  LocalNode b{"b", hyphae_binary(), dir.path() / "b"};
  explicit NodePair(bool linked = true) {
    a.start();
    b.start();
    if (!linked) return;
    connect(a, b);
    bool up = wait_until([&] { return connection_count(a) == 1 && connection_count(b) == 1; },
                         std::chrono::seconds(15));
    if (!up) throw std::runtime_error("nodes a and b did not connect");
  }
};

inline bool outbox_empty(LocalNode& node) {
  auto s = node.api().request("GET", "/v1/p2p/status").body;
  return s["outbox"]["queued"] == 0 && s["outbox"]["in_flight"] == 0;
}

// Sends `count` messages in batches; returns the ids the node accepted (committed).
inline std::vector<std::string> send_batches(LocalNode& from, const LocalNode& to, std::size_t count,
                                             std::size_t batch, const std::string& tag) {
  std::vector<std::string> ids;
  for (std::size_t sent = 0; sent < count; sent += batch) {
    nlohmann::json payloads = nlohmann::json::array();
    for (std::size_t i = sent; i < std::min(count, sent + batch); ++i)
      payloads.push_back(tag + "-" + std::to_string(i));
    auto r = from.api().request("POST", "/v1/messages/batch",
                                nlohmann::json{{"to", to.peer_id()}, {"payloads", payloads}});
    EXPECT_EQ(r.status, 201) << r.body.dump();
    for (const auto& id : r.body["ids"]) ids.push_back(id.get<std::string>());
  }
  return ids;
}

// Reads the node's message stream until it is idle for `idle_ms`, acking each message; returns how many came.
inline std::size_t drain_stream(LocalNode& node, int idle_ms) {
  std::size_t count = 0;
  node.api().stream(
      [&](const nlohmann::json&) {
        ++count;
        return true;
      },
      idle_ms);
  return count;
}

// All messages in a node's inbox: id -> payload. Fails the test on a duplicate id.
inline std::map<std::string, std::string> inbox(LocalNode& node) {
  std::map<std::string, std::string> out;
  std::uint64_t after = 0;
  for (;;) {
    auto r = node.api().request("GET", "/v1/messages?after=" + std::to_string(after) + "&limit=5000");
    EXPECT_EQ(r.status, 200);
    const auto& messages = r.body["messages"];
    if (messages.empty()) break;
    for (const auto& m : messages) {
      after = m["seq"].get<std::uint64_t>();
      auto [it, inserted] = out.emplace(m["id"].get<std::string>(), m.value("payload", ""));
      EXPECT_TRUE(inserted) << "duplicate id in inbox: " << m["id"];
    }
  }
  return out;
}

}  // namespace hyphae::testing
