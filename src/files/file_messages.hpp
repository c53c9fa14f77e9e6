// File transfer messages: what two peers say to move one file. They travel as envelopes of the
// reserved type kFileMessageType, so they take every transport, route, failover and fragment like
// other messages. Offers, answers and outcomes are durable messages (stored, acked, exactly once);
// chunks and progress reports are ephemeral (the transfer keeps its own window and resends).
//
//   kind (1) | transfer id (16) | body, big-endian:
//     1 offer     size u64 | chunk_size u32 | sha256 (32) | name_len u16 | name | type_len u8 | media type
//     2 accept    offset u64 (bytes the receiver holds already: where to resume)
//     3 decline   reason_len u16 | reason
//     4 chunk     offset u64 | sha256 of the data (32) | data (the rest)
//     5 progress  offset u64 (bytes written so far) | flags u8 (1: resend from offset)
//     6 complete  status u8 (0 ok: the file's SHA-256 matched, 1 failed) | reason_len u16 | reason
//     7 cancel    reason_len u16 | reason
//
// Thread-safety: pure functions. Ownership: a decoded message views the input buffer.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <system_error>

#include "core/bytes.hpp"

namespace hyphae::files {

inline constexpr std::uint8_t kFileMessageType = 0xF0;  // envelope type reserved for file transfer
inline constexpr std::size_t kMaxNameBytes = 255;
inline constexpr std::size_t kMaxReasonBytes = 512;
inline constexpr std::size_t kMaxMediaTypeBytes = 127;
inline constexpr std::uint32_t kMaxChunkSize = 1u << 20;

using TransferId = std::array<std::uint8_t, 16>;
using Sha256 = std::array<std::uint8_t, 32>;

enum class FileMessageKind : std::uint8_t {
  offer = 1,
  accept = 2,
  decline = 3,
  chunk = 4,
  progress = 5,
  complete = 6,
  cancel = 7,
};

struct FileMessage {
  FileMessageKind kind = FileMessageKind::offer;
  TransferId id{};
  std::uint64_t size = 0;        // offer
  std::uint32_t chunk_size = 0;  // offer
  Sha256 sha256{};               // offer: the file's; chunk: the data's
  std::string_view name;         // offer
  std::string_view media_type;   // offer (may be empty)
  std::uint64_t offset = 0;      // accept, chunk, progress
  bool resend = false;           // progress
  bool ok = false;               // complete
  std::string_view reason;       // decline, complete, cancel
  ByteView data;                 // chunk
};

Bytes encode_file_message(const FileMessage& message);
// The chunk header (kind, id, offset, sha256) for `data_size` bytes of data appended by the caller.
Bytes encode_chunk_header(const TransferId& id, std::uint64_t offset, const Sha256& sha256,
                          std::size_t data_size);
std::expected<FileMessage, std::error_code> decode_file_message(ByteView bytes);

// Whether `name` may name a received file: 1..255 bytes of UTF-8 with no '/', '\\', NUL or control
// character, not "." or "..", no leading or trailing space. The reason when it may not.
std::expected<void, std::string> check_file_name(std::string_view name);

std::string to_hex(const TransferId& id);
std::expected<TransferId, std::error_code> transfer_id_from_hex(std::string_view hex);

}  // namespace hyphae::files
