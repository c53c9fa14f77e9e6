// `hyphae demo`: three nodes as separate processes on loopback; they connect, exchange messages,
// one goes down, a message to it waits in the sender's outbox, it comes back and gets it; then the
// internet is lost and the nodes carry on over their BitChat mesh (LAN link on loopback); last, a
// registry with a mix directory, three mix nodes and two more nodes that talk through the mixnet.
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "core/identity.hpp"
#include "testnet/local_mixnode.hpp"
#include "testnet/local_node.hpp"
#include "testnet/local_registry.hpp"

namespace hyphae::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Narrator {
  SteadyClock::time_point start = SteadyClock::now();
  void say(const std::string& line) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
    std::cout << "[" << ms / 1000 << "." << (ms % 1000) / 100 << "s] " << line << std::endl;
  }
};

std::string short_id(const std::string& id) {
  return id.size() > 12 ? "…" + id.substr(id.size() - 8) : id;
}

nlohmann::json must(const ApiResponse& r, const std::string& what) {
  if (r.status >= 300)
    throw std::runtime_error(what + " failed: HTTP " + std::to_string(r.status) + " " + r.body.dump());
  return r.body;
}

std::string send_text(LocalNode& from, const LocalNode& to, const std::string& text) {
  auto body = must(
      from.api().request("POST", "/v1/messages", nlohmann::json{{"to", to.peer_id()}, {"payload", text}}),
      "send");
  return body["id"].get<std::string>();
}

std::string message_state(LocalNode& node, const std::string& id) {
  auto r = node.api().request("GET", "/v1/messages/" + id);
  return r.status == 200 ? r.body.value("status", "") : "unknown";
}

bool wait_delivered(LocalNode& node, const std::string& id, std::chrono::seconds timeout) {
  return wait_until([&] { return message_state(node, id) == "delivered"; }, timeout);
}

std::string received_text(LocalNode& node, const std::string& id) {
  auto inbox = must(node.api().request("GET", "/v1/messages?after=0&limit=1000"), "inbox");
  for (const auto& m : inbox["messages"])
    if (m["id"] == id) return m.value("payload", "<binary>");
  return "";
}

std::size_t connections_to(LocalNode& node, const LocalNode& peer, const std::string& transport = "") {
  std::size_t n = 0;
  const auto body = node.api().request("GET", "/v1/p2p/connections").body;
  for (const auto& c : body["connections"])
    n += c["peer_id"] == peer.peer_id() && (transport.empty() || c["transport"] == transport);
  return n;
}

// Each node: the TCP transport (the "internet") and a BitChat mesh on the loopback LAN link, whose
// neighbours are the other nodes' mesh ports (loopback has no multicast).
std::filesystem::path write_config(const std::filesystem::path& dir, const std::string& name,
                                   unsigned short mesh_port, const std::vector<unsigned short>& others) {
  std::filesystem::create_directories(dir);
  std::string peers;
  for (auto p : others) peers += (peers.empty() ? "" : ", ") + std::string("127.0.0.1:") + std::to_string(p);
  const auto file = dir / "node.yaml";
  std::ofstream(file) << "fault_injection: true   # the demo cuts the internet on purpose\n"
                      << "ack_timeout_ms: 3000\n"
                      << "transport:\n"
                      << "  mesh:\n"
                      << "    type: bitchat\n"
                      << "    nickname: " << name << "\n"
                      << "    multicast: false\n"
                      << "    listen: 127.0.0.1:" << mesh_port << "\n"
                      << "    static_peers: [" << peers << "]\n"
                      << "    beacon_interval_ms: 500\n"
                      << "    announce_interval_ms: 1000\n"
                      << "    peer_timeout_ms: 4000\n";
  return file;
}

// The last act: a mixnet on loopback (a registry with a mix directory, one mix per layer) and two
// new nodes, dave and erin, that know only each other's PeerId; dave's message to erin crosses
// all three mixes and its ack comes back through the reply block it carried.
void privacy_act(Narrator& n, const std::filesystem::path& binary, const std::filesystem::path& dir) {
  n.say("Privacy: a registry keeps a mix directory, and three mix nodes join it, one per layer");
  const auto registry_id = Identity::load_or_create(dir / "registry-id");
  if (!registry_id) throw std::runtime_error("cannot make the registry's identity");
  LocalRegistry registry(binary, dir / "registry", "sqlite:" + (dir / "registry.db").string(),
                         {"--mix-identity", (dir / "registry-id").string(), "--mix-epoch", "60"});
  registry.start();
  const auto token = registry.create_token("demo");
  std::vector<ChildProcess> mixes;
  for (int layer = 1; layer <= 3; ++layer)
    mixes.push_back(start_local_mixnode(binary, dir, registry, registry_id->peer_id(), token, "demo", layer,
                                        60, {"--mean-delay-ms", "20"}));
  const auto config = dir / "private.yaml";
  std::ofstream(config) << "transport:\n  betanet:\n    type: betanet\n    registry: " << registry.url()
                        << "\n    registry_peer: " << registry_id->peer_id().to_string()
                        << "\n    token: " << token << "\n    network: demo\n    epoch_s: 60\n";
  LocalNode dave("dave", binary, dir / "dave"), erin("erin", binary, dir / "erin");
  for (auto* node : {&dave, &erin}) {
    node->set_config_file(config);
    node->start();
  }
  must(
      dave.api().request("POST", "/v1/peers",
                         nlohmann::json{{"peer_id", erin.peer_id()}, {"addresses", nlohmann::json::array()}}),
      "add peer");
  if (!wait_until([&] { return connections_to(dave, erin, "betanet") > 0; }, std::chrono::seconds(30)))
    throw std::runtime_error("dave and erin did not meet in the mixnet; see " + dir.string());
  n.say("  dave and erin published endpoint descriptors; each knows only the other's PeerId, no address");
  auto sent = must(dave.api().request("POST", "/v1/messages",
                                      nlohmann::json{{"to", erin.peer_id()},
                                                     {"payload", "erin, no mix knows this came from dave"},
                                                     {"privacy", "anonymous"},
                                                     {"privacy_mode", "strict"}}),
                   "private send");
  const auto id = sent["id"].get<std::string>();
  if (!wait_delivered(dave, id, std::chrono::seconds(30)))
    throw std::runtime_error("the private message was not delivered");
  n.say("  dave -> erin: \"" + received_text(erin, id) + "\" via " +
        must(dave.api().request("GET", "/v1/messages/" + id), "status").value("transport", "?") +
        " (privacy anonymous, strict: 3 mixes); erin's ack came back through the reply block it carried");
  // The mixes write their counters every second: wait for all three to show the traffic.
  const auto mix_status = [&](int layer) {
    std::ifstream in(local_mixnode_status(dir, "demo", layer));
    const auto st = nlohmann::json::parse(in, nullptr, false);
    return st.is_discarded() ? nlohmann::json::object() : st;
  };
  wait_until(
      [&] {
        for (int layer = 1; layer <= 3; ++layer)
          if (mix_status(layer).value("packets_in", 0) == 0) return false;
        return true;
      },
      std::chrono::seconds(5));
  std::string counts;
  for (int layer = 1; layer <= 3; ++layer) {
    const auto st = mix_status(layer);
    counts += (counts.empty() ? "" : ", ") + std::string("mix") + std::to_string(layer) + " took " +
              std::to_string(st.value("packets_in", 0)) + " packets in (" +
              std::to_string(st.value("frames_not_whole_packets", 0)) + " odd-sized)";
  }
  n.say("  the message, its ack and the mixes' cover look alike on every link (2394-byte packets): " +
        counts);
  for (auto* node : {&dave, &erin}) node->stop();
  for (auto& m : mixes) m.stop(SIGTERM);
}

}  // namespace

void add_demo_command(CLI::App& app, Common& common) {
  auto* cmd = app.add_subcommand("demo", "run a three-node demo network on loopback and narrate it");
  auto keep = std::make_shared<bool>(false);
  cmd->add_flag("--keep", *keep, "keep the nodes' data directories and logs");
  cmd->callback([keep] {
    Narrator n;
    TempDir dir("hyphae-demo-");
    if (*keep) dir.keep();
    auto binary = self_executable();
    n.say("Starting three Hyphae nodes as separate processes (data in " + dir.path().string() + ")");
    LocalNode alice("alice", binary, dir.path() / "alice");
    LocalNode bob("bob", binary, dir.path() / "bob");
    LocalNode carol("carol", binary, dir.path() / "carol");
    const std::vector<unsigned short> mesh_ports{free_tcp_port(), free_tcp_port(), free_tcp_port()};
    LocalNode* all[] = {&alice, &bob, &carol};
    for (std::size_t i = 0; i < 3; ++i) {
      std::vector<unsigned short> others;
      for (std::size_t j = 0; j < 3; ++j)
        if (j != i) others.push_back(mesh_ports[j]);
      all[i]->set_config_file(write_config(all[i]->data_dir(), all[i]->name(), mesh_ports[i], others));
    }
    for (auto* node : {&alice, &bob, &carol}) {
      node->start();
      n.say("  " + node->name() + " is up: PeerId " + node->peer_id() + ", peers on " + node->address());
    }

    n.say("Introducing them: alice learns bob's and carol's addresses, bob learns carol's");
    must(alice.api().request("POST", "/v1/peers",
                             nlohmann::json{{"peer_id", bob.peer_id()}, {"addresses", {bob.address()}}}),
         "add peer");
    must(alice.api().request("POST", "/v1/peers",
                             nlohmann::json{{"peer_id", carol.peer_id()}, {"addresses", {carol.address()}}}),
         "add peer");
    must(bob.api().request("POST", "/v1/peers",
                           nlohmann::json{{"peer_id", carol.peer_id()}, {"addresses", {carol.address()}}}),
         "add peer");
    bool connected = wait_until(
        [&] {
          return connections_to(alice, bob, "tcp") && connections_to(alice, carol, "tcp") &&
                 connections_to(bob, carol, "tcp");
        },
        std::chrono::seconds(15));
    if (!connected)
      throw std::runtime_error("the nodes did not connect; see the logs in " + dir.path().string());
    n.say("Connected: three Noise XX links, each proving the remote's PeerId with its Ed25519 key");

    struct Hop {
      LocalNode* from;
      LocalNode* to;
      std::string text;
    };
    for (const Hop& hop : {Hop{&alice, &bob, "hello bob, it's alice"}, Hop{&bob, &carol, "carol, bob here"},
                           Hop{&carol, &alice, "alice! carol says hi"}}) {
      auto id = send_text(*hop.from, *hop.to, hop.text);
      if (!wait_delivered(*hop.from, id, std::chrono::seconds(10)))
        throw std::runtime_error("message " + id + " was not delivered");
      n.say("  " + hop.from->name() + " -> " + hop.to->name() + ": \"" + received_text(*hop.to, id) +
            "\" committed by " + hop.to->name() + " and acknowledged (id " + short_id(id) + ")");
    }

    {
      // A burst: batches committed to alice's outbox, streamed over the link, acked in groups.
      constexpr int kBurst = 5000;
      auto t0 = SteadyClock::now();
      std::vector<std::string> ids;
      for (int sent = 0; sent < kBurst; sent += 1000) {
        nlohmann::json payloads = nlohmann::json::array();
        for (int i = sent; i < sent + 1000; ++i) payloads.push_back("burst message " + std::to_string(i));
        auto r =
            must(alice.api().request(
                     "POST", "/v1/messages/batch",
                     nlohmann::json{{"to", bob.peer_id()}, {"payloads", payloads}, {"transport", "tcp"}}),
                 "batch send");
        for (const auto& id : r["ids"]) ids.push_back(id.get<std::string>());
      }
      bool drained = wait_until(
          [&] {
            auto s = alice.api().request("GET", "/v1/p2p/status").body["outbox"];
            return s["queued"] == 0 && s["in_flight"] == 0;
          },
          std::chrono::seconds(30));
      if (!drained || !wait_delivered(alice, ids.back(), std::chrono::seconds(5)))
        throw std::runtime_error("the burst was not delivered");
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
      n.say("  alice -> bob: a burst of " + std::to_string(kBurst) +
            " durable messages over tcp, all acknowledged in " + std::to_string(ms) +
            " ms (through the HTTP API, committed on both sides; small messages would otherwise take the "
            "mesh, as the offline routing rule says)");
    }

    n.say("Stopping carol");
    carol.stop();
    wait_until([&] { return connections_to(alice, carol) == 0; }, std::chrono::seconds(10));
    auto queued_id = send_text(alice, carol, "carol, this waited for you on alice's disk");
    auto state = message_state(alice, queued_id);
    n.say("  alice -> carol while carol is down: status \"" + state +
          "\" (sealed to carol's key, signed, kept in alice's SQLite outbox)");
    if (state != "queued") throw std::runtime_error("expected the message to be queued, got " + state);

    n.say("Restarting carol on the same port and data directory");
    carol.start();
    auto t0 = SteadyClock::now();
    if (!wait_delivered(alice, queued_id, std::chrono::seconds(20)))
      throw std::runtime_error("the queued message was not delivered after carol came back");
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
    n.say("  alice reconnected and delivered it " + std::to_string(ms) + " ms after carol's restart: \"" +
          received_text(carol, queued_id) + "\"");
    n.say("  alice's status for it: " + message_state(alice, queued_id));

    {
      // Act: the internet is lost. The TCP transport dies on every node; the mesh carries on.
      bool meshed = wait_until(
          [&] { return connections_to(alice, carol, "mesh") && connections_to(alice, bob, "mesh"); },
          std::chrono::seconds(20));
      if (!meshed) throw std::runtime_error("the BitChat mesh did not come up; see " + dir.path().string());
      n.say("The internet is lost: every node's TCP transport dies (fault injection)");
      for (auto* node : {&alice, &bob, &carol})
        must(node->api().request("POST", "/v1/p2p/transports/tcp/fault", nlohmann::json{{"mode", "dead"}}),
             "fault");
      wait_until([&] { return connections_to(alice, carol, "tcp") == 0; }, std::chrono::seconds(10));
      auto online = must(alice.api().request("GET", "/v1/p2p/connectivity"), "connectivity");
      n.say("  alice now reports has_internet = " +
            std::string(online.value("online", false) ? "true" : "false") +
            "; her BitChat mesh still sees bob and carol");
      auto id = send_text(alice, carol, "no internet, still talking: this went over the mesh");
      if (!wait_delivered(alice, id, std::chrono::seconds(20)))
        throw std::runtime_error("the message over the mesh was not delivered");
      auto st = must(alice.api().request("GET", "/v1/messages/" + id), "status");
      n.say("  alice -> carol: \"" + received_text(carol, id) + "\" via " + st.value("transport", "?") +
            " (" + st.value("transport_reason", "") + ")");
      must(alice.api().request("POST", "/v1/p2p/broadcast",
                               nlohmann::json{{"text", "mesh check-in from alice"}}),
           "broadcast");
      bool heard = wait_until(
          [&] {
            for (auto* node : {&bob, &carol}) {
              bool got = false;
              auto b = node->api().request("GET", "/v1/p2p/broadcasts").body;
              for (const auto& m : b["broadcasts"]) got = got || m["text"] == "mesh check-in from alice";
              if (!got) return false;
            }
            return true;
          },
          std::chrono::seconds(10));
      if (!heard) throw std::runtime_error("the broadcast did not reach bob and carol");
      n.say("  alice broadcast \"mesh check-in from alice\": bob and carol heard it, signed by her key");
      n.say("The internet comes back");
      for (auto* node : {&alice, &bob, &carol})
        must(node->api().request("POST", "/v1/p2p/transports/tcp/fault", nlohmann::json{{"mode", "none"}}),
             "fault");
      if (!wait_until(
              [&] {
                return connections_to(alice, bob, "tcp") > 0 && connections_to(alice, carol, "tcp") > 0;
              },
              std::chrono::seconds(20)))
        throw std::runtime_error("TCP did not come back");
      n.say("  alice's TCP links are back (to bob: " + std::to_string(connections_to(alice, bob, "tcp")) +
            ", to carol: " + std::to_string(connections_to(alice, carol, "tcp")) +
            "); the router chooses per message again, the mesh stays up beside them");
    }

    auto status = must(alice.api().request("GET", "/v1/p2p/status"), "status");
    n.say("alice's counters: " + status["counters"].dump());
    for (auto* node : {&alice, &bob, &carol}) node->stop();
    privacy_act(n, binary, dir.path());
    n.say("Done: every message was delivered and acknowledged exactly once.");
  });
}

}  // namespace hyphae::cli
