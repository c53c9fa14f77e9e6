// DNS message codec for multicast DNS.
#include "discovery/dns_message.hpp"

#include "core/error.hpp"

namespace hyphae::discovery {

namespace {

struct Reader {
  ByteView bytes;
  std::size_t pos = 0;
  bool u8(std::uint8_t& v) {
    if (pos + 1 > bytes.size()) return false;
    v = bytes[pos++];
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (pos + 2 > bytes.size()) return false;
    v = static_cast<std::uint16_t>(bytes[pos] << 8 | bytes[pos + 1]);
    pos += 2;
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (pos + 4 > bytes.size()) return false;
    v = static_cast<std::uint32_t>(bytes[pos]) << 24 | static_cast<std::uint32_t>(bytes[pos + 1]) << 16 |
        static_cast<std::uint32_t>(bytes[pos + 2]) << 8 | bytes[pos + 3];
    pos += 4;
    return true;
  }
};

// Reads a (possibly compressed) name starting at `pos` in the whole message; moves `pos` past it.
bool read_name(ByteView message, std::size_t& pos, std::string& out) {
  out.clear();
  std::size_t at = pos;
  bool jumped = false;
  int jumps = 0;
  std::size_t wire_length = 1;  // the final zero
  for (;;) {
    if (at >= message.size()) return false;
    const std::uint8_t len = message[at];
    if ((len & 0xC0) == 0xC0) {
      if (at + 1 >= message.size() || ++jumps > 32) return false;
      const std::size_t target = static_cast<std::size_t>(len & 0x3F) << 8 | message[at + 1];
      if (!jumped) pos = at + 2;
      jumped = true;
      at = target;
      continue;
    }
    if (len & 0xC0) return false;  // 0x40 and 0x80 label types are not used
    if (len == 0) {
      if (!jumped) pos = at + 1;
      return true;
    }
    if (at + 1 + len > message.size()) return false;
    wire_length += len + 1;
    if (wire_length > 255) return false;
    if (!out.empty()) out += '.';
    out.append(reinterpret_cast<const char*>(message.data()) + at + 1, len);
    at += 1 + len;
  }
}

bool read_record(ByteView message, Reader& r, DnsRecord& rec) {
  if (!read_name(message, r.pos, rec.name)) return false;
  std::uint16_t rclass = 0, length = 0;
  if (!r.u16(rec.type) || !r.u16(rclass) || !r.u32(rec.ttl) || !r.u16(length)) return false;
  rec.cache_flush = rclass & 0x8000;
  rec.rclass = rclass & 0x7FFF;
  if (r.pos + length > message.size()) return false;
  const std::size_t end = r.pos + length;
  if (rec.type == dns_type::ptr) {
    std::size_t p = r.pos;
    if (!read_name(message, p, rec.ptr) || p != end) return false;
  } else if (rec.type == dns_type::txt) {
    for (std::size_t p = r.pos; p < end;) {
      const std::size_t n = message[p];
      if (p + 1 + n > end) return false;
      rec.txt.emplace_back(reinterpret_cast<const char*>(message.data()) + p + 1, n);
      p += 1 + n;
    }
  } else {
    rec.rdata.assign(message.begin() + static_cast<std::ptrdiff_t>(r.pos),
                     message.begin() + static_cast<std::ptrdiff_t>(end));
  }
  r.pos = end;
  return true;
}

bool put_name(Bytes& out, const std::string& name) {
  std::size_t total = 1;
  std::size_t start = 0;
  if (!name.empty()) {
    for (;;) {
      const auto dot = name.find('.', start);
      const auto label = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (label.empty() || label.size() > 63) return false;
      total += label.size() + 1;
      out.push_back(static_cast<std::uint8_t>(label.size()));
      out.insert(out.end(), label.begin(), label.end());
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  }
  out.push_back(0);
  return total <= 255;
}

void put_u16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

}  // namespace

std::expected<DnsMessage, std::error_code> decode_dns_message(ByteView bytes) {
  const auto malformed = [] { return std::unexpected(make_error_code(Errc::malformed)); };
  if (bytes.size() > kMaxDnsMessageBytes) return std::unexpected(make_error_code(Errc::too_large));
  Reader r{bytes};
  DnsMessage m;
  std::uint16_t qd = 0, an = 0, ns = 0, ar = 0;
  if (!r.u16(m.id) || !r.u16(m.flags) || !r.u16(qd) || !r.u16(an) || !r.u16(ns) || !r.u16(ar))
    return malformed();
  if (std::size_t{qd} + an + ns + ar > kMaxDnsRecords) return malformed();
  for (std::uint16_t i = 0; i < qd; ++i) {
    DnsQuestion q;
    std::uint16_t qclass = 0;
    if (!read_name(bytes, r.pos, q.name) || !r.u16(q.type) || !r.u16(qclass)) return malformed();
    q.unicast_response = qclass & 0x8000;
    m.questions.push_back(std::move(q));
  }
  for (auto [count, section] :
       {std::pair{an, &m.answers}, std::pair{ns, &m.authorities}, std::pair{ar, &m.additionals}})
    for (std::uint16_t i = 0; i < count; ++i) {
      DnsRecord rec;
      if (!read_record(bytes, r, rec)) return malformed();
      section->push_back(std::move(rec));
    }
  return m;
}

std::expected<Bytes, std::error_code> encode_dns_message(const DnsMessage& m) {
  const auto bad = [] { return std::unexpected(make_error_code(Errc::invalid_argument)); };
  if (m.questions.size() + m.answers.size() + m.authorities.size() + m.additionals.size() > kMaxDnsRecords)
    return bad();
  Bytes out;
  put_u16(out, m.id);
  put_u16(out, m.flags);
  put_u16(out, static_cast<std::uint16_t>(m.questions.size()));
  put_u16(out, static_cast<std::uint16_t>(m.answers.size()));
  put_u16(out, static_cast<std::uint16_t>(m.authorities.size()));
  put_u16(out, static_cast<std::uint16_t>(m.additionals.size()));
  for (const auto& q : m.questions) {
    if (!put_name(out, q.name)) return bad();
    put_u16(out, q.type);
    put_u16(out, static_cast<std::uint16_t>(1 | (q.unicast_response ? 0x8000 : 0)));
  }
  for (const auto* section : {&m.answers, &m.authorities, &m.additionals})
    for (const auto& rec : *section) {
      if (!put_name(out, rec.name)) return bad();
      put_u16(out, rec.type);
      put_u16(out, static_cast<std::uint16_t>((rec.rclass & 0x7FFF) | (rec.cache_flush ? 0x8000 : 0)));
      out.push_back(static_cast<std::uint8_t>(rec.ttl >> 24));
      out.push_back(static_cast<std::uint8_t>(rec.ttl >> 16));
      out.push_back(static_cast<std::uint8_t>(rec.ttl >> 8));
      out.push_back(static_cast<std::uint8_t>(rec.ttl));
      Bytes data;
      if (rec.type == dns_type::ptr) {
        if (!put_name(data, rec.ptr)) return bad();
      } else if (rec.type == dns_type::txt) {
        for (const auto& s : rec.txt) {
          if (s.size() > 255) return bad();
          data.push_back(static_cast<std::uint8_t>(s.size()));
          data.insert(data.end(), s.begin(), s.end());
        }
      } else {
        data = rec.rdata;
      }
      if (data.size() > 0xFFFF) return bad();
      put_u16(out, static_cast<std::uint16_t>(data.size()));
      out.insert(out.end(), data.begin(), data.end());
    }
  if (out.size() > kMaxDnsMessageBytes) return bad();
  return out;
}

Bytes srv_rdata(std::uint16_t port, const std::string& target) {
  Bytes out;
  put_u16(out, 0);
  put_u16(out, 0);
  put_u16(out, port);
  if (!put_name(out, target)) out.push_back(0);
  return out;
}

}  // namespace hyphae::discovery
