// DatagramSealer: per-direction keys from the handshake hash, counter nonces (see the header).
#include "transport/stream/datagram_sealer.hpp"

#include <sodium.h>

#include <string_view>

namespace hyphae::stream {

namespace {

void derive(std::array<std::uint8_t, 32>& key, ByteView hash, std::string_view label) {
  crypto_generichash(key.data(), key.size(), reinterpret_cast<const unsigned char*>(label.data()),
                     label.size(), hash.data(), hash.size());
}

void put_counter(std::uint8_t* out, std::uint64_t counter) {
  for (int i = 7; i >= 0; --i, counter >>= 8) out[i] = static_cast<std::uint8_t>(counter);
}

std::array<std::uint8_t, 12> nonce_of(std::uint64_t counter) {
  std::array<std::uint8_t, 12> nonce{};
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<std::uint8_t>(counter >> (8 * i));
  return nonce;
}

}  // namespace

DatagramSealer::DatagramSealer(ByteView handshake_hash, bool initiator) {
  constexpr std::string_view kI2R = "hyphae-datagram-v1 i2r", kR2I = "hyphae-datagram-v1 r2i";
  derive(initiator ? send_key_ : recv_key_, handshake_hash, kI2R);
  derive(initiator ? recv_key_ : send_key_, handshake_hash, kR2I);
}

DatagramSealer::~DatagramSealer() {
  sodium_memzero(send_key_.data(), send_key_.size());
  sodium_memzero(recv_key_.data(), recv_key_.size());
}

Bytes DatagramSealer::seal(ByteView plaintext) {
  const std::uint64_t counter = ++send_counter_;
  Bytes out(8 + plaintext.size() + 16);
  put_counter(out.data(), counter);
  const auto nonce = nonce_of(counter);
  unsigned long long written = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out.data() + 8, &written, plaintext.data(), plaintext.size(),
                                            out.data(), 8, nullptr, nonce.data(), send_key_.data());
  return out;
}

std::optional<Bytes> DatagramSealer::open(ByteView datagram) {
  if (datagram.size() < kOverhead) {
    ++dropped_;
    return std::nullopt;
  }
  std::uint64_t counter = 0;
  for (int i = 0; i < 8; ++i) counter = (counter << 8) | datagram[i];
  if (counter <= last_received_) {
    ++dropped_;
    return std::nullopt;
  }
  const auto nonce = nonce_of(counter);
  Bytes plain(datagram.size() - kOverhead);
  unsigned long long length = 0;
  if (crypto_aead_chacha20poly1305_ietf_decrypt(plain.data(), &length, nullptr, datagram.data() + 8,
                                                datagram.size() - 8, datagram.data(), 8, nonce.data(),
                                                recv_key_.data()) != 0) {
    ++dropped_;
    return std::nullopt;
  }
  last_received_ = counter;
  return plain;
}

}  // namespace hyphae::stream
