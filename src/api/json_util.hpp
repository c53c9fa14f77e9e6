// Small JSON helpers shared by the API server and the CLI: payloads that may not be UTF-8.
// Stateless functions; safe from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/bytes.hpp"

namespace hyphae {

bool is_valid_utf8(ByteView bytes);
std::string base64_encode(ByteView bytes);
std::optional<Bytes> base64_decode(std::string_view text);
// Puts `payload` as text when it is UTF-8, else as `payload_base64`.
void put_payload(nlohmann::json& out, ByteView payload);

}  // namespace hyphae
