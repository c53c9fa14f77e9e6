// base58btc (Bitcoin alphabet) text encoding, used for libp2p peer IDs ("12D3KooW...").
// Pure functions; safe from any thread. Inputs are borrowed, results are owned by the caller.
// Decoding is quadratic in the input length, so it refuses inputs longer than kBase58MaxInput.
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>
#include <system_error>

#include "core/bytes.hpp"

namespace hyphae {

// Longest text base58btc_decode accepts (Errc::too_large beyond). Peer IDs are ~52 characters.
inline constexpr std::size_t kBase58MaxInput = 1024;

std::string base58btc_encode(ByteView data);
// Errc::malformed on a character outside the alphabet (including whitespace), too_large if too long.
// The empty string decodes to empty bytes.
std::expected<Bytes, std::error_code> base58btc_decode(std::string_view text);

}  // namespace hyphae
