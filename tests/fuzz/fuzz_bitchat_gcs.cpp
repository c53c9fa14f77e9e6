// Fuzz target: BitChat's Golomb-coded set decoder (REQUEST_SYNC filters). Input: [P byte][M as 4
// bytes big-endian][filter data]. decode_gcs must not crash, every value must be in [1, M) and
// strictly increasing, and when it decodes, re-encoding the values must give a filter that decodes
// to the same values, no larger than the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "bitchat/gcs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyphae::bitchat;
  if (size < 5) return 0;
  GcsFilter f;
  f.p = data[0];
  f.m = hyphae::get_u32be(data + 1);
  f.data.assign(data + 5, data + size);
  auto values = decode_gcs(f);
  if (!values) return 0;
  std::uint64_t prev = 0;
  for (std::uint64_t v : *values) {
    if (v <= prev || v > f.m) std::abort();
    prev = v;
  }
  auto again = encode_gcs(f.p, f.m, *values);
  if (!again || again->data.size() > f.data.size()) std::abort();
  auto back = decode_gcs(*again);
  if (!back || *back != *values) std::abort();
  auto reader = GcsReader::open(*again);
  if (!reader) std::abort();
  for (std::uint64_t v : *values)
    if (!reader->contains_value(v)) std::abort();
  return 0;
}
