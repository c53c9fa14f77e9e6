// DNS messages (RFC 1035) as multicast DNS uses them (RFC 6762): header, questions and resource
// records, with name compression on decode (pointers followed at most 32 times, names at most 255
// bytes) and none on encode. PTR and TXT data are decoded (TXT as its strings); other types keep
// their raw data. The class field's top bit is the question's unicast-response bit and the record's
// cache-flush bit in mDNS.
// Thread-safety: pure functions. Ownership: values.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"

namespace hyphae::discovery {

namespace dns_type {
inline constexpr std::uint16_t a = 1, ptr = 12, txt = 16, aaaa = 28, srv = 33, any = 255;
}
inline constexpr std::size_t kMaxDnsMessageBytes = 9000;  // RFC 6762 §17
inline constexpr std::size_t kMaxDnsRecords = 128;        // per message, all sections together

struct DnsQuestion {
  std::string name;  // dotted, no trailing dot: "_p2p._udp.local"
  std::uint16_t type = dns_type::ptr;
  bool unicast_response = false;
  friend bool operator==(const DnsQuestion&, const DnsQuestion&) = default;
};

struct DnsRecord {
  std::string name;
  std::uint16_t type = 0;
  std::uint16_t rclass = 1;  // IN
  bool cache_flush = false;
  std::uint32_t ttl = 120;
  std::string ptr;               // PTR: the target name
  std::vector<std::string> txt;  // TXT: the strings
  Bytes rdata;  // other types: the raw data (A: 4 bytes, SRV: priority, weight, port, target)
  friend bool operator==(const DnsRecord&, const DnsRecord&) = default;
};

struct DnsMessage {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;  // 0x8400 for an authoritative response
  std::vector<DnsQuestion> questions;
  std::vector<DnsRecord> answers;
  std::vector<DnsRecord> authorities;
  std::vector<DnsRecord> additionals;
  bool is_response() const { return flags & 0x8000; }
  friend bool operator==(const DnsMessage&, const DnsMessage&) = default;
};

// Errc::malformed: truncated, a bad label or pointer, too many records, a name over 255 bytes,
// PTR data that is not one name, TXT data that does not add up. Errc::too_large: over 9000 bytes.
std::expected<DnsMessage, std::error_code> decode_dns_message(ByteView bytes);
// Errc::invalid_argument: a label over 63 bytes, an empty label or a name over 255 bytes.
std::expected<Bytes, std::error_code> encode_dns_message(const DnsMessage& message);

// An SRV record's data for `port` and `target` (priority and weight 0).
Bytes srv_rdata(std::uint16_t port, const std::string& target);

}  // namespace hyphae::discovery
