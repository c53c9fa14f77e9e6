// Fuzz target: the identity key file loader. The input is written as DIR/identity.key (mode 0600)
// and loaded with Identity::load_or_create, which must agree with the in-memory parser
// from_private_key_protobuf: same success, same PeerId, and a loaded key that re-encodes to a file
// that loads to the same identity. A refused file is never replaced.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "core/bytes.hpp"
#include "core/identity.hpp"

namespace {

const std::filesystem::path& work_dir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path base = std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                     : std::filesystem::temp_directory_path();
    std::string tmpl = (base / "hyphae-fuzz-identity-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    return std::filesystem::path(tmpl);
  }();
  // Registered once `dir` exists, so it runs before `dir` is destroyed.
  static const int cleanup = std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  });
  (void)cleanup;
  return dir;
}

hyphae::Bytes read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return hyphae::Bytes((std::istreambuf_iterator<char>(in)), {});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const hyphae::ByteView input(data, size);
  const auto file = work_dir() / "identity.key";
  std::filesystem::remove(file);
  {
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) std::abort();
    for (std::size_t done = 0; done < size;) {
      ssize_t w = ::write(fd, data + done, size - done);
      if (w <= 0) std::abort();
      done += static_cast<std::size_t>(w);
    }
    ::close(fd);
  }

  auto parsed = hyphae::Identity::from_private_key_protobuf(input);
  auto loaded = hyphae::Identity::load_or_create(work_dir());
  if (parsed.has_value() != loaded.has_value()) std::abort();
  if (!loaded) {
    if (loaded.error().value() == 0) std::abort();
    if (read_file(file) != hyphae::Bytes(data, data + size)) std::abort();  // left as it was
    return 0;
  }
  if (parsed->peer_id() != loaded->peer_id() || loaded->peer_id().empty()) std::abort();
  if (loaded->peer_id() != hyphae::PeerId::from_ed25519(loaded->public_key())) std::abort();
  auto again = hyphae::Identity::from_private_key_protobuf(loaded->private_key_protobuf());
  if (!again || again->peer_id() != loaded->peer_id()) std::abort();
  const std::uint8_t msg[] = {'f', 'u', 'z', 'z'};
  if (!hyphae::Identity::verify(loaded->public_key(), msg, loaded->sign(msg))) std::abort();
  return 0;
}
