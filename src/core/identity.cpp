#include "core/identity.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.hpp"

namespace hyphae {
namespace {

constexpr const char* kKeyFileName = "identity.key";
constexpr std::size_t kMaxKeyFileSize = 4096;

void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  (void)ok;
}

std::unexpected<std::error_code> fail(Errc e) {
  return std::unexpected(make_error_code(e));
}
std::unexpected<std::error_code> fail_errno(int err) {
  return std::unexpected(std::error_code(err, std::system_category()));
}

// Owns a file descriptor for the duration of a scope.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool write_all(int fd, const std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

std::expected<Identity, std::error_code> load_from_fd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail_errno(errno);
  if (!S_ISREG(st.st_mode)) return fail(Errc::insecure_key_file);
  if ((st.st_mode & 077) != 0) return fail(Errc::insecure_key_file);
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > kMaxKeyFileSize)
    return fail(Errc::malformed);
  Bytes buf(kMaxKeyFileSize + 1);
  std::size_t got = 0;
  while (got < buf.size()) {
    ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      sodium_memzero(buf.data(), buf.size());
      return fail_errno(err);
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  auto id = got > kMaxKeyFileSize ? std::expected<Identity, std::error_code>(fail(Errc::malformed))
                                  : Identity::from_private_key_protobuf(ByteView(buf.data(), got));
  sodium_memzero(buf.data(), buf.size());
  return id;
}

std::error_code fsync_dir(const std::filesystem::path& dir) {
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0) return {errno, std::system_category()};
  if (::fsync(d.fd) != 0) return {errno, std::system_category()};
  return {};
}

std::error_code ensure_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return {};
  auto parent = dir.parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
    if (ec) return ec;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return {errno, std::system_category()};
  return {};
}

// Writes a new key to a private temporary file, then links it into place (fails with EEXIST if
// another process won the race; the caller then loads that key instead).
std::expected<Identity, std::error_code> create_key_file(const std::filesystem::path& dir,
                                                         const std::filesystem::path& file) {
  if (auto ec = ensure_dir(dir)) return std::unexpected(ec);
  Identity id = Identity::generate();
  Bytes pb = id.private_key_protobuf();
  std::array<std::uint8_t, 8> tag;
  randombytes_buf(tag.data(), tag.size());
  const auto tmp = dir / (std::string(".") + kKeyFileName + ".tmp." + to_hex(tag));
  std::error_code ec;
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd.fd < 0) {
      int err = errno;
      sodium_memzero(pb.data(), pb.size());
      return fail_errno(err);
    }
    // The umask can only narrow 0600; make the mode exact anyway.
    if (::fchmod(fd.fd, 0600) != 0 || !write_all(fd.fd, pb.data(), pb.size()) || ::fsync(fd.fd) != 0)
      ec = {errno, std::system_category()};
  }
  sodium_memzero(pb.data(), pb.size());
  if (!ec && ::link(tmp.c_str(), file.c_str()) != 0) ec = {errno, std::system_category()};
  ::unlink(tmp.c_str());
  if (ec) return std::unexpected(ec);
  if (auto sync_ec = fsync_dir(dir)) return std::unexpected(sync_ec);
  return id;
}

}  // namespace

Identity::~Identity() {
  sodium_memzero(secret_key_.data(), secret_key_.size());
  sodium_memzero(x25519_private_.data(), x25519_private_.size());
}

Identity Identity::from_seed(const std::array<std::uint8_t, 32>& seed) {
  ensure_sodium();
  Identity id;
  crypto_sign_seed_keypair(id.public_key_.data(), id.secret_key_.data(), seed.data());
  crypto_sign_ed25519_sk_to_curve25519(id.x25519_private_.data(), id.secret_key_.data());
  if (crypto_sign_ed25519_pk_to_curve25519(id.x25519_public_.data(), id.public_key_.data()) != 0)
    crypto_scalarmult_base(id.x25519_public_.data(), id.x25519_private_.data());  // not reached for real keys
  id.peer_id_ = PeerId::from_ed25519(id.public_key_);
  return id;
}

Identity Identity::generate() {
  ensure_sodium();
  std::array<std::uint8_t, 32> seed;
  randombytes_buf(seed.data(), seed.size());
  Identity id = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return id;
}

std::expected<Identity, std::error_code> Identity::from_private_key_protobuf(ByteView pb) {
  // Canonical PrivateKey{Type=1, Data=64 bytes} or the legacy 96-byte Data (seed||pub||pub).
  if (pb.size() < 4 || pb[0] != 0x08) return fail(Errc::malformed);
  if (pb[1] != 0x01) return fail(pb[1] <= 3 ? Errc::unsupported : Errc::malformed);
  if (pb[2] != 0x12) return fail(Errc::malformed);
  const std::size_t len = pb[3];
  if ((len != 64 && len != 96) || pb.size() != 4 + len) return fail(Errc::malformed);
  ByteView data = pb.subspan(4);
  if (len == 96 && sodium_memcmp(data.data() + 32, data.data() + 64, 32) != 0) return fail(Errc::malformed);
  std::array<std::uint8_t, 32> seed;
  std::memcpy(seed.data(), data.data(), seed.size());
  Identity id = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  if (std::memcmp(id.public_key_.data(), data.data() + 32, 32) != 0) return fail(Errc::malformed);
  return id;
}

Bytes Identity::private_key_protobuf() const {
  Bytes out;
  out.reserve(4 + secret_key_.size());
  out.insert(out.end(), {0x08, 0x01, 0x12, 0x40});
  out.insert(out.end(), secret_key_.begin(), secret_key_.end());
  return out;
}

std::expected<Identity, std::error_code> Identity::load_or_create(const std::filesystem::path& dir) {
  ensure_sodium();
  const auto file = dir / kKeyFileName;
  for (int attempt = 0; attempt < 3; ++attempt) {
    // O_NONBLOCK: never hang on a FIFO planted at the path; O_NOFOLLOW: refuse symlinks.
    Fd fd(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (fd.fd >= 0) return load_from_fd(fd.fd);
    if (errno == ELOOP) return fail(Errc::insecure_key_file);
    if (errno != ENOENT) return fail_errno(errno);
    auto created = create_key_file(dir, file);
    if (created || created.error() != std::errc::file_exists) return created;
    // Another process created the key between our open and link: load theirs.
  }
  return fail_errno(EEXIST);
}

std::array<std::uint8_t, 64> Identity::sign(ByteView msg) const {
  std::array<std::uint8_t, 64> sig;
  crypto_sign_detached(sig.data(), nullptr, msg.data(), msg.size(), secret_key_.data());
  return sig;
}

bool Identity::verify(const std::array<std::uint8_t, 32>& pub, ByteView msg,
                      const std::array<std::uint8_t, 64>& sig) {
  ensure_sodium();
  return crypto_sign_verify_detached(sig.data(), msg.data(), msg.size(), pub.data()) == 0;
}

std::expected<std::array<std::uint8_t, 32>, std::error_code> Identity::x25519_public_of(const PeerId& peer) {
  auto ed = peer.ed25519_public_key();
  if (!ed) return std::unexpected(ed.error());
  ensure_sodium();
  std::array<std::uint8_t, 32> x;
  if (crypto_sign_ed25519_pk_to_curve25519(x.data(), ed->data()) != 0) return fail(Errc::malformed);
  return x;
}

}  // namespace hyphae
