#include "crypto/noise/seal.hpp"

#include <utility>

#include "core/error.hpp"

namespace hyphae::noise {
namespace {

constexpr Protocol kSealProtocol{Pattern::X, CipherKind::ChaChaPoly, HashKind::SHA256};

}  // namespace

std::expected<Bytes, std::error_code> seal(const KeyPair& sender_static,
                                           const std::array<std::uint8_t, 32>& recipient_pub,
                                           ByteView prologue, ByteView plaintext) {
  if (plaintext.size() > kMaxSealPlaintext) return std::unexpected(make_error_code(Errc::too_large));
  HandshakeConfig cfg{.protocol = kSealProtocol,
                      .initiator = true,
                      .prologue = Bytes(prologue.begin(), prologue.end()),
                      .s = sender_static,
                      .rs = recipient_pub};
  auto hs = HandshakeState::create(std::move(cfg));
  if (!hs) return std::unexpected(hs.error());
  auto msg = hs->write_message(plaintext);
  if (!msg) {
    if (msg.error() == Errc::handshake_failed)
      return std::unexpected(make_error_code(Errc::invalid_argument));
    return std::unexpected(msg.error());
  }
  return msg;
}

std::expected<Opened, std::error_code> open(const KeyPair& recipient_static, ByteView prologue,
                                            ByteView sealed) {
  HandshakeConfig cfg{.protocol = kSealProtocol,
                      .initiator = false,
                      .prologue = Bytes(prologue.begin(), prologue.end()),
                      .s = recipient_static};
  auto hs = HandshakeState::create(std::move(cfg));
  if (!hs) return std::unexpected(make_error_code(Errc::bad_seal));
  auto payload = hs->read_message(sealed);
  if (!payload || !hs->is_complete() || !hs->has_remote_static())
    return std::unexpected(make_error_code(Errc::bad_seal));
  return Opened{hs->remote_static(), std::move(*payload)};
}

}  // namespace hyphae::noise
