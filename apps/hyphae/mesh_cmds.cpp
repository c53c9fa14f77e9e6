// `hyphae broadcast`, `hyphae broadcasts`, `hyphae mesh`: the BitChat mesh from the command line
// (public and channel messages; neighbours and peers), as clients of a running node's API.
#include <iostream>

#include "api/client.hpp"
#include "commands.hpp"

namespace hyphae::cli {
namespace {

nlohmann::json call(const Common& common, const std::string& method, const std::string& target,
                    const std::optional<nlohmann::json>& body = std::nullopt) {
  auto client = connect_to_node(common);
  return checked(client.request(method, target, body));
}

}  // namespace

void add_mesh_commands(CLI::App& app, Common& common) {
  auto* broadcast = app.add_subcommand("broadcast", "send a public or channel message to the whole mesh");
  struct BroadcastArgs {
    std::string text, channel, privacy;
  };
  auto b = std::make_shared<BroadcastArgs>();
  broadcast->add_option("text", b->text, "the message")->required();
  broadcast->add_option("--channel,-c", b->channel, "a channel name (letters, digits, - _ .); none: public");
  broadcast->add_option("--privacy", b->privacy,
                        "anonymous: only through the mixnet; private: the mixnet first");
  broadcast->callback([&common, b] {
    nlohmann::json body{{"text", b->text}};
    if (!b->privacy.empty()) body["privacy"] = b->privacy;
    if (!b->channel.empty()) body["channel"] = b->channel;
    auto out = call(common, "POST", "/v1/p2p/broadcast", body);
    if (common.json) {
      std::cout << out.dump() << "\n";
      return;
    }
    std::string via;
    for (const auto& t : out["sent_on"]) via += (via.empty() ? "" : ", ") + t.get<std::string>();
    std::cout << "sent" << (b->channel.empty() ? "" : " to #" + b->channel) << " over " << via << "\n";
  });

  auto* heard = app.add_subcommand("broadcasts", "list the public and channel messages heard and sent");
  auto channel = std::make_shared<std::string>();
  heard->add_option("--channel,-c", *channel, "only this channel (\"\" for the public one)");
  heard->callback([&common, channel, heard] {
    std::string target = "/v1/p2p/broadcasts?limit=1000";
    if (heard->count("--channel")) target += "&channel=" + *channel;
    auto out = call(common, "GET", target);
    if (common.json) {
      std::cout << out.dump() << "\n";
      return;
    }
    for (const auto& m : out["broadcasts"]) {
      const std::string ch = m["channel"].get<std::string>();
      std::string who = m["own"].get<bool>() ? "me" : m.value("nickname", std::string());
      if (who.empty()) who = m.value("mesh_id", std::string("?"));
      std::cout << (ch.empty() ? "" : "#" + ch + " ") << who
                << (m["verified"].get<bool>() ? "" : " (unverified)") << ": " << m["text"].get<std::string>()
                << "\n";
    }
  });

  auto* mesh = app.add_subcommand("mesh", "show the BitChat mesh: neighbours, peers, hops and sessions");
  mesh->callback([&common] {
    auto out = call(common, "GET", "/v1/p2p/transports");
    bool any = false;
    for (const auto& t : out["transports"]) {
      if (t.value("type", "") != "bitchat") continue;
      any = true;
      if (common.json) {
        std::cout << t.dump() << "\n";
        continue;
      }
      const auto& m = t["mesh"];
      std::cout << t["name"].get<std::string>() << ": mesh ID " << m["mesh_id"].get<std::string>() << " ("
                << m["nickname"].get<std::string>() << "), " << m["neighbours"].size() << " neighbours, "
                << m["peers"].size() << " peers\n";
      for (const auto& p : m["peers"])
        std::cout << "  " << p["mesh_id"].get<std::string>() << "  " << p.value("nickname", std::string("?"))
                  << "  " << p["hops"].get<int>() << (p["hops"].get<int>() == 1 ? " hop " : " hops")
                  << (p["up"].get<bool>()          ? "  session up  "
                      : p["reachable"].get<bool>() ? "  reachable   "
                                                   : "  gone        ")
                  << p.value("peer_id", std::string("(an app: no PeerId)")) << "\n";
    }
    if (!any) throw std::runtime_error("this node has no BitChat transport (see docs/bitchat.md)");
  });
}

}  // namespace hyphae::cli
