#include "testnet/local_mixnode.hpp"

namespace hyphae {

std::filesystem::path local_mixnode_status(const std::filesystem::path& dir, const std::string& network,
                                           int layer, int instance) {
  return dir / (network + "-mix" + std::to_string(layer) + (instance ? "-" + std::to_string(instance) : "") +
                ".json");
}

ChildProcess start_local_mixnode(const std::filesystem::path& binary, const std::filesystem::path& dir,
                                 const LocalRegistry& registry, const PeerId& registry_peer,
                                 const std::string& token, const std::string& network, int layer, int epoch_s,
                                 const std::vector<std::string>& extra, int instance) {
  const std::string name =
      network + "-mix" + std::to_string(layer) + (instance ? "-" + std::to_string(instance) : "");
  std::vector<std::string> args{"--data",
                                (dir / name).string(),
                                "mixnode",
                                "--registry",
                                registry.url(),
                                "--registry-peer",
                                registry_peer.to_string(),
                                "--token",
                                token,
                                "--network",
                                network,
                                "--layer",
                                std::to_string(layer),
                                "--group",
                                "AS" + std::to_string(layer),
                                "--epoch",
                                std::to_string(epoch_s),
                                "--status-file",
                                local_mixnode_status(dir, network, layer, instance).string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return ChildProcess(binary, args, dir / (name + ".log"));
}

}  // namespace hyphae
