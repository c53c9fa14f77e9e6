// FrameReader: splits a byte stream into frames with a 2-byte big-endian length prefix
// (libp2p's Noise framing). Sans-IO: feed it whatever the socket returned, then pull frames.
// Not thread-safe; owned by one connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <system_error>

#include "core/bytes.hpp"

namespace hyphae::net {

class FrameReader {
 public:
  // max_frame bounds the declared length (at most 65535 by construction of the prefix).
  explicit FrameReader(std::size_t max_frame = 65535) : max_frame_(max_frame) {}

  // Appends bytes read from the socket.
  void feed(ByteView data) { append(buffer_, data); }

  // The next complete frame, std::nullopt when more bytes are needed, or an error
  // (Errc::too_large for a frame over max_frame; Errc::malformed for a zero-length frame).
  // The returned view stays valid until the next call to feed() or next().
  std::expected<std::optional<ByteView>, std::error_code> next();

  std::size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  Bytes buffer_;
  std::size_t consumed_ = 0;
  std::size_t max_frame_;
};

// Writes the 2-byte length prefix for a frame of `size` bytes (size must be <= 65535).
void put_frame_header(Bytes& out, std::size_t size);

}  // namespace hyphae::net
