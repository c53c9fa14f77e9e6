#include "transport/stream/link_session.hpp"

#include "core/error.hpp"
#include "transport/stream/handshake_payload.hpp"

namespace hyphae::stream {
namespace {
constexpr std::size_t kTagSize = 16;
constexpr std::size_t kMaxPlainPerFrame = 65535 - kTagSize;

void append_frame(Bytes& wire, ByteView message) {
  net::put_frame_header(wire, message.size());
  append(wire, message);
}
}  // namespace

LinkSession::LinkSession(const Identity& identity, const noise::KeyPair& noise_static, bool initiator,
                         std::optional<PeerId> expected_remote, LinkLimits limits)
    : identity_(identity),
      noise_static_(noise_static),
      initiator_(initiator),
      expected_remote_(std::move(expected_remote)),
      limits_(limits),
      frames_(limits.max_frame),
      records_(limits.max_record) {
  noise::HandshakeConfig config;
  config.protocol = noise::Protocol{noise::Pattern::XX};
  config.initiator = initiator;
  config.s = noise_static_;
  auto hs = noise::HandshakeState::create(std::move(config));
  if (!hs) throw std::logic_error("cannot create Noise XX handshake: " + hs.error().message());
  handshake_.emplace(std::move(*hs));
}

LinkSession::~LinkSession() = default;

Bytes LinkSession::start() {
  Bytes wire;
  if (!initiator_) return wire;
  auto msg = handshake_->write_message({});  // -> e, empty payload as libp2p does
  if (!msg) throw std::logic_error("Noise XX first message failed");
  append_frame(wire, *msg);
  return wire;
}

std::error_code LinkSession::accept_remote_payload(ByteView payload) {
  if (!handshake_->has_remote_static()) return Errc::handshake_failed;
  auto peer = verify_handshake_payload(payload, handshake_->remote_static());
  if (!peer) return peer.error();
  if (*peer == identity_.peer_id()) return Errc::peer_id_mismatch;  // connected to ourselves
  if (expected_remote_ && *peer != *expected_remote_) return Errc::peer_id_mismatch;
  remote_ = *peer;
  return {};
}

std::error_code LinkSession::finish_handshake() {
  handshake_hash_ = handshake_->handshake_hash();
  auto [initiator_to_responder, responder_to_initiator] = handshake_->split();
  if (initiator_) {
    send_.emplace(std::move(initiator_to_responder));
    recv_.emplace(std::move(responder_to_initiator));
  } else {
    send_.emplace(std::move(responder_to_initiator));
    recv_.emplace(std::move(initiator_to_responder));
  }
  handshake_.reset();
  established_ = true;
  return {};
}

std::error_code LinkSession::on_handshake_frame(ByteView frame, Bytes& to_send) {
  auto payload = handshake_->read_message(frame);
  if (!payload) return Errc::handshake_failed;
  if (initiator_) {
    // Received <- e, ee, s, es with the responder's identity payload.
    if (auto ec = accept_remote_payload(*payload)) return ec;
    auto reply = handshake_->write_message(make_handshake_payload(identity_, noise_static_.pub));
    if (!reply) return Errc::handshake_failed;
    append_frame(to_send, *reply);
    return finish_handshake();
  }
  if (!handshake_->has_remote_static()) {
    // Received -> e. Answer with <- e, ee, s, es and our identity payload.
    if (!payload->empty()) return Errc::handshake_failed;
    auto reply = handshake_->write_message(make_handshake_payload(identity_, noise_static_.pub));
    if (!reply) return Errc::handshake_failed;
    append_frame(to_send, *reply);
    return {};
  }
  // Received -> s, se with the initiator's identity payload.
  if (auto ec = accept_remote_payload(*payload)) return ec;
  return finish_handshake();
}

std::error_code LinkSession::on_bytes(ByteView data, Bytes& to_send,
                                      const std::function<void(const Record&)>& on_record) {
  frames_.feed(data);
  for (;;) {
    auto frame = frames_.next();
    if (!frame) return frame.error();
    if (!*frame) break;
    ByteView bytes = **frame;
    if (!established_) {
      if (auto ec = on_handshake_frame(bytes, to_send)) return ec;
      continue;
    }
    if (bytes.size() < kTagSize) return Errc::malformed;
    plain_scratch_.resize(bytes.size() - kTagSize);
    auto n = recv_->decrypt_into({}, bytes, plain_scratch_.data());
    if (!n) return Errc::decrypt_failed;
    records_.feed(ByteView(plain_scratch_.data(), *n));
    for (;;) {
      auto record = records_.next();
      if (!record) return record.error();
      if (!*record) break;
      on_record(**record);
    }
  }
  return {};
}

void LinkSession::queue(RecordType type, ByteView body) {
  if (!established_) throw std::logic_error("LinkSession::queue before the handshake completed");
  put_record(pending_, type, body);
}

Bytes& LinkSession::queue_header(RecordType type, std::size_t body_size) {
  if (!established_) throw std::logic_error("LinkSession::queue before the handshake completed");
  put_record_header(pending_, type, body_size);
  return pending_;
}

void LinkSession::seal(Bytes& wire) {
  std::size_t offset = 0;
  while (offset < pending_.size()) {
    std::size_t chunk = std::min(kMaxPlainPerFrame, pending_.size() - offset);
    std::size_t start = wire.size();
    wire.resize(start + 2 + chunk + kTagSize);
    wire[start] = static_cast<std::uint8_t>((chunk + kTagSize) >> 8);
    wire[start + 1] = static_cast<std::uint8_t>(chunk + kTagSize);
    send_->encrypt_into({}, ByteView(pending_.data() + offset, chunk), wire.data() + start + 2);
    offset += chunk;
  }
  pending_.clear();
}

}  // namespace hyphae::stream
