// SelfSignedCert: an ECDSA P-256 key and a self-signed X.509 certificate made in memory with
// OpenSSL, for TLS listeners that authenticate peers by other means (the WebSocket transport's
// wss:// listener, whose links run Noise inside) and for DTLS, whose certificate a peer pins by the
// SHA-256 fingerprint. Plain values: copy freely; the function is thread-safe.
#pragma once

#include <expected>
#include <string>

namespace hyphae::net {

struct SelfSignedCert {
  std::string cert_pem;
  std::string key_pem;
  // SHA-256 over the certificate's DER, as SDP writes it: "AB:CD:...", 32 upper-case hex pairs.
  std::string fingerprint_sha256;
};

// A fresh key and certificate with subject CN=`common_name`, valid from one day ago for `days`.
std::expected<SelfSignedCert, std::string> make_self_signed_cert(const std::string& common_name,
                                                                 int days = 30);

// The SDP-style SHA-256 fingerprint of a PEM certificate.
std::expected<std::string, std::string> certificate_fingerprint(const std::string& cert_pem);

}  // namespace hyphae::net
