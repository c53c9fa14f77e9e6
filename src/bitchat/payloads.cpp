// BitChat payload codecs (see payloads.hpp).
#include "bitchat/payloads.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace hyphae::bitchat {

namespace {

std::unexpected<std::error_code> fail(Errc e) {
  return std::unexpected(make_error_code(e));
}

bool put_tlv8(Bytes& out, std::uint8_t type, ByteView value) {
  if (value.size() > 255) return false;
  out.push_back(type);
  out.push_back(static_cast<std::uint8_t>(value.size()));
  out.insert(out.end(), value.begin(), value.end());
  return true;
}

void put_tlv16(Bytes& out, std::uint8_t type, ByteView value) {
  out.push_back(type);
  out.push_back(static_cast<std::uint8_t>(value.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(value.size()));
  out.insert(out.end(), value.begin(), value.end());
}

ByteView text(const std::string& s) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

// Walks TLVs with `length_bytes`-byte lengths; f(type, value) returns false to stop with malformed.
template <typename F>
std::error_code walk(ByteView in, int length_bytes, F f) {
  std::size_t at = 0;
  while (at < in.size()) {
    if (in.size() - at < 1 + static_cast<std::size_t>(length_bytes)) return make_error_code(Errc::truncated);
    const std::uint8_t type = in[at++];
    std::size_t len = in[at++];
    if (length_bytes == 2) len = len << 8 | in[at++];
    if (in.size() - at < len) return make_error_code(Errc::truncated);
    if (!f(type, in.subspan(at, len))) return make_error_code(Errc::malformed);
    at += len;
  }
  return {};
}

}  // namespace

std::expected<Bytes, std::error_code> encode_announce(const Announce& a) {
  Bytes out;
  bool ok = put_tlv8(out, 0x01, text(a.nickname)) && put_tlv8(out, 0x02, a.noise_key) &&
            put_tlv8(out, 0x03, a.signing_key);
  if (!a.neighbours.empty()) {
    if (a.neighbours.size() > kMaxAnnouncedNeighbours) return fail(Errc::invalid_argument);
    Bytes ids;
    for (const auto& n : a.neighbours) ids.insert(ids.end(), n.begin(), n.end());
    ok = ok && put_tlv8(out, 0x04, ids);
  }
  if (a.capabilities) {
    Bytes bits;  // minimal little-endian, at least one byte
    std::uint64_t v = *a.capabilities;
    do {
      bits.push_back(static_cast<std::uint8_t>(v));
      v >>= 8;
    } while (v);
    ok = ok && put_tlv8(out, 0x05, bits);
  }
  if (a.bridge_geohash) ok = ok && put_tlv8(out, 0x06, text(*a.bridge_geohash));
  for (const auto& [type, value] : a.unknown) ok = ok && put_tlv8(out, type, value);
  if (!ok) return fail(Errc::invalid_argument);
  return out;
}

std::expected<Announce, std::error_code> decode_announce(ByteView payload) {
  Announce a;
  bool nickname = false, noise = false, signing = false;
  auto ec = walk(payload, 1, [&](std::uint8_t type, ByteView v) {
    switch (type) {
      case 0x01:
        a.nickname.assign(v.begin(), v.end());
        nickname = true;
        return true;
      case 0x02:
        if (v.size() != 32) return false;
        std::copy(v.begin(), v.end(), a.noise_key.begin());
        noise = true;
        return true;
      case 0x03:
        if (v.size() != 32) return false;
        std::copy(v.begin(), v.end(), a.signing_key.begin());
        signing = true;
        return true;
      case 0x04:
        // A neighbour list of a bad length is ignored (iOS), as is anything past ten IDs. A repeated
        // list replaces the earlier one, like every other repeated field, so the ten-ID bound holds.
        if (v.size() % 8 != 0) return true;
        if (v.size() / 8 > kMaxAnnouncedNeighbours) v = v.first(8 * kMaxAnnouncedNeighbours);
        a.neighbours.clear();
        for (std::size_t i = 0; i < v.size(); i += 8) {
          ShortId id;
          std::copy_n(v.begin() + static_cast<std::ptrdiff_t>(i), 8, id.begin());
          a.neighbours.push_back(id);
        }
        return true;
      case 0x05: {
        if (v.size() > 8) return false;  // empty: present, no bits (Android)
        std::uint64_t bits = 0;
        for (std::size_t i = 0; i < v.size(); ++i) bits |= std::uint64_t{v[i]} << (8 * i);
        a.capabilities = bits;
        return true;
      }
      case 0x06:
        if (v.size() > 12) return false;
        a.bridge_geohash = std::string(v.begin(), v.end());
        return true;
      default:
        a.unknown.emplace_back(type, Bytes(v.begin(), v.end()));
        return true;
    }
  });
  if (ec) return std::unexpected(ec);
  if (!nickname || !noise || !signing) return fail(Errc::malformed);
  return a;
}

Bytes encode_noise_payload(const NoisePayload& p) {
  Bytes out;
  out.reserve(1 + p.data.size());
  out.push_back(p.type);
  out.insert(out.end(), p.data.begin(), p.data.end());
  return out;
}

std::expected<NoisePayload, std::error_code> decode_noise_payload(ByteView plaintext) {
  if (plaintext.empty()) return fail(Errc::truncated);
  // 0x09 was a prerelease iOS type for private files: read it as privateFile (0x20).
  const std::uint8_t type = plaintext[0] == 0x09 ? 0x20 : plaintext[0];
  return NoisePayload{type, Bytes(plaintext.begin() + 1, plaintext.end())};
}

std::expected<Bytes, std::error_code> encode_private_message(const PrivateMessage& m) {
  Bytes out;
  if (!put_tlv8(out, 0x00, text(m.message_id)) || !put_tlv8(out, 0x01, text(m.content)))
    return fail(Errc::invalid_argument);
  return out;
}

std::expected<PrivateMessage, std::error_code> decode_private_message(ByteView data) {
  PrivateMessage m;
  bool id = false, content = false;
  auto ec = walk(data, 1, [&](std::uint8_t type, ByteView v) {
    if (type == 0x00) {
      m.message_id.assign(v.begin(), v.end());
      id = true;
    } else if (type == 0x01) {
      m.content.assign(v.begin(), v.end());
      content = true;
    }
    return true;  // unknown TLVs are skipped
  });
  if (ec) return std::unexpected(ec);
  if (!id || !content) return fail(Errc::malformed);
  return m;
}

Bytes encode_fragment(const FragmentPayload& f) {
  Bytes out;
  out.reserve(kFragmentHeaderSize + f.data.size());
  out.insert(out.end(), f.fragment_id.begin(), f.fragment_id.end());
  out.push_back(static_cast<std::uint8_t>(f.index >> 8));
  out.push_back(static_cast<std::uint8_t>(f.index));
  out.push_back(static_cast<std::uint8_t>(f.total >> 8));
  out.push_back(static_cast<std::uint8_t>(f.total));
  out.push_back(f.original_type);
  out.insert(out.end(), f.data.begin(), f.data.end());
  return out;
}

std::expected<FragmentPayload, std::error_code> decode_fragment(ByteView payload) {
  if (payload.size() < kFragmentHeaderSize) return fail(Errc::truncated);
  FragmentPayload f;
  std::copy_n(payload.begin(), 8, f.fragment_id.begin());
  f.index = static_cast<std::uint16_t>(payload[8] << 8 | payload[9]);
  f.total = static_cast<std::uint16_t>(payload[10] << 8 | payload[11]);
  f.original_type = payload[12];
  if (f.total == 0 || f.index >= f.total) return fail(Errc::malformed);
  f.data.assign(payload.begin() + kFragmentHeaderSize, payload.end());
  return f;
}

Bytes encode_request_sync(const RequestSync& r) {
  Bytes out;
  const std::uint8_t p[1] = {r.p};
  put_tlv16(out, 0x01, p);
  const std::uint8_t m[4] = {static_cast<std::uint8_t>(r.m >> 24), static_cast<std::uint8_t>(r.m >> 16),
                             static_cast<std::uint8_t>(r.m >> 8), static_cast<std::uint8_t>(r.m)};
  put_tlv16(out, 0x02, m);
  put_tlv16(out, 0x03, r.filter);
  for (const auto& [type, value] : r.other) put_tlv16(out, type, value);
  return out;
}

std::expected<RequestSync, std::error_code> decode_request_sync(ByteView payload) {
  RequestSync r;
  bool p = false, m = false, filter = false;
  auto ec = walk(payload, 2, [&](std::uint8_t type, ByteView v) {
    switch (type) {
      case 0x01:
        if (v.size() != 1 || v[0] == 0 || v[0] > 32) return false;
        r.p = v[0];
        p = true;
        return true;
      case 0x02:
        if (v.size() != 4) return false;
        r.m = static_cast<std::uint32_t>(v[0]) << 24 | static_cast<std::uint32_t>(v[1]) << 16 |
              static_cast<std::uint32_t>(v[2]) << 8 | v[3];
        m = true;
        return true;
      case 0x03:
        if (v.size() > kMaxSyncFilterBytes) return false;
        r.filter.assign(v.begin(), v.end());
        filter = true;
        return true;
      default:
        r.other.emplace_back(type, Bytes(v.begin(), v.end()));
        return true;
    }
  });
  if (ec) return std::unexpected(ec);
  if (!p || !m || !filter) return fail(Errc::malformed);
  return r;
}

}  // namespace hyphae::bitchat
