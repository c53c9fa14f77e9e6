// start_local_mixnode: one `hyphae mixnode` process against a LocalRegistry's mix directory, as the
// tests and benchmarks run it: data in DIR/<network>-mix<layer>, log beside it, group AS<layer>,
// status (JSON counters) in DIR/<network>-mix<layer>.json; `extra` options are appended. A second
// mix in the same layer takes `instance` 1, 2, ... (names get "-<instance>").
// Thread-safety: none. Ownership: the caller owns the returned process and the directory.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/peer_id.hpp"
#include "testnet/local_registry.hpp"
#include "testnet/process.hpp"

namespace hyphae {

std::filesystem::path local_mixnode_status(const std::filesystem::path& dir, const std::string& network,
                                           int layer, int instance = 0);

ChildProcess start_local_mixnode(const std::filesystem::path& binary, const std::filesystem::path& dir,
                                 const LocalRegistry& registry, const PeerId& registry_peer,
                                 const std::string& token, const std::string& network, int layer, int epoch_s,
                                 const std::vector<std::string>& extra = {}, int instance = 0);

}  // namespace hyphae
