#include "webrtc/dtls_transport.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <cstring>

#include "core/error.hpp"
#include "net/self_signed_cert.hpp"

namespace hyphae::webrtc {

namespace {

// ECDHE with AES-GCM or ChaCha20 first, as browsers offer them; ECDSA for our certificate, RSA
// for a peer that has one.
constexpr const char* kCipherList =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";
constexpr std::size_t kMaxRecordBytes = 16384 + 2048;

std::string openssl_error_text() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    std::array<char, 256> text{};
    ERR_error_string_n(e, text.data(), text.size());
    if (!out.empty()) out += "; ";
    out += text.data();
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

int accept_any_certificate(int, X509_STORE_CTX*) {
  return 1;
}  // checked by fingerprint after

}  // namespace

std::expected<std::shared_ptr<DtlsIdentity>, std::error_code> DtlsIdentity::generate() {
  auto cert = net::make_self_signed_cert("hyphae-webrtc");
  if (!cert) return std::unexpected(make_error_code(Errc::handshake_failed));
  auto fingerprint = parse_fingerprint(cert->fingerprint_sha256);
  if (!fingerprint) return std::unexpected(fingerprint.error());
  std::shared_ptr<DtlsIdentity> identity(new DtlsIdentity());
  BIO* cert_bio = BIO_new_mem_buf(cert->cert_pem.data(), static_cast<int>(cert->cert_pem.size()));
  BIO* key_bio = BIO_new_mem_buf(cert->key_pem.data(), static_cast<int>(cert->key_pem.size()));
  if (cert_bio) identity->certificate_ = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  if (key_bio) identity->key_ = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(cert_bio);
  BIO_free(key_bio);
  if (!identity->certificate_ || !identity->key_)
    return std::unexpected(make_error_code(Errc::handshake_failed));
  identity->fingerprint_ = *fingerprint;
  return identity;
}

DtlsIdentity::~DtlsIdentity() {
  X509_free(certificate_);
  EVP_PKEY_free(key_);
}

DtlsTransport::DtlsTransport(Role role, const Fingerprint& remote_fingerprint, Callbacks callbacks)
    : role_(role), remote_fingerprint_(remote_fingerprint), callbacks_(std::move(callbacks)) {}

std::expected<std::unique_ptr<DtlsTransport>, std::error_code> DtlsTransport::create(
    std::shared_ptr<DtlsIdentity> identity, Role role, const Fingerprint& remote_fingerprint,
    Callbacks callbacks, std::size_t mtu) {
  auto failed = [] { return std::unexpected(make_error_code(Errc::handshake_failed)); };
  // Built once, immutable after, shared by every session.
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "hyphae-dtls-out");
    if (m) {
      BIO_meth_set_write(m, &DtlsTransport::bio_write);
      BIO_meth_set_ctrl(m, &DtlsTransport::bio_ctrl);
    }
    return m;
  }();
  if (!method || !identity) return failed();

  std::unique_ptr<DtlsTransport> t(new DtlsTransport(role, remote_fingerprint, std::move(callbacks)));
  t->identity_ = std::move(identity);
  ERR_clear_error();
  t->ctx_ = SSL_CTX_new(DTLS_method());
  if (!t->ctx_) return failed();
  SSL_CTX_set_min_proto_version(t->ctx_, DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(t->ctx_, DTLS1_2_VERSION);
  if (SSL_CTX_use_certificate(t->ctx_, t->identity_->certificate_) != 1 ||
      SSL_CTX_use_PrivateKey(t->ctx_, t->identity_->key_) != 1 || SSL_CTX_check_private_key(t->ctx_) != 1 ||
      SSL_CTX_set_cipher_list(t->ctx_, kCipherList) != 1 ||
      SSL_CTX_set1_groups_list(t->ctx_, "X25519:P-256:P-384") != 1)
    return failed();
  SSL_CTX_set_verify(t->ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, &accept_any_certificate);
  SSL_CTX_set_options(t->ctx_, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(t->ctx_, SSL_SESS_CACHE_OFF);

  t->ssl_ = SSL_new(t->ctx_);
  if (!t->ssl_) return failed();
  t->incoming_ = BIO_new(BIO_s_mem());
  BIO* outgoing = BIO_new(method);
  if (!t->incoming_ || !outgoing) {
    BIO_free(t->incoming_);
    BIO_free(outgoing);
    t->incoming_ = nullptr;
    return failed();
  }
  BIO_set_mem_eof_return(t->incoming_, -1);  // empty means "wait", not end of stream
  BIO_set_data(outgoing, t.get());
  BIO_set_init(outgoing, 1);
  SSL_set_bio(t->ssl_, t->incoming_, outgoing);
  SSL_set_mtu(t->ssl_, static_cast<long>(mtu));
  if (role == Role::client) {
    SSL_set_connect_state(t->ssl_);
  } else {
    SSL_set_accept_state(t->ssl_);
  }
  return t;
}

DtlsTransport::~DtlsTransport() {
  if (ssl_) SSL_free(ssl_);  // frees both BIOs
  if (ctx_) SSL_CTX_free(ctx_);
}

int DtlsTransport::bio_write(BIO* bio, const char* data, int size) {
  auto* self = static_cast<DtlsTransport*>(BIO_get_data(bio));
  if (size <= 0) return 0;
  if (self && self->callbacks_.send_datagram && self->state_ != State::closed)
    self->callbacks_.send_datagram(
        ByteView(reinterpret_cast<const std::uint8_t*>(data), static_cast<std::size_t>(size)));
  return size;  // a datagram is sent or lost, never half written
}

long DtlsTransport::bio_ctrl(BIO*, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING:
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
    default:
      return 0;
  }
}

void DtlsTransport::start() {
  if (state_ != State::idle) return;
  state_ = State::handshaking;
  continue_handshake();
}

void DtlsTransport::handle_datagram(ByteView datagram) {
  if (state_ == State::failed || state_ == State::closed) return;
  if (datagram.empty() || datagram.size() > kMaxRecordBytes) return;
  if (state_ == State::idle) {
    // The server learns about the session from the ClientHello; a client never waits for one.
    if (role_ == Role::client) return;
    state_ = State::handshaking;
  }
  BIO_reset(incoming_);  // one datagram at a time: leftovers of a bad one go
  BIO_write(incoming_, datagram.data(), static_cast<int>(datagram.size()));
  if (state_ == State::handshaking) {
    continue_handshake();
  } else {
    read_application_data();
  }
}

void DtlsTransport::continue_handshake() {
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r != 1) {
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
    fail("DTLS handshake: " + openssl_error_text());
    return;
  }
  X509* peer = SSL_get1_peer_certificate(ssl_);
  if (!peer) {
    fail("DTLS: the peer sent no certificate");
    return;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_len = 0;
  const bool digested = X509_digest(peer, EVP_sha256(), digest.data(), &digest_len) == 1;
  X509_free(peer);
  if (!digested || digest_len != remote_fingerprint_.size() ||
      std::memcmp(digest.data(), remote_fingerprint_.data(), digest_len) != 0) {
    fail("DTLS: the peer's certificate does not match the SDP fingerprint");
    return;
  }
  state_ = State::connected;
  if (callbacks_.on_connected) callbacks_.on_connected();
  if (state_ == State::connected) read_application_data();  // data that came with the last flight
}

void DtlsTransport::read_application_data() {
  std::array<std::uint8_t, kMaxRecordBytes> buffer;
  while (state_ == State::connected) {
    ERR_clear_error();
    const int n = SSL_read(ssl_, buffer.data(), static_cast<int>(buffer.size()));
    if (n > 0) {
      if (callbacks_.on_data) callbacks_.on_data(ByteView(buffer.data(), static_cast<std::size_t>(n)));
      continue;
    }
    const int e = SSL_get_error(ssl_, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
    if (e == SSL_ERROR_ZERO_RETURN) {
      state_ = State::closed;
      if (callbacks_.on_closed) callbacks_.on_closed();
      return;
    }
    // A record that does not decrypt is dropped by DTLS itself; anything else ends the session.
    fail("DTLS read: " + openssl_error_text());
    return;
  }
}

bool DtlsTransport::send(ByteView data) {
  if (state_ != State::connected || data.empty() || data.size() > 16384) return false;
  ERR_clear_error();
  const int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
  if (n == static_cast<int>(data.size())) return true;
  ERR_clear_error();
  return false;
}

std::optional<std::chrono::milliseconds> DtlsTransport::next_timeout() const {
  if (state_ != State::handshaking) return std::nullopt;
  timeval tv{};
  if (DTLSv1_get_timeout(ssl_, &tv) != 1) return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(tv.tv_sec) * 1000 + tv.tv_usec / 1000);
}

void DtlsTransport::handle_timeout() {
  if (state_ != State::handshaking) return;
  ERR_clear_error();
  if (DTLSv1_handle_timeout(ssl_) < 0) fail("DTLS: handshake timed out");
}

void DtlsTransport::close() {
  if (state_ == State::connected) {
    ERR_clear_error();
    SSL_shutdown(ssl_);
  }
  state_ = State::closed;
}

void DtlsTransport::fail(std::string reason) {
  if (state_ == State::failed || state_ == State::closed) return;
  state_ = State::failed;
  if (callbacks_.on_failed) callbacks_.on_failed(std::move(reason));
}

}  // namespace hyphae::webrtc
