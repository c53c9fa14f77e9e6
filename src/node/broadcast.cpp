// Node: public and channel broadcasts over the transports that carry them (the BitChat mesh), and
// the ring of those heard and sent for GET /v1/p2p/broadcasts.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "node/node_impl.hpp"
#include "util/json_util.hpp"

namespace hyphae {

namespace {

constexpr std::size_t kMaxBroadcastText = 4096;
constexpr std::size_t kMaxChannel = 64;

bool valid_channel(const std::string& channel) {
  if (channel.size() > kMaxChannel) return false;
  for (char c : channel)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

}  // namespace

void Node::Impl::remember_broadcast(const std::string& via, const transport::BroadcastMessage& message,
                                    bool own) {
  broadcasts.push_back(StoredBroadcast{++broadcast_seq, via, message, now_ms(), own});
  while (broadcasts.size() > kBroadcastRing) broadcasts.pop_front();
}

void Node::Impl::on_broadcast(Transport& t, const transport::BroadcastMessage& message) {
  metrics
      .counter("p2p_broadcasts_received_total", "Public and channel messages heard",
               {{"transport", std::string(t.name())}, {"verified", message.verified ? "true" : "false"}})
      .inc();
  log->info("broadcast on {}{} from {} ({}): {} bytes", t.name(),
            message.channel.empty() ? "" : " #" + message.channel,
            message.nickname.empty() ? "?" : message.nickname, message.verified ? "verified" : "unverified",
            message.text.size());
  remember_broadcast(std::string(t.name()), message, false);
}

std::expected<std::vector<std::string>, std::error_code> Node::broadcast(const std::string& channel,
                                                                         const std::string& text) {
  if (text.empty() || !valid_channel(channel))
    return std::unexpected(make_error_code(Errc::invalid_argument));
  if (text.size() > kMaxBroadcastText) return std::unexpected(make_error_code(Errc::too_large));
  std::vector<std::string> used;
  for (auto& slot : impl_->transports) {
    const auto& caps = slot.transport->capabilities();
    if (!(channel.empty() ? caps.broadcast : caps.multicast) || !slot.transport->available()) continue;
    if (slot.transport->broadcast(channel, text)) continue;
    used.push_back(slot.name);
    impl_->metrics
        .counter("p2p_broadcasts_sent_total", "Public and channel messages sent", {{"transport", slot.name}})
        .inc();
  }
  if (used.empty()) return std::unexpected(make_error_code(Errc::no_link));
  transport::BroadcastMessage own;
  own.channel = channel;
  own.text = text;
  own.sender = impl_->identity.peer_id();
  own.verified = true;
  own.timestamp_ms = now_ms();
  impl_->remember_broadcast(used.front(), own, true);
  return used;
}

nlohmann::json Node::broadcasts_json(std::uint64_t after_seq, const std::string& channel,
                                     std::size_t limit) const {
  auto list = nlohmann::json::array();
  for (const auto& b : impl_->broadcasts) {
    if (b.seq <= after_seq || (channel != "*" && b.message.channel != channel)) continue;
    nlohmann::json j{{"seq", b.seq},
                     {"via", b.via},
                     {"channel", b.message.channel},
                     {"text", sanitize_utf8(b.message.text)},  // display text from the network
                     {"nickname", sanitize_utf8(b.message.nickname)},
                     {"mesh_id", b.message.sender_mesh_id},
                     {"verified", b.message.verified},
                     {"own", b.own},
                     {"sent_ms", b.message.timestamp_ms},
                     {"received_ms", b.received_ms}};
    if (b.message.sender) j["from"] = b.message.sender->to_string();
    list.push_back(std::move(j));
    if (list.size() >= limit) break;
  }
  return nlohmann::json{{"broadcasts", std::move(list)}};
}

}  // namespace hyphae
