// File work for transfers, run on a worker thread (never the node's strand): reading a chunk into a
// ready-to-send chunk message, checking and writing a received chunk, hashing a whole file,
// finalizing a received file under a name that takes no one else's, and disk space. SHA-256 comes
// from OpenSSL (SHA extensions where the CPU has them). Errors are sentences (the errno's text,
// "disk full" for ENOSPC). Thread-safety: pure functions over the file system.
#pragma once

#include <expected>
#include <filesystem>
#include <string>

#include "core/bytes.hpp"
#include "files/file_messages.hpp"

namespace hyphae::files {

Sha256 sha256_of(ByteView data);
std::expected<Sha256, std::string> sha256_file(const std::filesystem::path& path);

// The chunk message for `length` bytes of `path` at `offset` (header with the data's SHA-256).
std::expected<Bytes, std::string> read_chunk(const TransferId& id, const std::filesystem::path& path,
                                             std::uint64_t offset, std::uint32_t length);

enum class WriteOutcome { written, bad_hash, io_error };
// Writes `data` at `offset` of `path` (created if missing); the caller has checked its hash.
WriteOutcome write_chunk(const std::filesystem::path& path, std::uint64_t offset, ByteView data,
                         std::string& error);

// Creates `path` if missing and cuts it to `keep` bytes (a restart resumes there).
std::expected<void, std::string> prepare_part(const std::filesystem::path& path, std::uint64_t keep);

// Hashes `part`; when it matches, moves it into `dir` as `name` (or "name (1).ext", ...: an existing
// file is never replaced) and returns the final path. On a mismatch: unexpected("mismatch").
std::expected<std::filesystem::path, std::string> verify_and_finalize(const std::filesystem::path& part,
                                                                      const Sha256& sha256,
                                                                      const std::filesystem::path& dir,
                                                                      const std::string& name);

// Bytes free for this process in the file system holding `dir` (0 when unknown).
std::uint64_t free_bytes(const std::filesystem::path& dir);

}  // namespace hyphae::files
