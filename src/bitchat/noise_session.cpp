// bitchat::NoiseSession: see noise_session.hpp.
#include "bitchat/noise_session.hpp"

#include <sodium.h>

#include <algorithm>
#include <utility>

#include "core/error.hpp"
#include "crypto/noise/protocol.hpp"

namespace hyphae::bitchat {
namespace {

std::unexpected<std::error_code> err(Errc e) {
  return std::unexpected(make_error_code(e));
}

}  // namespace

ShortId NoiseSession::peer_id_of(const std::array<std::uint8_t, 32>& noise_static_pub) {
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), noise_static_pub.data(), noise_static_pub.size());
  ShortId id{};
  std::copy_n(digest.begin(), id.size(), id.begin());
  return id;
}

NoiseSession::SecretKeyPair::SecretKeyPair(SecretKeyPair&& o) noexcept : key_(o.key_), held_(o.held_) {
  o.wipe();
}

NoiseSession::SecretKeyPair& NoiseSession::SecretKeyPair::operator=(SecretKeyPair&& o) noexcept {
  if (this != &o) {
    wipe();
    key_ = o.key_;
    held_ = o.held_;
    o.wipe();
  }
  return *this;
}

void NoiseSession::SecretKeyPair::set(const noise::KeyPair& k) {
  wipe();
  key_ = k;
  held_ = true;
}

void NoiseSession::SecretKeyPair::wipe() {
  sodium_memzero(key_.priv.data(), key_.priv.size());
  key_.pub = {};
  held_ = false;
}

NoiseSession::NoiseSession(const noise::KeyPair& local_static, const ShortId& remote_peer_id)
    : local_static_(local_static), local_id_(peer_id_of(local_static.pub)), remote_id_(remote_peer_id) {}

std::optional<noise::KeyPair> NoiseSession::take_ephemeral() {
  if (next_ephemeral_.empty()) return std::nullopt;
  std::optional<noise::KeyPair> e = next_ephemeral_.get();
  next_ephemeral_.wipe();
  return e;
}

void NoiseSession::reset_transport() {
  send_ = noise::CipherState{};
  recv_ = noise::CipherState{};
  remote_static_ = {};
  handshake_hash_.clear();
  established_ms_ = 0;
  send_nonce_ = 0;
  received_ = 0;
  any_received_ = false;
  highest_ = 0;
  seen_ = {};
}

void NoiseSession::fail() {
  hs_.reset();
  reset_transport();
  state_ = State::failed;
}

std::expected<Bytes, std::error_code> NoiseSession::start_as_initiator(std::uint64_t now_ms) {
  reset_transport();
  hs_.reset();
  auto hs = noise::HandshakeState::create({.protocol = noise::Protocol{noise::Pattern::XX},
                                           .initiator = true,
                                           .s = local_static_.get(),
                                           .e = take_ephemeral()});
  if (!hs) {
    fail();
    return std::unexpected(hs.error());
  }
  hs_.emplace(std::move(*hs));
  auto m1 = hs_->write_message({});
  if (!m1) {
    fail();
    return std::unexpected(m1.error());
  }
  initiator_ = true;
  state_ = State::awaiting_message2;
  handshake_started_ms_ = now_ms;
  return m1;
}

std::expected<Bytes, std::error_code> NoiseSession::begin_responder(ByteView message1, std::uint64_t now_ms) {
  reset_transport();
  hs_.reset();
  initiator_ = false;
  handshake_started_ms_ = now_ms;
  auto hs = noise::HandshakeState::create({.protocol = noise::Protocol{noise::Pattern::XX},
                                           .initiator = false,
                                           .s = local_static_.get(),
                                           .e = take_ephemeral()});
  if (!hs) {
    fail();
    return std::unexpected(hs.error());
  }
  hs_.emplace(std::move(*hs));
  if (auto payload = hs_->read_message(message1); !payload) {
    fail();
    return std::unexpected(payload.error());
  }
  auto m2 = hs_->write_message({});
  if (!m2) {
    fail();
    return std::unexpected(m2.error());
  }
  state_ = State::awaiting_message3;
  return m2;
}

std::error_code NoiseSession::check_remote_static() {
  if (!hs_->has_remote_static() || peer_id_of(hs_->remote_static()) != remote_id_)
    return make_error_code(Errc::peer_id_mismatch);
  return {};
}

std::error_code NoiseSession::finish(std::uint64_t now_ms) {
  if (auto ec = check_remote_static()) return ec;
  remote_static_ = hs_->remote_static();
  handshake_hash_ = hs_->handshake_hash();
  auto [i2r, r2i] = hs_->split();
  hs_.reset();
  send_ = std::move(initiator_ ? i2r : r2i);
  recv_ = std::move(initiator_ ? r2i : i2r);
  established_ms_ = now_ms;
  state_ = State::established;
  return {};
}

std::expected<std::optional<Bytes>, std::error_code> NoiseSession::on_handshake(ByteView message,
                                                                                std::uint64_t now_ms) {
  const std::size_t n = message.size();
  if (n != kMessage1Len && n != kMessage2Len && n != kMessage3Len) return err(Errc::malformed);

  if (n == kMessage1Len) {
    switch (state_) {
      case State::established:
        return err(Errc::invalid_argument);
      case State::awaiting_message2:
        // Crossed handshakes: the lower peer ID stays initiator and ignores the peer's message 1.
        if (local_id_ < remote_id_) return std::optional<Bytes>{};
        [[fallthrough]];
      case State::idle:
      case State::awaiting_message3:
      case State::failed: {
        auto m2 = begin_responder(message, now_ms);
        if (!m2) return std::unexpected(m2.error());
        return std::optional<Bytes>{std::move(*m2)};
      }
    }
  }

  if (n == kMessage2Len && state_ == State::awaiting_message2) {
    if (auto payload = hs_->read_message(message); !payload) {
      fail();
      return std::unexpected(payload.error());
    }
    // Check the binding before sending our static key and message 3 to an impostor.
    if (auto ec = check_remote_static()) {
      fail();
      return std::unexpected(ec);
    }
    auto m3 = hs_->write_message({});
    if (!m3) {
      fail();
      return std::unexpected(m3.error());
    }
    if (auto ec = finish(now_ms)) {
      fail();
      return std::unexpected(ec);
    }
    return std::optional<Bytes>{std::move(*m3)};
  }

  if (n == kMessage3Len && state_ == State::awaiting_message3) {
    if (auto payload = hs_->read_message(message); !payload) {
      fail();
      return std::unexpected(payload.error());
    }
    if (auto ec = finish(now_ms)) {
      fail();
      return std::unexpected(ec);
    }
    return std::optional<Bytes>{};
  }

  return err(Errc::invalid_argument);  // a well-sized message this state does not expect
}

std::expected<Bytes, std::error_code> NoiseSession::encrypt(ByteView plaintext) {
  if (state_ != State::established) return err(Errc::invalid_argument);
  if (send_nonce_ >= kMaxSendNonce) return err(Errc::too_large);
  const auto nonce = static_cast<std::uint32_t>(send_nonce_);
  Bytes out;
  out.reserve(kOverhead + plaintext.size());
  put_u32be(out, nonce);
  out.resize(kOverhead + plaintext.size());
  send_.set_nonce(nonce);
  send_.encrypt_into({}, plaintext, out.data() + kNoncePrefixLen);
  ++send_nonce_;
  return out;
}

std::expected<Bytes, std::error_code> NoiseSession::decrypt(ByteView wire) {
  if (state_ != State::established) return err(Errc::invalid_argument);
  if (wire.size() < kOverhead) return err(Errc::truncated);
  const std::uint64_t nonce = get_u32be(wire.data());
  auto bit = [](std::uint64_t v) { return std::pair{(v % kReplayWindow) / 64, v % 64}; };
  if (any_received_ && nonce <= highest_) {
    if (highest_ - nonce >= kReplayWindow) return err(Errc::replay);
    auto [w, b] = bit(nonce);
    if ((seen_[w] >> b) & 1u) return err(Errc::replay);
  }

  recv_.set_nonce(nonce);
  auto plain = recv_.decrypt({}, wire.subspan(kNoncePrefixLen));
  if (!plain) return std::unexpected(plain.error());

  if (!any_received_ || nonce > highest_) {
    // Slide the window forward: forget the slots of the nonces now more than 1023 behind.
    if (!any_received_ || nonce - highest_ >= kReplayWindow) {
      seen_ = {};
    } else {
      for (std::uint64_t v = highest_ + 1; v <= nonce; ++v) {
        auto [w, b] = bit(v);
        seen_[w] &= ~(std::uint64_t{1} << b);
      }
    }
    highest_ = nonce;
    any_received_ = true;
  }
  auto [w, b] = bit(nonce);
  seen_[w] |= std::uint64_t{1} << b;
  ++received_;
  return plain;
}

bool NoiseSession::handshake_timed_out(std::uint64_t now_ms, std::uint64_t initiator_timeout_ms,
                                       std::uint64_t responder_timeout_ms) const {
  if (!handshaking()) return false;
  const std::uint64_t elapsed = now_ms > handshake_started_ms_ ? now_ms - handshake_started_ms_ : 0;
  return elapsed >= (initiator_ ? initiator_timeout_ms : responder_timeout_ms);
}

bool NoiseSession::needs_rekey(std::uint64_t now_ms, std::uint64_t max_age_ms,
                               std::uint64_t max_messages) const {
  if (state_ != State::established) return false;
  const std::uint64_t age = now_ms > established_ms_ ? now_ms - established_ms_ : 0;
  return age >= max_age_ms || send_nonce_ + received_ >= max_messages ||
         send_nonce_ + max_messages >= kMaxSendNonce;
}

}  // namespace hyphae::bitchat
