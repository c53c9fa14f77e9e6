// Identity: key derivation, signatures, X25519 derivation and the identity.key file.
#include "core/identity.hpp"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "core/error.hpp"

using namespace hyphae;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "hyphae-identity-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}

Bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), {});
}

void write_file(const fs::path& p, ByteView b, mode_t mode = 0600) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  ASSERT_EQ(::chmod(p.c_str(), mode), 0);
}

std::array<std::uint8_t, 32> seed_of(std::uint8_t v) {
  std::array<std::uint8_t, 32> s{};
  s.fill(v);
  return s;
}

}  // namespace

TEST(Identity, FromSeedIsDeterministicAndGenerateIsRandom) {
  auto a = Identity::from_seed(seed_of(1));
  auto b = Identity::from_seed(seed_of(1));
  EXPECT_EQ(a.public_key(), b.public_key());
  EXPECT_EQ(a.peer_id(), b.peer_id());
  EXPECT_EQ(a.peer_id(), PeerId::from_ed25519(a.public_key()));
  EXPECT_NE(Identity::generate().peer_id(), Identity::generate().peer_id());
}

TEST(Identity, SignAndVerify) {
  auto id = Identity::from_seed(seed_of(2));
  const Bytes msg = {1, 2, 3, 4, 5};
  auto sig = id.sign(msg);
  EXPECT_TRUE(Identity::verify(id.public_key(), msg, sig));
  EXPECT_EQ(sig, id.sign(msg));  // Ed25519 is deterministic

  Bytes other = msg;
  other[0] ^= 1;
  EXPECT_FALSE(Identity::verify(id.public_key(), other, sig));
  auto bad_sig = sig;
  bad_sig[10] ^= 0x40;
  EXPECT_FALSE(Identity::verify(id.public_key(), msg, bad_sig));
  EXPECT_FALSE(Identity::verify(Identity::from_seed(seed_of(3)).public_key(), msg, sig));
  EXPECT_TRUE(Identity::verify(id.public_key(), {}, id.sign({})));
}

TEST(Identity, X25519KeysMatchPeerIdDerivationAndAgree) {
  auto alice = Identity::from_seed(seed_of(4));
  auto bob = Identity::from_seed(seed_of(5));
  auto pub = Identity::x25519_public_of(alice.peer_id());
  ASSERT_TRUE(pub.has_value());
  EXPECT_EQ(*pub, alice.x25519_public());

  std::array<std::uint8_t, 32> base{};
  ASSERT_EQ(crypto_scalarmult_base(base.data(), alice.x25519_private().data()), 0);
  EXPECT_EQ(base, alice.x25519_public());

  std::array<std::uint8_t, 32> ab{}, ba{};
  ASSERT_EQ(crypto_scalarmult(ab.data(), alice.x25519_private().data(),
                              Identity::x25519_public_of(bob.peer_id())->data()),
            0);
  ASSERT_EQ(crypto_scalarmult(ba.data(), bob.x25519_private().data(),
                              Identity::x25519_public_of(alice.peer_id())->data()),
            0);
  EXPECT_EQ(ab, ba);

  EXPECT_EQ(Identity::x25519_public_of(PeerId{}).error(), Errc::invalid_argument);
  Bytes sha = {0x12, 0x20};
  sha.insert(sha.end(), 32, 9);
  EXPECT_EQ(Identity::x25519_public_of(*PeerId::from_bytes(sha)).error(), Errc::unsupported);
}

TEST(Identity, PrivateKeyProtobufRoundTripAndLegacyForm) {
  auto id = Identity::from_seed(seed_of(6));
  Bytes pb = id.private_key_protobuf();
  ASSERT_EQ(pb.size(), 68u);
  EXPECT_EQ(Bytes(pb.begin(), pb.begin() + 4), (Bytes{0x08, 0x01, 0x12, 0x40}));
  EXPECT_EQ(Identity::from_private_key_protobuf(pb)->peer_id(), id.peer_id());

  Bytes legacy = {0x08, 0x01, 0x12, 0x60};
  legacy.insert(legacy.end(), pb.begin() + 4, pb.end());
  legacy.insert(legacy.end(), pb.end() - 32, pb.end());
  EXPECT_EQ(Identity::from_private_key_protobuf(legacy)->peer_id(), id.peer_id());
  legacy.back() ^= 1;
  EXPECT_EQ(Identity::from_private_key_protobuf(legacy).error(), Errc::malformed);

  Bytes wrong_pub = pb;
  wrong_pub.back() ^= 1;
  EXPECT_EQ(Identity::from_private_key_protobuf(wrong_pub).error(), Errc::malformed);
  Bytes secp = pb;
  secp[1] = 2;
  EXPECT_EQ(Identity::from_private_key_protobuf(secp).error(), Errc::unsupported);
  for (std::size_t n = 0; n < pb.size(); ++n)
    EXPECT_FALSE(Identity::from_private_key_protobuf(ByteView(pb).first(n)).has_value()) << n;
}

TEST(IdentityFile, CreateThenLoadRoundTripWithMode0600) {
  TempDir dir;
  auto created = Identity::load_or_create(dir.path());
  ASSERT_TRUE(created.has_value()) << created.error().message();
  const auto file = dir.path() / "identity.key";
  ASSERT_TRUE(fs::is_regular_file(file));
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(read_file(file), created->private_key_protobuf());
  // Only the key file is left behind (the temporary file was removed).
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{}), 1);

  auto loaded = Identity::load_or_create(dir.path());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
  EXPECT_EQ(loaded->peer_id(), created->peer_id());
  EXPECT_EQ(loaded->public_key(), created->public_key());
  EXPECT_EQ(loaded->x25519_private(), created->x25519_private());
  const Bytes msg = {9, 9, 9};
  EXPECT_TRUE(Identity::verify(created->public_key(), msg, loaded->sign(msg)));
}

TEST(IdentityFile, CreatesMissingDirectoryPrivately) {
  TempDir dir;
  const auto nested = dir.path() / "a" / "node";
  auto id = Identity::load_or_create(nested);
  ASSERT_TRUE(id.has_value()) << id.error().message();
  EXPECT_EQ(mode_of(nested), 0700u);
  EXPECT_EQ(mode_of(nested / "identity.key"), 0600u);
}

TEST(IdentityFile, RefusesGroupOrOtherPermissions) {
  TempDir dir;
  auto id = Identity::load_or_create(dir.path());
  ASSERT_TRUE(id.has_value());
  const auto file = dir.path() / "identity.key";
  for (mode_t mode : {0644, 0640, 0604, 0610, 0601, 0660}) {
    ASSERT_EQ(::chmod(file.c_str(), mode), 0);
    auto r = Identity::load_or_create(dir.path());
    ASSERT_FALSE(r.has_value()) << std::oct << mode;
    EXPECT_EQ(r.error(), Errc::insecure_key_file) << std::oct << mode;
  }
  ASSERT_EQ(::chmod(file.c_str(), 0400), 0);
  auto ro = Identity::load_or_create(dir.path());
  ASSERT_TRUE(ro.has_value());
  EXPECT_EQ(ro->peer_id(), id->peer_id());
  // The refused file was left untouched (never replaced by a new key).
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  EXPECT_EQ(Identity::load_or_create(dir.path())->peer_id(), id->peer_id());
}

TEST(IdentityFile, RefusesSymlink) {
  TempDir dir;
  const auto real = dir.path() / "real";
  ASSERT_TRUE(Identity::load_or_create(real).has_value());
  fs::create_directory(dir.path() / "other");
  fs::create_symlink(real / "identity.key", dir.path() / "other" / "identity.key");
  auto r = Identity::load_or_create(dir.path() / "other");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Errc::insecure_key_file);
}

TEST(IdentityFile, CorruptFilesAreErrorsNotReplaced) {
  TempDir dir;
  const auto file = dir.path() / "identity.key";
  const Bytes good = Identity::from_seed(seed_of(7)).private_key_protobuf();

  Bytes truncated(good.begin(), good.begin() + 40);
  Bytes flipped = good;
  flipped[50] ^= 0x01;  // public half no longer matches the seed
  Bytes garbage(68, 0xaa);
  Bytes padded = good;
  padded.push_back(0);
  for (const Bytes& bad : {Bytes{}, truncated, flipped, garbage, padded, Bytes(5000, 0x08)}) {
    write_file(file, bad);
    auto r = Identity::load_or_create(dir.path());
    ASSERT_FALSE(r.has_value()) << bad.size();
    EXPECT_EQ(r.error(), Errc::malformed) << bad.size();
    EXPECT_EQ(read_file(file), bad);
  }
  write_file(file, good);
  auto r = Identity::load_or_create(dir.path());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->peer_id(), Identity::from_seed(seed_of(7)).peer_id());
}

TEST(IdentityFile, ConcurrentCreatorsAgreeOnOneKey) {
  TempDir dir;
  std::vector<std::thread> threads;
  std::vector<std::expected<Identity, std::error_code>> results(
      8, std::unexpected(make_error_code(Errc::closed)));
  for (std::size_t i = 0; i < results.size(); ++i)
    threads.emplace_back([&, i] { results[i] = Identity::load_or_create(dir.path()); });
  for (auto& t : threads) t.join();
  for (auto& r : results) {
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->peer_id(), results[0]->peer_id());
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{}), 1);
}

TEST(IdentityFile, DirectoryThatCannotExistIsASystemError) {
  TempDir dir;
  const auto blocker = dir.path() / "not-a-dir";
  write_file(blocker, Bytes{1});
  auto r = Identity::load_or_create(blocker / "node");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().category(), std::system_category()) << r.error().message();
  EXPECT_FALSE(fs::exists(blocker / "node"));
}
