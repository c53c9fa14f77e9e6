#include "net/self_signed_cert.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <array>
#include <memory>

namespace hyphae::net {

namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

std::string openssl_error(const char* what) {
  std::array<char, 256> text{};
  ERR_error_string_n(ERR_get_error(), text.data(), text.size());
  return std::string(what) + ": " + text.data();
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string{};
}

std::expected<std::string, std::string> fingerprint_of(X509* cert) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (X509_digest(cert, EVP_sha256(), md.data(), &md_len) != 1)
    return std::unexpected(openssl_error("X509_digest"));
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < md_len; ++i) {
    if (i) out.push_back(':');
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

}  // namespace

std::expected<SelfSignedCert, std::string> make_self_signed_cert(const std::string& common_name, int days) {
  PKeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return std::unexpected(openssl_error("EVP_EC_gen"));
  X509Ptr cert(X509_new());
  if (!cert) return std::unexpected(openssl_error("X509_new"));
  X509_set_version(cert.get(), 2);
  std::array<unsigned char, 8> serial{};
  if (RAND_bytes(serial.data(), static_cast<int>(serial.size())) != 1)
    return std::unexpected(openssl_error("RAND_bytes"));
  serial[0] &= 0x7f;  // a positive serial number
  std::uint64_t serial_value = 0;
  for (auto b : serial) serial_value = (serial_value << 8) | b;
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial_value | 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -86400L);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * days);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return std::unexpected(openssl_error("X509_sign"));

  SelfSignedCert out;
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio) return std::unexpected(openssl_error("BIO_new"));
  if (PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1)
    return std::unexpected(openssl_error("PEM_write_bio_X509"));
  if (PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return std::unexpected(openssl_error("PEM_write_bio_PrivateKey"));
  out.cert_pem = bio_text(cert_bio.get());
  out.key_pem = bio_text(key_bio.get());
  auto fingerprint = fingerprint_of(cert.get());
  if (!fingerprint) return std::unexpected(fingerprint.error());
  out.fingerprint_sha256 = std::move(*fingerprint);
  return out;
}

std::expected<std::string, std::string> certificate_fingerprint(const std::string& cert_pem) {
  BioPtr bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  if (!bio) return std::unexpected(openssl_error("BIO_new_mem_buf"));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return std::unexpected(openssl_error("PEM_read_bio_X509"));
  return fingerprint_of(cert.get());
}

}  // namespace hyphae::net
