// `hyphae peers add|list`, `hyphae send`, `hyphae recv`, `hyphae status`, `hyphae find`: clients of a
// running node's API.
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include "api/client.hpp"
#include "commands.hpp"
#include "util/json_util.hpp"

namespace hyphae::cli {

ApiClient connect_to_node(const Common& common) {
  std::string error;
  auto endpoint = ApiEndpoint::from_data_dir(common.data_dir, &error);
  if (!endpoint) throw std::runtime_error(error + " (start one with `hyphae node --data DIR`)");
  return ApiClient(*endpoint);
}

nlohmann::json checked(const ApiResponse& r) {
  if (r.status >= 400) {
    std::string message = r.body.is_object() ? r.body.value("error", std::string("error")) : "error";
    throw std::runtime_error("node answered " + std::to_string(r.status) + ": " + message);
  }
  return r.body;
}

void add_client_commands(CLI::App& app, Common& common) {
  auto* peers = app.add_subcommand("peers", "manage known peers");
  peers->require_subcommand(1);
  auto* add =
      peers->add_subcommand("add", "add a peer and its addresses: hyphae peers add PEERID [host:port...]");
  auto add_args = std::make_shared<std::pair<std::string, std::vector<std::string>>>();
  add->add_option("peer", add_args->first, "the peer's PeerId")->required();
  add->add_option("addresses", add_args->second,
                  "host:port or /ip4/A/tcp/P (none: transports that find peers themselves, e.g. the mixnet)");
  add->callback([&common, add_args] {
    auto client = connect_to_node(common);
    auto body = checked(client.request(
        "POST", "/v1/peers", nlohmann::json{{"peer_id", add_args->first}, {"addresses", add_args->second}}));
    if (common.json)
      std::cout << body.dump() << "\n";
    else
      std::cout << "added " << add_args->first << "\n";
  });
  auto* list = peers->add_subcommand("list", "list known peers");
  list->callback([&common] {
    auto client = connect_to_node(common);
    auto body = checked(client.request("GET", "/v1/peers"));
    if (common.json) {
      std::cout << body.dump() << "\n";
      return;
    }
    for (const auto& p : body["peers"])
      std::cout << p["peer_id"].get<std::string>()
                << (p["connected"].get<bool>() ? "  connected  " : "  offline    ") << p["addresses"].dump()
                << "\n";
  });

  auto* send = app.add_subcommand("send", "send a message: hyphae send PEERID TEXT|@FILE");
  struct SendArgs {
    std::string peer, text, priority = "normal", privacy, privacy_mode, transport;
    bool ephemeral = false;
  };
  auto send_args = std::make_shared<SendArgs>();
  send->add_option("peer", send_args->peer, "recipient PeerId")->required();
  send->add_option("text", send_args->text, "message text, or @FILE to send a file's bytes")->required();
  send->add_flag("--ephemeral", send_args->ephemeral,
                 "real-time only: fail if no live link, no store, no ack");
  send->add_option("--priority", send_args->priority, "emergency, high, normal or low");
  send->add_option("--privacy", send_args->privacy,
                   "standard, private (the mixnet first, others allowed) or anonymous (the mixnet only)");
  send->add_option("--privacy-mode", send_args->privacy_mode,
                   "the mixnet's route: strict (3 mixes), balanced (2) or performance (none)");
  send->add_option("--transport", send_args->transport, "force this transport by name");
  send->callback([&common, send_args] {
    nlohmann::json body{
        {"to", send_args->peer}, {"ephemeral", send_args->ephemeral}, {"priority", send_args->priority}};
    if (!send_args->privacy.empty()) body["privacy"] = send_args->privacy;
    if (!send_args->privacy_mode.empty()) body["privacy_mode"] = send_args->privacy_mode;
    if (!send_args->transport.empty()) body["transport"] = send_args->transport;
    if (!send_args->text.empty() && send_args->text[0] == '@') {
      std::ifstream in(send_args->text.substr(1), std::ios::binary);
      if (!in) throw std::runtime_error("cannot read " + send_args->text.substr(1));
      std::string bytes((std::istreambuf_iterator<char>(in)), {});
      if (is_valid_utf8(std::string_view(bytes))) {
        body["payload"] = bytes;
      } else {  // binary content: JSON strings must be UTF-8
        body["payload_base64"] =
            base64_encode(ByteView(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
      }
    } else {
      body["payload"] = send_args->text;
    }
    auto client = connect_to_node(common);
    auto out = checked(client.request("POST", "/v1/messages", body));
    if (common.json)
      std::cout << out.dump() << "\n";
    else
      std::cout << out["id"].get<std::string>() << " " << out["status"].get<std::string>() << "\n";
  });

  auto* recv =
      app.add_subcommand("recv", "print received messages not yet acknowledged, and acknowledge them");
  auto follow = std::make_shared<bool>(false);
  recv->add_flag("--follow,-f", *follow, "keep waiting for new messages");
  recv->callback([&common, follow] {
    auto client = connect_to_node(common);
    client.stream(
        [&](const nlohmann::json& m) {
          if (common.json) {
            std::cout << m.dump() << std::endl;
          } else {
            std::cout << m.value("from", "") << ": "
                      << (m.contains("payload") ? m["payload"].get<std::string>() : "<binary payload>")
                      << std::endl;
          }
          return true;
        },
        *follow ? 0 : 500);
  });

  auto* status = app.add_subcommand("status", "show the node's status, or one message's: hyphae status [ID]");
  auto status_id = std::make_shared<std::string>();
  status->add_option("id", *status_id, "message id");
  status->callback([&common, status_id] {
    auto client = connect_to_node(common);
    auto body = status_id->empty() ? checked(client.request("GET", "/v1/p2p/status"))
                                   : checked(client.request("GET", "/v1/messages/" + *status_id));
    std::cout << (common.json ? body.dump() : body.dump(2)) << "\n";
  });

  auto* relay = app.add_subcommand(
      "relay", "show relaying: the relays holding a reservation for this node, and what it relays and holds");
  relay->callback([&common] {
    auto client = connect_to_node(common);
    auto r = checked(client.request("GET", "/v1/p2p/discovery"))["relay"];
    if (common.json) {
      std::cout << r.dump() << "\n";
      return;
    }
    std::cout << "reserved at:";
    if (r["reserved_at"].empty()) std::cout << " (none)";
    for (const auto& p : r["reserved_at"]) std::cout << " " << p.get<std::string>();
    std::cout << "\nmessages held for it by coordinators: " << r["held_at_relays"]
              << "\nhole punching: " << r["punch_successes"] << " of " << r["punch_attempts"]
              << " attempts\n";
    if (!r["serving"].get<bool>()) {
      std::cout << "not a relay (role basic)\n";
      return;
    }
    std::cout << "relaying: " << r["reservations"] << " reservations, " << r["circuits_open"]
              << " open circuits (" << r["circuits_opened"] << " opened, " << r["circuits_refused"]
              << " refused), " << r["bytes_relayed"] << " bytes relayed, " << r["dropped"] << " dropped\n"
              << "held for offline peers: " << r["held_messages"] << " (" << r["held_delivered"]
              << " handed over, " << r["held_refused"] << " refused)\n";
  });
}

void add_find_command(CLI::App& app, Common& common) {
  auto* find = app.add_subcommand(
      "find", "look for a peer through the discovery chain and print its timeline: hyphae find PEERID");
  struct FindArgs {
    std::string peer;
    double timeout_s = 5;
  };
  auto args = std::make_shared<FindArgs>();
  find->add_option("peer", args->peer, "the PeerId to look for")->required();
  find->add_option("--timeout", args->timeout_s, "seconds to follow the search (default 5)");
  find->callback([&common, args] {
    auto client = connect_to_node(common);
    auto view = checked(client.request("POST", "/v1/p2p/peers/" + args->peer + "/find"));
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<long>(args->timeout_s * 1000));
    if (!common.json) std::cout << "looking for " << args->peer << "\n";
    std::size_t started_shown = 0, ended_shown = 0;  // steps whose start / end were printed (in order)
    auto settled = [](const nlohmann::json& v) {
      const auto state = v["state"].get<std::string>();
      return state == "CONNECTED" || state == "STORE_AND_FORWARD" || state == "FAILED";
    };
    for (;;) {
      const auto& steps = view["steps"];
      if (!common.json) {
        for (; started_shown < steps.size(); ++started_shown) {
          const auto& s = steps[started_shown];
          std::cout << "  +" << s["started_after_ms"].get<std::uint64_t>() << " ms  "
                    << s["step"].get<std::string>() << "  started (budget "
                    << s["budget_ms"].get<std::uint64_t>() << " ms)\n";
        }
        for (; ended_shown < steps.size() && !steps[ended_shown]["took_ms"].is_null(); ++ended_shown) {
          const auto& s = steps[ended_shown];
          std::cout << "  +" << s["started_after_ms"].get<std::uint64_t>() + s["took_ms"].get<std::uint64_t>()
                    << " ms  " << s["step"].get<std::string>() << "  " << s["outcome"].get<std::string>()
                    << " (took " << s["took_ms"].get<std::uint64_t>() << " ms)\n";
        }
        std::cout.flush();
      }
      if (settled(view) || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      view = checked(client.request("GET", "/v1/p2p/peers/" + args->peer));
    }
    if (common.json) {
      std::cout << view.dump() << "\n";
      return;
    }
    std::cout << "state " << view["state"].get<std::string>();
    if (!view["found_by"].is_null()) std::cout << ", found by " << view["found_by"].get<std::string>();
    std::cout << " after " << view["age_ms"].get<std::uint64_t>() << " ms\n";
  });
}

}  // namespace hyphae::cli
