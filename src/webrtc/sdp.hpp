// The WebRTC session description for a data-channel-only session (RFC 8866 syntax, RFC 8839 ICE
// attributes, RFC 8122 fingerprint, RFC 8841 SCTP over DTLS), sans-IO: build the text we send,
// parse the text a browser or another node sent. One bundled m=application section carries the
// ICE credentials, the DTLS fingerprint and role, the SCTP port and the maximum message size;
// a=candidate lines travel inside it or trickle separately (parse_candidate / format_candidate).
// The parser reads bytes from the network: it is bounded (size, lines, line length, candidates),
// accepts \r\n and \n line ends, skips attributes it does not know (Chromium adds several), and
// reports anything malformed as an error, never by throwing.
// Thread-safety: pure functions. Ownership: values.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace hyphae::webrtc {

inline constexpr std::size_t kMaxSdpBytes = 64 * 1024;
inline constexpr std::size_t kMaxSdpLines = 512;
inline constexpr std::size_t kMaxSdpLineBytes = 2048;
inline constexpr std::size_t kMaxSdpCandidates = 64;
inline constexpr std::uint16_t kDefaultSctpPort = 5000;
// RFC 8841 §6: without a=max-message-size the peer can take 64 KiB.
inline constexpr std::uint32_t kDefaultRemoteMaxMessageSize = 65536;

using Fingerprint = std::array<std::uint8_t, 32>;  // SHA-256 over the certificate's DER

// a=setup (RFC 4145 as RFC 8842 uses it): the offer says actpass, the answer active or passive.
// active is the DTLS client.
enum class DtlsSetup { actpass, active, passive };

enum class CandidateType { host, srflx, prflx, relay };

// One ICE candidate (RFC 8839 §5.1). transport is lower-case ("udp" or "tcp"); address is an IP
// literal or, from a browser that hides local addresses, an mDNS host name ("....local").
struct IceCandidate {
  std::string foundation;
  std::uint16_t component = 1;
  std::string transport = "udp";
  std::uint32_t priority = 0;
  std::string address;
  std::uint16_t port = 0;
  CandidateType type = CandidateType::host;
  std::string related_address;  // raddr, empty when absent
  std::uint16_t related_port = 0;
  std::string tcp_type;  // tcptype for TCP candidates, empty otherwise
  friend bool operator==(const IceCandidate&, const IceCandidate&) = default;
};

struct SessionDescription {
  std::uint64_t session_id = 0;  // o= line; build_sdp keeps it below 2^63
  std::uint64_t session_version = 0;
  std::string ice_ufrag;  // 4..256 ice-chars
  std::string ice_pwd;    // 22..256 ice-chars
  bool ice_trickle = true;
  bool ice_lite = false;
  Fingerprint fingerprint{};
  DtlsSetup setup = DtlsSetup::actpass;
  std::string mid = "0";
  std::uint16_t sctp_port = kDefaultSctpPort;
  // 0 means "no limit" (RFC 8841 §6); parse_sdp stores kDefaultRemoteMaxMessageSize when absent.
  std::uint32_t max_message_size = 262144;
  std::vector<IceCandidate> candidates;
  bool end_of_candidates = false;
  friend bool operator==(const SessionDescription&, const SessionDescription&) = default;
};

// The SDP text, \r\n line ends. Errc::invalid_argument for credentials outside RFC 8839's
// character set or lengths, or a mid that is not a token.
std::expected<std::string, std::error_code> build_sdp(const SessionDescription& description);

// Errc::too_large: over kMaxSdpBytes, kMaxSdpLines or a line over kMaxSdpLineBytes.
// Errc::malformed: not SDP (no v=0 first, a line not "x=...", a bad number, credentials or
// fingerprint), no m=application section, or missing ICE credentials, fingerprint or setup.
// Errc::unsupported: well-formed but not ours: another transport than UDP/DTLS/SCTP with
// webrtc-datachannel, more than one m= section, or no sha-256 fingerprint. Candidate lines that do
// not parse, and TCP or host-name candidates, are kept out of `candidates` without failing the
// whole description; at most kMaxSdpCandidates are kept.
std::expected<SessionDescription, std::error_code> parse_sdp(std::string_view text);

// "candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
// [raddr <a> rport <p>] [tcptype <t>]" (the form RTCIceCandidate.candidate carries, no "a=").
std::string format_candidate(const IceCandidate& candidate);
// Accepts that form with or without "a=", extension pairs after it (generation, ufrag, network-id,
// network-cost...) skipped. Errc::malformed for anything else; Errc::too_large for a line over
// kMaxSdpLineBytes.
std::expected<IceCandidate, std::error_code> parse_candidate(std::string_view line);

// "AB:CD:...": 32 upper-case hex pairs; parse accepts either case.
std::string format_fingerprint(const Fingerprint& fingerprint);
std::expected<Fingerprint, std::error_code> parse_fingerprint(std::string_view text);

std::string_view to_string(DtlsSetup setup);
std::string_view to_string(CandidateType type);

}  // namespace hyphae::webrtc
