// SignalCore: authentication, rooms and forwarding for the signaling server.
#include "signaling/signal_core.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>

#include "core/identity.hpp"
#include "util/json_util.hpp"

namespace hyphae::signaling {

namespace {

bool forwarded_type(std::string_view type) {
  return type == "OFFER" || type == "ANSWER" || type == "ICE_CANDIDATE" || type == "RELAY_REQUEST";
}

bool valid_room(const std::string& room) {
  return !room.empty() && room.size() <= 128 &&
         std::none_of(room.begin(), room.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

}  // namespace

nlohmann::json SignalCore::error(std::string text, std::string ref) {
  nlohmann::json j{{"type", "ERROR"}, {"error", std::move(text)}};
  if (!ref.empty()) j["ref"] = std::move(ref);
  return j;
}

std::string SignalCore::challenge_message(std::string_view nonce_base64, std::string_view device_id) {
  std::string m(kChallengeDomain);
  m += nonce_base64;
  m += device_id;
  return m;
}

std::optional<std::string> SignalCore::challenge_of(ConnId conn) const {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return std::nullopt;
  return it->second.nonce;
}

bool SignalCore::take_token(Conn& c, std::uint64_t now_ms) {
  c.tokens = std::min(options_.burst,
                      c.tokens + static_cast<double>(now_ms - c.at_ms) * options_.messages_per_second / 1000);
  c.at_ms = now_ms;
  if (c.tokens < 1) {
    c.tokens -= 1;  // keeps counting down: a sender far over the rate is closed below
    return false;
  }
  c.tokens -= 1;
  return true;
}

SignalCore::Actions SignalCore::connected(ConnId conn, std::string_view device_id, std::uint64_t now_ms) {
  Actions out;
  ++counters_.connections;
  auto peer = PeerId::from_string(device_id);
  if (!peer || !peer->ed25519_public_key()) {
    ++counters_.refused_connections;
    out.send.push_back({conn, error("the device id must be an Ed25519 PeerId")});
    out.close.push_back({conn, "bad device id"});
    return out;
  }
  if (conns_.size() >= options_.max_connections) {
    ++counters_.refused_connections;
    out.send.push_back({conn, error("the server is full; try again later")});
    out.close.push_back({conn, "full"});
    return out;
  }
  std::array<std::uint8_t, 32> nonce{};
  randombytes_buf(nonce.data(), nonce.size());
  Conn c;
  c.device = std::string(device_id);
  c.nonce = base64_encode(ByteView(nonce.data(), nonce.size()));
  c.tokens = options_.burst;
  c.at_ms = now_ms;
  out.send.push_back({conn, {{"type", "CHALLENGE"}, {"nonce", c.nonce}, {"deviceId", c.device}}});
  conns_[conn] = std::move(c);
  return out;
}

SignalCore::Actions SignalCore::received(ConnId conn, std::string_view text, std::uint64_t now_ms) {
  auto out = handle(conn, text, now_ms);
  // A connection the core closes is closed once: its later input is ignored.
  for (const auto& close : out.close)
    if (auto it = conns_.find(close.conn); it != conns_.end()) it->second.closing = true;
  return out;
}

SignalCore::Actions SignalCore::handle(ConnId conn, std::string_view text, std::uint64_t now_ms) {
  Actions out;
  auto it = conns_.find(conn);
  if (it == conns_.end() || it->second.closing) return out;
  auto& c = it->second;
  if (text.size() > options_.max_message_bytes) {
    ++counters_.malformed;
    out.send.push_back(
        {conn, error("message over " + std::to_string(options_.max_message_bytes) + " bytes")});
    out.close.push_back({conn, "message too large"});
    return out;
  }
  if (!take_token(c, now_ms)) {
    ++counters_.rate_limited;
    if (c.tokens < -options_.burst) {
      out.close.push_back({conn, "far over the message rate"});
    } else {
      out.send.push_back({conn, error("too many messages; slow down")});
    }
    return out;
  }
  auto m = nlohmann::json::parse(text, nullptr, false);
  if (!m.is_object() || !m.contains("type") || !m["type"].is_string()) {
    ++counters_.malformed;
    out.send.push_back({conn, error("a message is a JSON object with a \"type\"")});
    return out;
  }
  const auto type = m["type"].get<std::string>();
  if (!c.authenticated) {
    if (type != "AUTH" || !m.contains("signature") || !m["signature"].is_string()) {
      out.send.push_back({conn, error("authenticate first: AUTH {signature} over the CHALLENGE")});
      return out;
    }
    auto signature = base64_decode(m["signature"].get<std::string>());
    auto peer = PeerId::from_string(c.device);
    auto key = peer ? peer->ed25519_public_key() : std::unexpected(std::error_code{});
    const auto message = challenge_message(c.nonce, c.device);
    std::array<std::uint8_t, 64> sig{};
    const bool ok =
        signature && signature->size() == 64 && key &&
        (std::copy(signature->begin(), signature->end(), sig.begin()), true) &&
        Identity::verify(
            *key, ByteView(reinterpret_cast<const std::uint8_t*>(message.data()), message.size()), sig);
    if (!ok) {
      ++counters_.auth_failures;
      out.send.push_back({conn, error("the signature does not verify for this device id")});
      out.close.push_back({conn, "authentication failed"});
      return out;
    }
    c.authenticated = true;
    ++counters_.authenticated;
    if (auto old = devices_.find(c.device); old != devices_.end() && old->second != conn) {
      out.send.push_back({old->second, error("replaced by a newer connection of this device")});
      out.close.push_back({old->second, "replaced"});
      auto more = disconnected(old->second);
      out.send.insert(out.send.end(), more.send.begin(), more.send.end());
    }
    devices_[c.device] = conn;
    out.send.push_back({conn, {{"type", "AUTHENTICATED"}, {"deviceId", c.device}}});
    return out;
  }
  if (type == "PING") {
    out.send.push_back({conn, {{"type", "PONG"}}});
    return out;
  }
  if (type == "JOIN") {
    if (!m.contains("room") || !m["room"].is_string() || !valid_room(m["room"].get<std::string>())) {
      out.send.push_back({conn, error("JOIN needs a \"room\" (1 to 128 characters)", type)});
      return out;
    }
    const auto room = m["room"].get<std::string>();
    if (m.contains("capabilities")) {
      if (!m["capabilities"].is_object() ||
          m["capabilities"].dump().size() > options_.max_capabilities_bytes) {
        out.send.push_back({conn, error("\"capabilities\" must be an object of at most " +
                                            std::to_string(options_.max_capabilities_bytes) + " bytes",
                                        type)});
        return out;
      }
      c.capabilities = m["capabilities"];
    }
    auto& members = rooms_[room];
    if (!c.rooms.contains(room)) {
      if (c.rooms.size() >= options_.max_rooms_per_device ||
          members.size() >= options_.max_members_per_room) {
        if (members.empty()) rooms_.erase(room);
        out.send.push_back({conn, error("room limit reached", type)});
        return out;
      }
      for (auto other : members)
        out.send.push_back({other,
                            {{"type", "PEER_JOINED"},
                             {"room", room},
                             {"deviceId", c.device},
                             {"capabilities", c.capabilities}}});
      members.insert(conn);
      c.rooms.insert(room);
    }
    nlohmann::json list = nlohmann::json::array();
    for (auto member : members) {
      const auto& mc = conns_.at(member);
      list.push_back({{"deviceId", mc.device}, {"capabilities", mc.capabilities}});
    }
    out.send.push_back({conn, {{"type", "ROOM"}, {"room", room}, {"members", std::move(list)}}});
    return out;
  }
  if (type == "LEAVE") {
    if (!m.contains("room") || !m["room"].is_string()) {
      out.send.push_back({conn, error("LEAVE needs a \"room\"", type)});
      return out;
    }
    leave(conn, c, m["room"].get<std::string>(), out);
    return out;
  }
  if (forwarded_type(type)) {
    if (!m.contains("to") || !m["to"].is_string()) {
      out.send.push_back({conn, error(type + " needs \"to\" (a device id)", type)});
      return out;
    }
    auto target = devices_.find(m["to"].get<std::string>());
    if (target == devices_.end()) {
      ++counters_.undeliverable;
      auto e = error("that device is not connected", type);
      e["to"] = m["to"];  // so that the sender knows which of its negotiations failed
      out.send.push_back({conn, std::move(e)});
      return out;
    }
    ++counters_.forwarded;
    nlohmann::json forwarded{{"type", type}, {"from", c.device}};
    forwarded["payload"] = m.contains("payload") ? m["payload"] : nlohmann::json(nullptr);
    out.send.push_back({target->second, std::move(forwarded)});
    return out;
  }
  ++counters_.malformed;
  out.send.push_back({conn, error("unknown message type \"" + type.substr(0, 32) + "\"")});
  return out;
}

void SignalCore::leave(ConnId conn, Conn& c, const std::string& room, Actions& out) {
  if (!c.rooms.erase(room)) return;
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return;
  it->second.erase(conn);
  for (auto other : it->second)
    out.send.push_back({other, {{"type", "PEER_LEFT"}, {"room", room}, {"deviceId", c.device}}});
  if (it->second.empty()) rooms_.erase(it);
}

SignalCore::Actions SignalCore::disconnected(ConnId conn) {
  Actions out;
  auto it = conns_.find(conn);
  if (it == conns_.end()) return out;
  auto& c = it->second;
  for (const auto& room : std::set<std::string>(c.rooms)) leave(conn, c, room, out);
  if (auto d = devices_.find(c.device); d != devices_.end() && d->second == conn) devices_.erase(d);
  conns_.erase(it);
  return out;
}

}  // namespace hyphae::signaling
