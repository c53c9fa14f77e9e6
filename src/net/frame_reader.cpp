#include "net/frame_reader.hpp"

#include <stdexcept>

#include "core/error.hpp"

namespace hyphae::net {

std::expected<std::optional<ByteView>, std::error_code> FrameReader::next() {
  // Compact once the consumed prefix dominates, so the buffer does not grow without bound.
  if (consumed_ > 0 && consumed_ * 2 >= buffer_.size()) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  std::size_t available = buffer_.size() - consumed_;
  if (available < 2) return std::optional<ByteView>{};
  std::size_t length = get_u16be(buffer_.data() + consumed_);
  if (length == 0) return std::unexpected(make_error_code(Errc::malformed));
  if (length > max_frame_) return std::unexpected(make_error_code(Errc::too_large));
  if (available < 2 + length) return std::optional<ByteView>{};
  ByteView frame(buffer_.data() + consumed_ + 2, length);
  consumed_ += 2 + length;
  return std::optional<ByteView>{frame};
}

void put_frame_header(Bytes& out, std::size_t size) {
  if (size > 65535) throw std::logic_error("frame larger than 65535 bytes");
  put_u16be(out, static_cast<std::uint16_t>(size));
}

}  // namespace hyphae::net
