#include "files/file_messages.hpp"

#include "core/error.hpp"

namespace hyphae::files {

namespace {

void put_u16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put_u32(Bytes& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}
void put_u64(Bytes& out, std::uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}
void put_text(Bytes& out, std::string_view text, std::size_t max) {
  const auto n = std::min(text.size(), max);
  put_u16(out, static_cast<std::uint16_t>(n));
  out.insert(out.end(), text.begin(), text.begin() + static_cast<std::ptrdiff_t>(n));
}

struct Reader {
  ByteView in;
  std::size_t at = 0;
  bool fail = false;
  bool need(std::size_t n) {
    if (fail || in.size() - at < n) fail = true;
    return !fail;
  }
  std::uint64_t uint(int bytes) {
    if (!need(static_cast<std::size_t>(bytes))) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | in[at++];
    return v;
  }
  ByteView take(std::size_t n) {
    if (!need(n)) return {};
    auto out = in.subspan(at, n);
    at += n;
    return out;
  }
  std::string_view text(std::size_t len_bytes, std::size_t max) {
    const auto n = static_cast<std::size_t>(uint(static_cast<int>(len_bytes)));
    if (n > max) fail = true;
    auto bytes = take(n);
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  bool done() const { return !fail && at == in.size(); }
};

}  // namespace

Bytes encode_chunk_header(const TransferId& id, std::uint64_t offset, const Sha256& sha256,
                          std::size_t data_size) {
  Bytes out;
  out.reserve(1 + 16 + 8 + 32 + data_size);
  out.push_back(static_cast<std::uint8_t>(FileMessageKind::chunk));
  out.insert(out.end(), id.begin(), id.end());
  put_u64(out, offset);
  out.insert(out.end(), sha256.begin(), sha256.end());
  return out;
}

Bytes encode_file_message(const FileMessage& m) {
  if (m.kind == FileMessageKind::chunk) {
    Bytes out = encode_chunk_header(m.id, m.offset, m.sha256, m.data.size());
    out.insert(out.end(), m.data.begin(), m.data.end());
    return out;
  }
  Bytes out;
  out.push_back(static_cast<std::uint8_t>(m.kind));
  out.insert(out.end(), m.id.begin(), m.id.end());
  switch (m.kind) {
    case FileMessageKind::offer:
      put_u64(out, m.size);
      put_u32(out, m.chunk_size);
      out.insert(out.end(), m.sha256.begin(), m.sha256.end());
      put_text(out, m.name, kMaxNameBytes);
      out.push_back(static_cast<std::uint8_t>(std::min(m.media_type.size(), kMaxMediaTypeBytes)));
      out.insert(out.end(), m.media_type.begin(),
                 m.media_type.begin() +
                     static_cast<std::ptrdiff_t>(std::min(m.media_type.size(), kMaxMediaTypeBytes)));
      break;
    case FileMessageKind::accept:
      put_u64(out, m.offset);
      break;
    case FileMessageKind::progress:
      put_u64(out, m.offset);
      out.push_back(m.resend ? 1 : 0);
      break;
    case FileMessageKind::complete:
      out.push_back(m.ok ? 0 : 1);
      put_text(out, m.reason, kMaxReasonBytes);
      break;
    case FileMessageKind::decline:
    case FileMessageKind::cancel:
      put_text(out, m.reason, kMaxReasonBytes);
      break;
    case FileMessageKind::chunk:
      break;
  }
  return out;
}

std::expected<FileMessage, std::error_code> decode_file_message(ByteView bytes) {
  Reader r{bytes};
  FileMessage m;
  const auto kind = r.uint(1);
  if (kind < 1 || kind > 7) return std::unexpected(make_error_code(Errc::malformed));
  m.kind = static_cast<FileMessageKind>(kind);
  auto id = r.take(16);
  if (r.fail) return std::unexpected(make_error_code(Errc::malformed));
  std::copy(id.begin(), id.end(), m.id.begin());
  switch (m.kind) {
    case FileMessageKind::offer: {
      m.size = r.uint(8);
      m.chunk_size = static_cast<std::uint32_t>(r.uint(4));
      auto hash = r.take(32);
      if (!r.fail) std::copy(hash.begin(), hash.end(), m.sha256.begin());
      m.name = r.text(2, kMaxNameBytes);
      m.media_type = r.text(1, kMaxMediaTypeBytes);
      if (!r.fail && (m.chunk_size == 0 || m.chunk_size > kMaxChunkSize)) r.fail = true;
      break;
    }
    case FileMessageKind::accept:
      m.offset = r.uint(8);
      break;
    case FileMessageKind::progress: {
      m.offset = r.uint(8);
      const auto flags = r.uint(1);
      if (flags > 1) r.fail = true;
      m.resend = flags == 1;
      break;
    }
    case FileMessageKind::complete: {
      const auto status = r.uint(1);
      if (status > 1) r.fail = true;  // 0 ok, 1 failed: nothing else (a decoded message encodes back)
      m.ok = status == 0;
      m.reason = r.text(2, kMaxReasonBytes);
      break;
    }
    case FileMessageKind::decline:
    case FileMessageKind::cancel:
      m.reason = r.text(2, kMaxReasonBytes);
      break;
    case FileMessageKind::chunk: {
      m.offset = r.uint(8);
      auto hash = r.take(32);
      if (r.fail) break;
      std::copy(hash.begin(), hash.end(), m.sha256.begin());
      m.data = r.take(bytes.size() - r.at);
      if (m.data.empty() || m.data.size() > kMaxChunkSize) r.fail = true;
      break;
    }
  }
  if (!r.done()) return std::unexpected(make_error_code(Errc::malformed));
  return m;
}

std::expected<void, std::string> check_file_name(std::string_view name) {
  if (name.empty()) return std::unexpected("the file name is empty");
  if (name.size() > kMaxNameBytes) return std::unexpected("the file name is longer than 255 bytes");
  if (name == "." || name == "..")
    return std::unexpected("the file name '" + std::string(name) + "' is a directory");
  if (name.front() == ' ' || name.back() == ' ')
    return std::unexpected("the file name starts or ends with a space");
  for (unsigned char c : name) {
    if (c == '/' || c == '\\')
      return std::unexpected("the file name holds a path ('" + std::string(name) + "')");
    if (c < 0x20 || c == 0x7f) return std::unexpected("the file name holds a control character");
  }
  // Well-formed UTF-8 (no overlong forms or surrogates).
  for (std::size_t i = 0; i < name.size();) {
    const auto c = static_cast<unsigned char>(name[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > name.size()) return std::unexpected("the file name is not UTF-8");
    std::uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (std::size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(name[i + k]);
      if ((cc >> 6) != 2) return std::unexpected("the file name is not UTF-8");
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return std::unexpected("the file name is not UTF-8");
    i += n;
  }
  return {};
}

std::string to_hex(const TransferId& id) {
  return hyphae::to_hex(ByteView(id.data(), id.size()));
}

std::expected<TransferId, std::error_code> transfer_id_from_hex(std::string_view hex) {
  bool ok = false;
  auto bytes = from_hex(hex, &ok);
  if (!ok || bytes.size() != 16) return std::unexpected(make_error_code(Errc::invalid_argument));
  TransferId id{};
  std::copy(bytes.begin(), bytes.end(), id.begin());
  return id;
}

}  // namespace hyphae::files
