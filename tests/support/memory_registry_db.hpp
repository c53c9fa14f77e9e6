// MemoryRegistryDb: a RegistryDb held in maps, a test double for the logic above the database
// (RegistryService in unit tests and its fuzz target). Same rules as the real backends: the
// higher seq wins, an equal one refreshes last_seen, expired rows are not returned.
// Thread-safety: none. Ownership: values.
#pragma once

#include <map>
#include <utility>

#include "registry/registry_db.hpp"

namespace hyphae::registry {

class MemoryRegistryDb final : public RegistryDb {
 public:
  void migrate() override {}
  void add_token(const std::string& network, const std::string& hash, std::uint64_t) override {
    tokens_[hash] = network;
  }
  std::optional<std::string> token_network(const std::string& hash) override {
    auto it = tokens_.find(hash);
    if (it == tokens_.end()) return std::nullopt;
    return it->second;
  }
  AnnounceResult announce(const PeerRow& row) override {
    auto [it, inserted] = peers_.try_emplace({row.network, row.peer}, row);
    if (inserted) return AnnounceResult::stored;
    if (row.seq < it->second.seq) return AnnounceResult::replay;
    if (row.seq == it->second.seq) {
      it->second.last_seen_ms = std::max(it->second.last_seen_ms, row.last_seen_ms);
      return AnnounceResult::repeat;
    }
    it->second = row;
    return AnnounceResult::stored;
  }
  std::optional<PeerRow> peer(const std::string& network, const std::string& peer,
                              std::uint64_t now) override {
    auto it = peers_.find({network, peer});
    if (it == peers_.end() || it->second.expires_ms <= now) return std::nullopt;
    return it->second;
  }
  std::vector<PeerRow> active_peers(const std::string& network, std::uint64_t now, const std::string& after,
                                    std::size_t limit) override {
    std::vector<PeerRow> out;
    for (auto it = peers_.upper_bound({network, after}); it != peers_.end() && out.size() < limit; ++it) {
      if (it->first.first != network) break;
      if (it->second.expires_ms > now) out.push_back(it->second);
    }
    return out;
  }
  void heartbeat(const std::string& network, const CoordinatorRow& row) override {
    coordinators_[{network, row.peer}] = row;
  }
  std::optional<CoordinatorRow> coordinator(const std::string& network, const std::string& peer) override {
    auto it = coordinators_.find({network, peer});
    if (it == coordinators_.end()) return std::nullopt;
    return it->second;
  }
  std::uint64_t expire(std::uint64_t now) override {
    return std::erase_if(peers_, [now](const auto& p) { return p.second.expires_ms <= now; });
  }
  std::string backend() const override { return "memory"; }
  std::size_t size() const { return peers_.size(); }

 private:
  std::map<std::string, std::string> tokens_;
  std::map<std::pair<std::string, std::string>, PeerRow> peers_;
  std::map<std::pair<std::string, std::string>, CoordinatorRow> coordinators_;
};

}  // namespace hyphae::registry
