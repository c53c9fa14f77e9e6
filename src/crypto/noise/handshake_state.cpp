#include "crypto/noise/handshake_state.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string_view>

#include "core/error.hpp"
#include "crypto/noise/primitives.hpp"

namespace hyphae::noise {
namespace {

std::unexpected<std::error_code> err(Errc e) {
  return std::unexpected(make_error_code(e));
}

std::optional<Token> parse_token(std::string_view t) {
  if (t == "e") return Token::e;
  if (t == "s") return Token::s;
  if (t == "ee") return Token::ee;
  if (t == "es") return Token::es;
  if (t == "se") return Token::se;
  if (t == "ss") return Token::ss;
  if (t == "psk") return Token::psk;
  return std::nullopt;
}

// "e,es|e,ee" -> {{e, es}, {e, ee}}; the table is a compile-time constant, so tokens are valid.
std::vector<std::vector<Token>> parse_messages(std::string_view spec) {
  std::vector<std::vector<Token>> msgs(1);
  std::size_t start = 0;
  for (std::size_t i = 0; i <= spec.size(); ++i) {
    if (i < spec.size() && spec[i] != ',' && spec[i] != '|') continue;
    if (auto t = parse_token(spec.substr(start, i - start))) msgs.back().push_back(*t);
    if (i < spec.size() && spec[i] == '|') msgs.emplace_back();
    start = i + 1;
  }
  return msgs;
}

}  // namespace

KeyPair::~KeyPair() {
  sodium_memzero(priv.data(), priv.size());
}

KeyPair KeyPair::generate() {
  detail::ensure_sodium();
  std::array<std::uint8_t, 32> priv{};
  randombytes_buf(priv.data(), priv.size());
  KeyPair kp = from_private(priv);
  sodium_memzero(priv.data(), priv.size());
  return kp;
}

KeyPair KeyPair::from_private(const std::array<std::uint8_t, 32>& priv) {
  detail::ensure_sodium();
  KeyPair kp;
  kp.priv = priv;
  crypto_scalarmult_base(kp.pub.data(), kp.priv.data());
  return kp;
}

std::expected<HandshakeState, std::error_code> HandshakeState::create(HandshakeConfig config) {
  detail::ensure_sodium();
  // The by-value config holds copies of secrets; wipe them whatever the outcome.
  struct Wipe {
    HandshakeConfig& c;
    ~Wipe() {
      if (c.s) sodium_memzero(c.s->priv.data(), c.s->priv.size());
      if (c.e) sodium_memzero(c.e->priv.data(), c.e->priv.size());
      for (auto& k : c.psks) sodium_memzero(k.data(), k.size());
    }
  } wipe{config};
  const Protocol& p = config.protocol;
  if (static_cast<std::size_t>(p.pattern) >= kPatternCount) return err(Errc::invalid_argument);
  if (!cipher_available(p.cipher)) return err(Errc::unsupported);
  const PatternSpec& spec = pattern_spec(p.pattern);
  auto msgs = parse_messages(spec.messages);

  // psk modifiers: psk0 goes first in message 1, pskN (N >= 1) last in message N.
  if ((p.psk_modifiers >> (msgs.size() + 1)) != 0) return err(Errc::invalid_argument);
  if (p.psk_modifiers & 1u) msgs[0].insert(msgs[0].begin(), Token::psk);
  for (std::size_t n = 1; n <= msgs.size(); ++n)
    if (p.psk_modifiers & (1u << n)) msgs[n - 1].push_back(Token::psk);
  if (config.psks.size() != static_cast<std::size_t>(std::popcount(p.psk_modifiers)))
    return err(Errc::invalid_argument);

  const bool local_pre_s = (config.initiator ? spec.pre_initiator : spec.pre_responder) == "s";
  const bool remote_pre_s = (config.initiator ? spec.pre_responder : spec.pre_initiator) == "s";
  bool local_sends_s = false;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const bool ours = (i % 2 == 0) == config.initiator;
    if (ours && std::find(msgs[i].begin(), msgs[i].end(), Token::s) != msgs[i].end()) local_sends_s = true;
  }
  if ((local_pre_s || local_sends_s) && !config.s) return err(Errc::invalid_argument);
  if (remote_pre_s != config.rs.has_value()) return err(Errc::invalid_argument);

  HandshakeState hs(config, std::move(msgs));
  hs.ss_.mix_hash(config.prologue);
  // Pre-message public keys: the initiator's first, then the responder's.
  if (spec.pre_initiator == "s") hs.ss_.mix_hash(config.initiator ? ByteView(hs.s_->pub) : ByteView(hs.rs_));
  if (spec.pre_responder == "s") hs.ss_.mix_hash(config.initiator ? ByteView(hs.rs_) : ByteView(hs.s_->pub));
  return hs;
}

HandshakeState::HandshakeState(const HandshakeConfig& config, std::vector<std::vector<Token>> msgs)
    : protocol_(config.protocol),
      initiator_(config.initiator),
      psk_mode_(config.protocol.psk_modifiers != 0),
      ss_(config.protocol),
      msgs_(std::move(msgs)),
      s_(config.s),
      e_(config.e),
      psks_(config.psks) {
  if (config.rs) {
    rs_ = *config.rs;
    has_rs_ = true;
  }
}

HandshakeState::~HandshakeState() {
  if (s_) sodium_memzero(s_->priv.data(), s_->priv.size());
  if (e_) sodium_memzero(e_->priv.data(), e_->priv.size());
  for (auto& k : psks_) sodium_memzero(k.data(), k.size());
}

bool HandshakeState::mix_dh(Token t) {
  const KeyPair* local = nullptr;
  const std::array<std::uint8_t, 32>* remote = nullptr;
  const bool re_ok = has_re_, rs_ok = has_rs_;
  switch (t) {
    case Token::ee:
      local = e_ ? &*e_ : nullptr;
      remote = re_ok ? &re_ : nullptr;
      break;
    case Token::es:  // initiator's e with responder's s
      local = initiator_ ? (e_ ? &*e_ : nullptr) : (s_ ? &*s_ : nullptr);
      remote = initiator_ ? (rs_ok ? &rs_ : nullptr) : (re_ok ? &re_ : nullptr);
      break;
    case Token::se:  // initiator's s with responder's e
      local = initiator_ ? (s_ ? &*s_ : nullptr) : (e_ ? &*e_ : nullptr);
      remote = initiator_ ? (re_ok ? &re_ : nullptr) : (rs_ok ? &rs_ : nullptr);
      break;
    case Token::ss:
      local = s_ ? &*s_ : nullptr;
      remote = rs_ok ? &rs_ : nullptr;
      break;
    default:
      return false;
  }
  if (local == nullptr || remote == nullptr) return false;
  std::array<std::uint8_t, 32> shared{};
  const bool ok = detail::dh(local->priv, *remote, shared);
  if (ok) ss_.mix_key(shared);
  sodium_memzero(shared.data(), shared.size());
  return ok;
}

std::expected<Bytes, std::error_code> HandshakeState::write_message(ByteView payload) {
  if (failed_) return err(Errc::handshake_failed);
  if (!my_turn()) return err(Errc::invalid_argument);
  const auto& tokens = msgs_[idx_];

  // Exact size first, so an oversized payload is refused before any state changes.
  std::size_t size = 0;
  bool keyed = ss_.has_key();
  for (Token t : tokens) {
    if (t == Token::e) {
      size += detail::kDhLen;
      keyed = keyed || psk_mode_;
    } else if (t == Token::s) {
      size += detail::kDhLen + (keyed ? detail::kTagLen : 0);
    } else {
      keyed = true;
    }
  }
  if (payload.size() > kMaxMessageLen) return err(Errc::too_large);
  size += payload.size() + (keyed ? detail::kTagLen : 0);
  if (size > kMaxMessageLen) return err(Errc::too_large);

  Bytes out;
  out.reserve(size);
  for (Token t : tokens) {
    switch (t) {
      case Token::e:
        if (!e_) e_ = KeyPair::generate();
        append(out, e_->pub);
        ss_.mix_hash(e_->pub);
        if (psk_mode_) ss_.mix_key(e_->pub);
        break;
      case Token::s:
        ss_.encrypt_and_hash(s_->pub, out);
        break;
      case Token::psk:
        ss_.mix_key_and_hash(psks_[psk_idx_++]);
        break;
      default:
        if (!mix_dh(t)) {
          failed_ = true;
          return err(Errc::handshake_failed);
        }
    }
  }
  ss_.encrypt_and_hash(payload, out);
  ++idx_;
  return out;
}

std::expected<Bytes, std::error_code> HandshakeState::read_message(ByteView message) {
  if (failed_) return err(Errc::handshake_failed);
  if (is_complete() || my_turn()) return err(Errc::invalid_argument);
  auto fail = [this](Errc e) {
    failed_ = true;
    return err(e);
  };
  if (message.size() > kMaxMessageLen) return fail(Errc::too_large);

  std::size_t pos = 0;
  for (Token t : msgs_[idx_]) {
    switch (t) {
      case Token::e: {
        if (message.size() - pos < detail::kDhLen) return fail(Errc::truncated);
        std::copy_n(message.begin() + static_cast<std::ptrdiff_t>(pos), detail::kDhLen, re_.begin());
        has_re_ = true;
        pos += detail::kDhLen;
        ss_.mix_hash(re_);
        if (psk_mode_) ss_.mix_key(re_);
        break;
      }
      case Token::s: {
        const std::size_t len = detail::kDhLen + (ss_.has_key() ? detail::kTagLen : 0);
        if (message.size() - pos < len) return fail(Errc::truncated);
        Bytes key;
        if (auto r = ss_.decrypt_and_hash(message.subspan(pos, len), key); !r)
          return fail(Errc::decrypt_failed);
        std::copy_n(key.begin(), detail::kDhLen, rs_.begin());
        has_rs_ = true;
        pos += len;
        break;
      }
      case Token::psk:
        ss_.mix_key_and_hash(psks_[psk_idx_++]);
        break;
      default:
        if (!mix_dh(t)) return fail(Errc::malformed);
    }
  }
  Bytes payload;
  if (auto r = ss_.decrypt_and_hash(message.subspan(pos), payload); !r)
    return fail(static_cast<Errc>(r.error().value()));
  ++idx_;
  return payload;
}

Bytes HandshakeState::handshake_hash() const {
  const ByteView h = ss_.h();
  return Bytes(h.begin(), h.end());
}

std::pair<CipherState, CipherState> HandshakeState::split() {
  if (!is_complete() || failed_) throw std::logic_error("noise: split() before the handshake completed");
  if (split_done_) throw std::logic_error("noise: split() called twice");
  split_done_ = true;
  return ss_.split();
}

}  // namespace hyphae::noise
