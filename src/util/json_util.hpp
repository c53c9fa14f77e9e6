// Small JSON helpers shared by the API server, the node's JSON views and the CLI: text that comes
// from the network may not be UTF-8, and nlohmann::json::dump() throws on such strings.
// Stateless functions; safe from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.hpp"

namespace hyphae {

// Well-formed UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates (U+D800..U+DFFF),
// nothing above U+10FFFF.
bool is_valid_utf8(ByteView bytes);
bool is_valid_utf8(std::string_view text);
// `text` with every ill-formed sequence replaced by U+FFFD (for display-only text from the network).
std::string sanitize_utf8(std::string_view text);
// Replaces ill-formed UTF-8 in every string (and object key) of `value`, in place.
void sanitize_strings(nlohmann::json& value);
// Serializes `value` without ever throwing on ill-formed UTF-8 (replaced by U+FFFD).
std::string dump_json(const nlohmann::json& value, int indent = -1);
std::string base64_encode(ByteView bytes);
std::optional<Bytes> base64_decode(std::string_view text);
// Puts `payload` as text when it is UTF-8, else as `payload_base64`.
void put_payload(nlohmann::json& out, ByteView payload);

}  // namespace hyphae
