// Fuzz target: an established bitchat::NoiseSession fed attacker bytes on decrypt. Two sessions
// handshake in-process with fixed keys (static and ephemeral), so every run has the same
// transport keys and the seed corpus can hold real ciphertexts. The input is a sequence of
// records [op (1)][length (2, big-endian)][bytes]; op % 4:
//   0  the bytes as a wire message to the responder (raw attacker input, or a real ciphertext)
//   1  the initiator encrypts bytes[4..] at nonce bytes[0..4) (big-endian) and delivers it
//   2  delivers again the message made by op 1 number bytes[0] (modulo how many there are)
//   3  delivers that message with one bit flipped (bit bytes[1..3) modulo its length in bits)
// A model of the 1024-message replay window (highest accepted nonce, the accepted nonces) says
// what each delivery must give: replay for a nonce already accepted or 1024 behind the highest,
// truncated below 20 bytes, otherwise the plaintext for a real message and decrypt_failed for
// anything else. A flipped message never decrypts; the received count matches the model.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <set>
#include <vector>

#include "bitchat/noise_session.hpp"
#include "core/error.hpp"

using namespace hyphae;
using namespace hyphae::bitchat;

namespace {

constexpr std::uint64_t kNowMs = 1'767'225'600'000;

noise::KeyPair key(std::uint8_t fill) {
  std::array<std::uint8_t, 32> priv{};
  priv.fill(fill);
  return noise::KeyPair::from_private(priv);
}

struct Sessions {
  NoiseSession initiator, responder;
};

// The same established pair every time: fixed static and ephemeral keys.
std::optional<Sessions> established() {
  const auto si = key(0x11), sr = key(0x22);
  Sessions s{NoiseSession(si, NoiseSession::peer_id_of(sr.pub)),
             NoiseSession(sr, NoiseSession::peer_id_of(si.pub))};
  s.initiator.set_ephemeral_for_testing(key(0x33));
  s.responder.set_ephemeral_for_testing(key(0x44));
  auto m1 = s.initiator.start_as_initiator(kNowMs);
  if (!m1) return std::nullopt;
  auto m2 = s.responder.on_handshake(*m1, kNowMs);
  if (!m2 || !*m2) return std::nullopt;
  auto m3 = s.initiator.on_handshake(**m2, kNowMs);
  if (!m3 || !*m3) return std::nullopt;
  auto done = s.responder.on_handshake(**m3, kNowMs);
  if (!done || !s.initiator.established() || !s.responder.established()) return std::nullopt;
  return s;
}

struct Window {
  bool any = false;
  std::uint64_t highest = 0;
  std::set<std::uint64_t> accepted;
  std::uint64_t count = 0;

  bool replay(std::uint64_t n) const {
    return any && n <= highest && (highest - n >= NoiseSession::kReplayWindow || accepted.contains(n));
  }
  void accept(std::uint64_t n) {
    accepted.insert(n);
    ++count;
    if (!any || n > highest) {
      highest = n;
      any = true;
    }
  }
};

std::uint64_t nonce_of(ByteView wire) {
  return std::uint64_t{wire[0]} << 24 | std::uint64_t{wire[1]} << 16 | std::uint64_t{wire[2]} << 8 | wire[3];
}

// Delivers `wire` and checks the outcome against the model. `plain`: what a real message carries.
void deliver(NoiseSession& s, Window& w, ByteView wire, const std::optional<Bytes>& plain,
             bool must_fail = false) {
  auto got = s.decrypt(wire);
  if (wire.size() < NoiseSession::kOverhead) {
    if (got || got.error() != Errc::truncated) std::abort();
    return;
  }
  const auto n = nonce_of(wire);
  if (w.replay(n)) {
    if (got || got.error() != Errc::replay) std::abort();
    return;
  }
  if (!got) {
    if (got.error() != Errc::decrypt_failed || plain) std::abort();  // a real message decrypts
    return;
  }
  if (must_fail || (plain && *got != *plain)) std::abort();
  w.accept(n);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto sessions = established();
  if (!sessions) std::abort();
  auto& [initiator, responder] = *sessions;
  Window window;
  std::vector<std::pair<Bytes, Bytes>> made;  // (wire, plaintext) from op 1
  std::size_t pos = 0, ops = 0;
  while (pos + 3 <= size && ops < 512) {
    const std::uint8_t op = data[pos];
    const std::size_t len = std::size_t{data[pos + 1]} << 8 | data[pos + 2];
    pos += 3;
    if (len > size - pos) break;
    const ByteView body(data + pos, len);
    pos += len;
    ++ops;
    switch (op % 4) {
      case 0:
        deliver(responder, window, body, std::nullopt);
        break;
      case 1: {
        if (body.size() < 4) break;
        initiator.set_send_nonce_for_testing(nonce_of(body));
        const Bytes plain(body.begin() + 4, body.end());
        auto wire = initiator.encrypt(plain);
        if (!wire) {
          if (nonce_of(body) < NoiseSession::kMaxSendNonce) std::abort();
          break;
        }
        if (wire->size() != plain.size() + NoiseSession::kOverhead) std::abort();
        deliver(responder, window, *wire, plain);
        if (made.size() < 64) made.emplace_back(std::move(*wire), plain);
        break;
      }
      case 2:
        if (made.empty() || body.empty()) break;
        {
          const auto& [wire, plain] = made[body[0] % made.size()];
          deliver(responder, window, wire, plain);
        }
        break;
      case 3:
        if (made.empty() || body.size() < 3) break;
        {
          Bytes wire = made[body[0] % made.size()].first;
          const std::size_t bit = (std::size_t{body[1]} << 8 | body[2]) % (wire.size() * 8);
          wire[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
          deliver(responder, window, wire, std::nullopt, /*must_fail=*/true);
        }
        break;
    }
  }
  if (responder.messages_received() != window.count) std::abort();
  return 0;
}
