#include "files/file_io.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace hyphae::files {

namespace {

std::string errno_text(const char* what) {
  const int e = errno;
  if (e == ENOSPC || e == EDQUOT) return std::string("disk full: ") + what + ": " + std::strerror(e);
  return std::string(what) + ": " + std::strerror(e);
}

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

struct Hasher {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  Hasher() { EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr); }
  void update(const void* data, std::size_t n) { EVP_DigestUpdate(ctx.get(), data, n); }
  Sha256 finish() {
    Sha256 out{};
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx.get(), out.data(), &n);
    return out;
  }
};

}  // namespace

Sha256 sha256_of(ByteView data) {
  Hasher h;
  h.update(data.data(), data.size());
  return h.finish();
}

std::expected<Sha256, std::string> sha256_file(const std::filesystem::path& path) {
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.fd < 0) return std::unexpected(errno_text("open"));
  Hasher h;
  Bytes buffer(std::size_t{1} << 20);
  for (;;) {
    const auto n = ::read(f.fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(errno_text("read"));
    }
    if (n == 0) break;
    h.update(buffer.data(), static_cast<std::size_t>(n));
  }
  return h.finish();
}

std::expected<Bytes, std::string> read_chunk(const TransferId& id, const std::filesystem::path& path,
                                             std::uint64_t offset, std::uint32_t length) {
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.fd < 0) return std::unexpected(errno_text("open"));
  Bytes out = encode_chunk_header(id, offset, Sha256{}, length);
  const std::size_t header = out.size();
  out.resize(header + length);
  std::size_t got = 0;
  while (got < length) {
    const auto n = ::pread(f.fd, out.data() + header + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(errno_text("read"));
    }
    if (n == 0) return std::unexpected("the file is shorter than when it was offered");
    got += static_cast<std::size_t>(n);
  }
  const auto hash = sha256_of(ByteView(out.data() + header, length));
  std::copy(hash.begin(), hash.end(), out.begin() + static_cast<std::ptrdiff_t>(header - hash.size()));
  return out;
}

WriteOutcome write_chunk(const std::filesystem::path& path, std::uint64_t offset, ByteView data,
                         std::string& error) {
  Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (f.fd < 0) {
    error = errno_text("open");
    return WriteOutcome::io_error;
  }
  std::size_t put = 0;
  while (put < data.size()) {
    const auto n = ::pwrite(f.fd, data.data() + put, data.size() - put, static_cast<off_t>(offset + put));
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno_text("write");
      return WriteOutcome::io_error;
    }
    put += static_cast<std::size_t>(n);
  }
  return WriteOutcome::written;
}

std::expected<void, std::string> prepare_part(const std::filesystem::path& path, std::uint64_t keep) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (f.fd < 0) return std::unexpected(errno_text("open"));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return std::unexpected(errno_text("stat"));
  if (static_cast<std::uint64_t>(st.st_size) < keep)
    return std::unexpected("the partial file is shorter than recorded");
  if (::ftruncate(f.fd, static_cast<off_t>(keep)) != 0) return std::unexpected(errno_text("truncate"));
  return {};
}

std::expected<std::filesystem::path, std::string> verify_and_finalize(const std::filesystem::path& part,
                                                                      const Sha256& sha256,
                                                                      const std::filesystem::path& dir,
                                                                      const std::string& name) {
  auto hash = sha256_file(part);
  if (!hash) return std::unexpected(hash.error());
  if (*hash != sha256) return std::unexpected("mismatch");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::filesystem::path base(name);
  const auto stem = base.stem().string(), ext = base.extension().string();
  for (int n = 0; n < 10'000; ++n) {
    const auto target = dir / (n == 0 ? name : stem + " (" + std::to_string(n) + ")" + ext);
    // link() fails if the target exists: an existing file is never replaced.
    if (::link(part.c_str(), target.c_str()) == 0) {
      ::unlink(part.c_str());
      return target;
    }
    if (errno != EEXIST) return std::unexpected(errno_text("link"));
  }
  return std::unexpected("no free name for the file in " + dir.string());
}

std::uint64_t free_bytes(const std::filesystem::path& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

}  // namespace hyphae::files
