#include "core/envelope.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.hpp"

namespace hyphae {
namespace {

constexpr std::size_t kPrefixSize = sizeof(kEnvelopeSigningPrefix) - 1;

std::size_t uvarint_size(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

std::uint8_t* write_uvarint(std::uint8_t* p, std::uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<std::uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<std::uint8_t>(v);
  return p;
}

std::uint8_t* write_be(std::uint8_t* p, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) *p++ = static_cast<std::uint8_t>(v >> (8 * i));
  return p;
}

std::uint8_t* write_peer(std::uint8_t* p, const PeerId& id) {
  ByteView b = id.bytes();
  p = write_uvarint(p, b.size());
  if (!b.empty()) std::memcpy(p, b.data(), b.size());
  return p + b.size();
}

// Reads a minimally encoded uvarint. Errc::truncated if the input ends inside it.
Errc read_uvarint(ByteView d, std::size_t& pos, std::uint64_t& v) {
  v = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos >= d.size()) return Errc::truncated;
    const std::uint8_t c = d[pos++];
    if (i == 9 && c > 1) return Errc::malformed;  // would overflow 64 bits
    v |= std::uint64_t{c & 0x7fu} << (7 * i);
    if ((c & 0x80) == 0) return (i > 0 && c == 0) ? Errc::malformed : Errc::ok;
  }
  return Errc::malformed;
}

Errc read_peer(ByteView d, std::size_t& pos, PeerId& out) {
  std::uint64_t len = 0;
  if (Errc e = read_uvarint(d, pos, len); e != Errc::ok) return e;
  if (len > kEnvelopeMaxPeerIdSize) return Errc::malformed;
  if (len > d.size() - pos) return Errc::truncated;
  if (len == 0) {
    out = PeerId{};
    return Errc::ok;
  }
  auto id = PeerId::from_bytes(d.subspan(pos, static_cast<std::size_t>(len)));
  if (!id) return Errc::malformed;
  out = *id;
  pos += static_cast<std::size_t>(len);
  return Errc::ok;
}

// Shared by the wire encoding and the signing encoding.
std::size_t body_size(const Envelope& env, bool with_addresses) {
  std::size_t n = kEnvelopeFixedSize + uvarint_size(env.payload.size()) + env.payload.size();
  if (with_addresses) {
    n += uvarint_size(env.from.bytes().size()) + env.from.bytes().size();
    n += uvarint_size(env.to.bytes().size()) + env.to.bytes().size();
  }
  return n;
}

std::uint8_t* write_body(std::uint8_t* p, const Envelope& env, std::uint8_t flags, bool with_addresses) {
  *p++ = kEnvelopeVersion;
  *p++ = flags;
  std::memcpy(p, env.id.bytes.data(), env.id.bytes.size());
  p += env.id.bytes.size();
  p = write_be(p, env.timestamp_ms, 8);
  p = write_be(p, env.nonce, 8);
  p = write_be(p, env.ttl_s, 4);
  *p++ = static_cast<std::uint8_t>(env.priority);
  *p++ = env.type;
  if (with_addresses) {
    p = write_peer(p, env.from);
    p = write_peer(p, env.to);
  }
  p = write_uvarint(p, env.payload.size());
  if (!env.payload.empty()) std::memcpy(p, env.payload.data(), env.payload.size());
  return p + env.payload.size();
}

// Per-thread buffer for signing encodings; big payloads do not pin their memory forever.
struct Scratch {
  Bytes& buf;
  explicit Scratch(Bytes& b) : buf(b) { buf.clear(); }
  ~Scratch() {
    if (buf.capacity() > (64u << 10)) Bytes().swap(buf);
  }
};

bool omits_addresses(const Envelope& env, bool omit_addresses) {
  return omit_addresses && !env.is_signed();
}

}  // namespace

std::size_t encoded_envelope_size(const Envelope& env, bool omit_addresses) {
  return body_size(env, !omits_addresses(env, omit_addresses)) +
         (env.is_signed() ? kEnvelopeSignatureSize : 0);
}

void encode_envelope(const Envelope& env, Bytes& out, bool omit_addresses) {
  const bool omit = omits_addresses(env, omit_addresses);
  std::uint8_t flags = env.flags & envelope_flags::all & ~envelope_flags::addresses_implied;
  if (omit) flags |= envelope_flags::addresses_implied;
  const std::size_t old = out.size();
  out.resize(old + encoded_envelope_size(env, omit_addresses));
  std::uint8_t* p = write_body(out.data() + old, env, flags, !omit);
  if (env.is_signed()) std::memcpy(p, env.signature.data(), env.signature.size());
}

Bytes encode_envelope(const Envelope& env, bool omit_addresses) {
  Bytes out;
  encode_envelope(env, out, omit_addresses);
  return out;
}

std::expected<Envelope, std::error_code> decode_envelope(ByteView d, std::size_t* consumed,
                                                         const EnvelopeLimits& limits) {
  auto fail = [](Errc e) { return std::unexpected(make_error_code(e)); };
  if (d.size() < 2) return fail(Errc::truncated);
  if (d[0] != kEnvelopeVersion) return fail(Errc::unsupported);
  const std::uint8_t flags = d[1];
  if ((flags & ~envelope_flags::all) != 0) return fail(Errc::malformed);
  const bool is_signed = (flags & envelope_flags::signed_) != 0;
  const bool implied = (flags & envelope_flags::addresses_implied) != 0;
  if (is_signed && implied) return fail(Errc::malformed);
  if (d.size() < kEnvelopeFixedSize) return fail(Errc::truncated);

  Envelope env;
  env.flags = flags;
  const std::uint8_t* p = d.data() + 2;
  std::memcpy(env.id.bytes.data(), p, env.id.bytes.size());
  p += env.id.bytes.size();
  env.timestamp_ms = get_u64be(p);
  env.nonce = get_u64be(p + 8);
  env.ttl_s = get_u32be(p + 16);
  if (p[20] > static_cast<std::uint8_t>(Priority::low)) return fail(Errc::malformed);
  env.priority = static_cast<Priority>(p[20]);
  env.type = p[21];

  std::size_t pos = kEnvelopeFixedSize;
  if (!implied) {
    if (Errc e = read_peer(d, pos, env.from); e != Errc::ok) return fail(e);
    if (Errc e = read_peer(d, pos, env.to); e != Errc::ok) return fail(e);
  }
  std::uint64_t len = 0;
  if (Errc e = read_uvarint(d, pos, len); e != Errc::ok) return fail(e);
  if (len > limits.max_payload) return fail(Errc::too_large);
  if (len > d.size() - pos) return fail(Errc::truncated);
  env.payload.assign(d.begin() + static_cast<std::ptrdiff_t>(pos),
                     d.begin() + static_cast<std::ptrdiff_t>(pos + len));
  pos += static_cast<std::size_t>(len);
  if (is_signed) {
    if (d.size() - pos < kEnvelopeSignatureSize) return fail(Errc::truncated);
    std::memcpy(env.signature.data(), d.data() + pos, kEnvelopeSignatureSize);
    pos += kEnvelopeSignatureSize;
  }
  if (consumed) *consumed = pos;
  return env;
}

void append_signing_bytes(const Envelope& env, Bytes& out) {
  const std::uint8_t flags = static_cast<std::uint8_t>(
      (env.flags | envelope_flags::signed_) & envelope_flags::all & ~envelope_flags::addresses_implied);
  const std::size_t old = out.size();
  out.resize(old + kPrefixSize + body_size(env, true));
  std::memcpy(out.data() + old, kEnvelopeSigningPrefix, kPrefixSize);
  write_body(out.data() + old + kPrefixSize, env, flags, true);
}

Bytes signing_bytes(const Envelope& env) {
  Bytes out;
  append_signing_bytes(env, out);
  return out;
}

void sign_envelope(Envelope& env, const Identity& identity) {
  env.from = identity.peer_id();
  env.flags =
      static_cast<std::uint8_t>((env.flags | envelope_flags::signed_) & ~envelope_flags::addresses_implied);
  thread_local Bytes buf;
  Scratch scratch(buf);
  append_signing_bytes(env, buf);
  env.signature = identity.sign(buf);
}

std::error_code verify_envelope_signature(const Envelope& env) {
  if (!env.is_signed()) return Errc::bad_signature;
  auto pub = env.from.ed25519_public_key();
  if (!pub) return Errc::peer_id_mismatch;
  thread_local Bytes buf;
  Scratch scratch(buf);
  append_signing_bytes(env, buf);
  if (!Identity::verify(*pub, buf, env.signature)) return Errc::bad_signature;
  return {};
}

std::error_code check_timestamp(const Envelope& env, std::uint64_t now_ms, std::uint64_t window_ms) {
  const std::uint64_t ts = env.timestamp_ms;
  const std::uint64_t skew = ts > now_ms ? ts - now_ms : now_ms - ts;
  if (skew > window_ms) return Errc::stale;
  if (env.ttl_s > 0) {
    const std::uint64_t ttl_ms = std::uint64_t{env.ttl_s} * 1000;
    const std::uint64_t expiry = ts > std::numeric_limits<std::uint64_t>::max() - ttl_ms
                                     ? std::numeric_limits<std::uint64_t>::max()
                                     : ts + ttl_ms;
    if (now_ms > expiry) return Errc::stale;
  }
  return {};
}

}  // namespace hyphae
