// DtlsTransport: one DTLS 1.2 session (OpenSSL 3) over datagrams that someone else carries (the
// ICE transport), as WebRTC uses it (RFC 8827, RFC 8842): both ends present self-signed
// certificates and each checks the other's against the SHA-256 fingerprint from the SDP, after
// the handshake. Each write OpenSSL makes goes out as one datagram through a BIO of our own (a
// memory BIO would glue a flight into one oversized datagram); handshake datagrams are at most
// `mtu` bytes. Datagrams come in one at a time through a memory BIO. Sans-IO apart from OpenSSL:
// the owner calls handle_datagram() with what arrived, asks next_timeout() after each call and
// calls handle_timeout() when it passes. send_datagram runs inside OpenSSL calls; the other
// callbacks run between them, so they may call send().
// Thread-safety: none; owned by one PeerConnection and used on its runtime thread. Callbacks may
// not destroy the transport.
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "core/bytes.hpp"
#include "webrtc/sdp.hpp"

namespace hyphae::webrtc {

// Our certificate and key, loaded once per PeerConnection and shared by its DTLS session.
class DtlsIdentity {
 public:
  // A fresh ECDSA P-256 key and self-signed certificate.
  static std::expected<std::shared_ptr<DtlsIdentity>, std::error_code> generate();
  ~DtlsIdentity();
  const Fingerprint& fingerprint() const { return fingerprint_; }

 private:
  friend class DtlsTransport;
  DtlsIdentity() = default;
  X509* certificate_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  Fingerprint fingerprint_{};
};

class DtlsTransport {
 public:
  enum class Role { client, server };
  struct Callbacks {
    std::function<void(ByteView)> send_datagram;  // a record to put on the wire
    std::function<void(ByteView)> on_data;        // decrypted application data
    std::function<void()> on_connected;           // handshake done and fingerprint matches
    std::function<void(std::string)> on_failed;   // handshake, fingerprint or alert: the end
    std::function<void()> on_closed;              // close_notify from the peer
  };

  static std::expected<std::unique_ptr<DtlsTransport>, std::error_code> create(
      std::shared_ptr<DtlsIdentity> identity, Role role, const Fingerprint& remote_fingerprint,
      Callbacks callbacks, std::size_t mtu = 1200);
  ~DtlsTransport();
  DtlsTransport(const DtlsTransport&) = delete;
  DtlsTransport& operator=(const DtlsTransport&) = delete;

  // The client sends its ClientHello; the server starts waiting for one. Once.
  void start();
  // A datagram from the wire whose first byte is 20..63 (RFC 7983 demultiplexing).
  void handle_datagram(ByteView datagram);
  // Encrypts and sends application data (one SCTP packet). False before connected, after the
  // end, or if OpenSSL refused.
  bool send(ByteView data);
  // When handle_timeout() wants to run next, while the handshake retransmits.
  std::optional<std::chrono::milliseconds> next_timeout() const;
  void handle_timeout();
  // Sends close_notify; no callbacks after this.
  void close();

  bool connected() const { return state_ == State::connected; }
  Role role() const { return role_; }

 private:
  enum class State { idle, handshaking, connected, failed, closed };
  DtlsTransport(Role role, const Fingerprint& remote_fingerprint, Callbacks callbacks);
  void continue_handshake();
  void read_application_data();
  void fail(std::string reason);
  static int bio_write(BIO* bio, const char* data, int size);
  static long bio_ctrl(BIO* bio, int cmd, long num, void* ptr);

  Role role_;
  Fingerprint remote_fingerprint_;
  Callbacks callbacks_;
  State state_ = State::idle;
  std::shared_ptr<DtlsIdentity> identity_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* incoming_ = nullptr;  // owned by ssl_
};

}  // namespace hyphae::webrtc
