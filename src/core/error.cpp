#include "core/error.hpp"

#include <string>

namespace hyphae {
namespace {

class HyphaeCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "hyphae"; }
  std::string message(int code) const override {
    switch (static_cast<Errc>(code)) {
      case Errc::ok:
        return "ok";
      case Errc::malformed:
        return "malformed input";
      case Errc::truncated:
        return "input truncated";
      case Errc::too_large:
        return "too large";
      case Errc::bad_signature:
        return "bad signature";
      case Errc::bad_seal:
        return "sealed payload cannot be opened";
      case Errc::decrypt_failed:
        return "decryption failed";
      case Errc::stale:
        return "timestamp outside the accepted window";
      case Errc::replay:
        return "replayed message id";
      case Errc::handshake_failed:
        return "handshake failed";
      case Errc::peer_id_mismatch:
        return "key does not match the peer id";
      case Errc::no_link:
        return "no live link to the peer";
      case Errc::unknown_peer:
        return "unknown peer";
      case Errc::not_found:
        return "not found";
      case Errc::invalid_argument:
        return "invalid argument";
      case Errc::store_failed:
        return "store write or read failed";
      case Errc::insecure_key_file:
        return "key file permissions are wider than 0600";
      case Errc::closed:
        return "closed";
      case Errc::timeout:
        return "timed out";
      case Errc::backpressure:
        return "queue full";
      case Errc::unsupported:
        return "unsupported";
    }
    return "unknown hyphae error";
  }
};

}  // namespace

const std::error_category& hyphae_category() noexcept {
  static const HyphaeCategory category;
  return category;
}

}  // namespace hyphae
