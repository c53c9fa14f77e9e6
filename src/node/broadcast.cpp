// Node: public and channel broadcasts over the transports that carry them (the BitChat mesh), and
// the ring of those heard and sent for GET /v1/p2p/broadcasts.
#include "core/error.hpp"
#include "node/node_impl.hpp"

namespace hyphae {

namespace {

constexpr std::size_t kMaxBroadcastBytes = 4096;
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
            message.sender ? message.sender->to_string() : "an unknown sender",
            message.verified ? "verified" : "unverified", message.payload.size());
  remember_broadcast(std::string(t.name()), message, false);
}

std::expected<std::vector<std::string>, std::error_code> Node::broadcast(const std::string& channel,
                                                                         ByteView payload, Privacy privacy) {
  if (payload.empty() || !valid_channel(channel))
    return std::unexpected(make_error_code(Errc::invalid_argument));
  if (payload.size() > kMaxBroadcastBytes) return std::unexpected(make_error_code(Errc::too_large));
  const auto can_carry = [&](const auto& slot) {
    const auto& caps = slot.transport->capabilities();
    return (channel.empty() ? caps.broadcast : caps.multicast) && slot.transport->available();
  };
  bool anonymous_only = privacy == Privacy::anonymous;
  if (privacy == Privacy::private_)  // the mixnet when it is there, else whatever carries broadcasts
    anonymous_only = std::any_of(impl_->transports.begin(), impl_->transports.end(), [&](const auto& s) {
      return can_carry(s) && s.transport->capabilities().anonymous();
    });
  std::vector<std::string> used;
  for (auto& slot : impl_->transports) {
    if (!can_carry(slot) || (anonymous_only && !slot.transport->capabilities().anonymous())) continue;
    if (slot.transport->broadcast(channel, payload)) continue;
    used.push_back(slot.name);
    impl_->metrics
        .counter("p2p_broadcasts_sent_total", "Public and channel messages sent", {{"transport", slot.name}})
        .inc();
  }
  if (used.empty()) return std::unexpected(make_error_code(Errc::no_link));
  transport::BroadcastMessage own;
  own.channel = channel;
  own.payload.assign(payload.begin(), payload.end());
  own.sender = impl_->identity.peer_id();
  own.verified = true;
  own.timestamp_ms = now_ms();
  impl_->remember_broadcast(used.front(), own, true);
  return used;
}

std::vector<BroadcastView> Node::broadcasts(std::uint64_t after_seq, const std::string& channel,
                                            std::size_t limit) const {
  std::vector<BroadcastView> out;
  for (const auto& b : impl_->broadcasts) {
    if (b.seq <= after_seq || (channel != "*" && b.message.channel != channel)) continue;
    out.push_back(BroadcastView{b.seq, b.via, b.message.channel, b.message.payload, b.message.sender,
                                b.message.verified, b.own, b.message.timestamp_ms, b.received_ms,
                                b.message.sender_details});
    if (out.size() >= limit) break;
  }
  return out;
}

}  // namespace hyphae
