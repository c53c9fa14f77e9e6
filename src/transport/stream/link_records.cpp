#include "transport/stream/link_records.hpp"

#include "core/error.hpp"

namespace hyphae::stream {

void put_record_header(Bytes& out, RecordType type, std::size_t body_size) {
  out.push_back(static_cast<std::uint8_t>(type));
  put_uvarint(out, body_size);
}

void put_record(Bytes& out, RecordType type, ByteView body) {
  put_record_header(out, type, body.size());
  append(out, body);
}

std::expected<std::optional<Record>, std::error_code> RecordReader::next() {
  if (consumed_ > 0 && consumed_ * 2 >= buffer_.size()) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  ByteView rest(buffer_.data() + consumed_, buffer_.size() - consumed_);
  if (rest.empty()) return std::optional<Record>{};
  auto type = rest[0];
  if (type < 1 || type > 9) return std::unexpected(make_error_code(Errc::malformed));
  std::size_t pos = 1;
  std::uint64_t length = 0;
  if (!get_uvarint(rest, pos, length)) {
    if (rest.size() >= 11) return std::unexpected(make_error_code(Errc::malformed));
    return std::optional<Record>{};  // varint not complete yet
  }
  if (pos > 2 && rest[pos - 1] == 0) return std::unexpected(make_error_code(Errc::malformed));  // not minimal
  if (length > max_record_) return std::unexpected(make_error_code(Errc::too_large));
  if (rest.size() - pos < length) return std::optional<Record>{};
  Record record{static_cast<RecordType>(type), rest.subspan(pos, length)};
  consumed_ += pos + length;
  return std::optional<Record>{record};
}

}  // namespace hyphae::stream
