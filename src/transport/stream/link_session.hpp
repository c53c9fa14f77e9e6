// LinkSession: the sans-IO core of one mesh link over a byte stream (TCP today).
// It runs Noise_XX_25519_ChaChaPoly_SHA256 with libp2p's handshake payload (the identity key
// signs the Noise static key, so the remote PeerId is proven), then carries link records in
// Noise transport frames with 2-byte length prefixes. Bytes in, bytes and records out; no sockets,
// no clocks. Not thread-safe: owned by one connection adapter on the node's strand.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "core/bytes.hpp"
#include "core/identity.hpp"
#include "core/peer_id.hpp"
#include "crypto/noise/noise.hpp"
#include "net/frame_reader.hpp"
#include "transport/stream/link_records.hpp"

namespace hyphae::stream {

struct LinkLimits {
  std::size_t max_record = (1u << 20) + 4096;  // largest record body (envelope) accepted
  std::size_t max_frame = 65535;               // Noise message limit
};

class LinkSession {
 public:
  // `expected_remote`, when set (we dialed a known peer), must match the PeerId the remote proves.
  LinkSession(const Identity& identity, const noise::KeyPair& noise_static, bool initiator,
              std::optional<PeerId> expected_remote, LinkLimits limits = {});
  ~LinkSession();
  LinkSession(const LinkSession&) = delete;
  LinkSession& operator=(const LinkSession&) = delete;

  // The initiator's first handshake message, already framed; empty for the responder.
  Bytes start();

  // Consumes bytes from the socket. Writes handshake replies to `to_send`, calls on_record for each
  // record received after the handshake. Returns an error when the link must close (the reason).
  std::error_code on_bytes(ByteView data, Bytes& to_send,
                           const std::function<void(const Record&)>& on_record);

  bool established() const { return established_; }
  const PeerId& remote() const { return remote_; }
  bool initiator() const { return initiator_; }
  // The Noise handshake hash (h) once established: the same on both ends of this handshake only;
  // what a path beside the stream derives its keys from (datagram_sealer.hpp).
  const Bytes& handshake_hash() const { return handshake_hash_; }

  // Queues a record for the next seal(). Only valid once established.
  void queue(RecordType type, ByteView body);
  // Appends the record header and returns the plaintext buffer so a caller can encode the body in place.
  Bytes& queue_header(RecordType type, std::size_t body_size);
  bool has_pending() const { return !pending_.empty(); }
  std::size_t pending_bytes() const { return pending_.size(); }
  // Encrypts all queued plaintext into as few frames as possible and appends them to `wire`.
  void seal(Bytes& wire);

 private:
  std::error_code on_handshake_frame(ByteView frame, Bytes& to_send);
  std::error_code finish_handshake();
  std::error_code accept_remote_payload(ByteView payload);

  const Identity& identity_;
  noise::KeyPair noise_static_;
  bool initiator_;
  std::optional<PeerId> expected_remote_;
  LinkLimits limits_;
  std::optional<noise::HandshakeState> handshake_;
  std::optional<noise::CipherState> send_;
  std::optional<noise::CipherState> recv_;
  net::FrameReader frames_;
  RecordReader records_;
  Bytes pending_;
  Bytes plain_scratch_;
  PeerId remote_;
  Bytes handshake_hash_;
  bool established_ = false;
};

}  // namespace hyphae::stream
