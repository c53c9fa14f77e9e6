#include "crypto/noise/symmetric_state.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"

namespace hyphae::noise::detail {
namespace {

// HASHLEN = 64 keys are truncated to 32 bytes (spec 5.2, MixKey / Split).
std::array<std::uint8_t, kKeyLen> truncate_key(const Digest& d) {
  std::array<std::uint8_t, kKeyLen> k{};
  std::copy_n(d.begin(), kKeyLen, k.begin());
  return k;
}

}  // namespace

SymmetricState::SymmetricState(const Protocol& protocol)
    : hash_(protocol.hash), cipher_(protocol.cipher), hash_len_(detail::hash_len(protocol.hash)) {
  const std::string name = protocol.name();
  if (name.size() <= hash_len_) {
    std::copy(name.begin(), name.end(), h_.begin());  // zero padded
  } else {
    Hasher hs(hash_);
    hs.update(as_bytes(name));
    hs.final(h_.data());
  }
  ck_ = h_;
}

SymmetricState::~SymmetricState() {
  sodium_memzero(ck_.data(), ck_.size());
  sodium_memzero(h_.data(), h_.size());
}

SymmetricState::SymmetricState(SymmetricState&& other) noexcept
    : hash_(other.hash_),
      cipher_(other.cipher_),
      hash_len_(other.hash_len_),
      ck_(other.ck_),
      h_(other.h_),
      cs_(std::move(other.cs_)) {
  sodium_memzero(other.ck_.data(), other.ck_.size());
}

SymmetricState& SymmetricState::operator=(SymmetricState&& other) noexcept {
  if (this == &other) return *this;
  hash_ = other.hash_;
  cipher_ = other.cipher_;
  hash_len_ = other.hash_len_;
  ck_ = other.ck_;
  h_ = other.h_;
  cs_ = std::move(other.cs_);
  sodium_memzero(other.ck_.data(), other.ck_.size());
  return *this;
}

void SymmetricState::mix_key(ByteView ikm) {
  Digest out1{}, out2{};
  hkdf(hash_, ByteView(ck_.data(), hash_len_), ikm, out1.data(), out2.data(), nullptr);
  ck_ = out1;
  auto k = truncate_key(out2);
  cs_ = CipherState(cipher_, k);
  sodium_memzero(out1.data(), out1.size());
  sodium_memzero(out2.data(), out2.size());
  sodium_memzero(k.data(), k.size());
}

void SymmetricState::mix_hash(ByteView data) {
  Hasher hs(hash_);
  hs.update(ByteView(h_.data(), hash_len_));
  hs.update(data);
  hs.final(h_.data());
}

void SymmetricState::mix_key_and_hash(ByteView ikm) {
  Digest out1{}, out2{}, out3{};
  hkdf(hash_, ByteView(ck_.data(), hash_len_), ikm, out1.data(), out2.data(), out3.data());
  ck_ = out1;
  mix_hash(ByteView(out2.data(), hash_len_));
  auto k = truncate_key(out3);
  cs_ = CipherState(cipher_, k);
  sodium_memzero(out1.data(), out1.size());
  sodium_memzero(out2.data(), out2.size());
  sodium_memzero(out3.data(), out3.size());
  sodium_memzero(k.data(), k.size());
}

void SymmetricState::encrypt_and_hash(ByteView plaintext, Bytes& out) {
  const std::size_t start = out.size();
  out.resize(start + plaintext.size() + (cs_.has_key() ? kTagLen : 0));
  const std::size_t n = cs_.encrypt_into(h(), plaintext, out.data() + start);
  out.resize(start + n);
  mix_hash(ByteView(out.data() + start, n));
}

std::expected<void, std::error_code> SymmetricState::decrypt_and_hash(ByteView ciphertext, Bytes& out) {
  if (cs_.has_key() && ciphertext.size() < kTagLen) return std::unexpected(make_error_code(Errc::truncated));
  out.resize(cs_.has_key() ? ciphertext.size() - kTagLen : ciphertext.size());
  auto n = cs_.decrypt_into(h(), ciphertext, out.data());
  if (!n) return std::unexpected(n.error());
  out.resize(*n);
  mix_hash(ciphertext);
  return {};
}

std::pair<CipherState, CipherState> SymmetricState::split() {
  Digest out1{}, out2{};
  hkdf(hash_, ByteView(ck_.data(), hash_len_), ByteView{}, out1.data(), out2.data(), nullptr);
  auto k1 = truncate_key(out1);
  auto k2 = truncate_key(out2);
  std::pair<CipherState, CipherState> result{CipherState(cipher_, k1), CipherState(cipher_, k2)};
  sodium_memzero(out1.data(), out1.size());
  sodium_memzero(out2.data(), out2.size());
  sodium_memzero(k1.data(), k1.size());
  sodium_memzero(k2.data(), k2.size());
  sodium_memzero(ck_.data(), ck_.size());
  cs_ = CipherState();
  return result;
}

}  // namespace hyphae::noise::detail
