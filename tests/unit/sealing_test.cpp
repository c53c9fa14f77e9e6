#include "node/sealing.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/identity.hpp"

namespace hyphae {
namespace {

noise::KeyPair x25519_of(const Identity& id) {
  noise::KeyPair k;
  k.priv = id.x25519_private();
  k.pub = id.x25519_public();
  return k;
}

TEST(Sealing, LargePayloadRoundTripsToTheRecipientOnly) {
  auto alice = Identity::generate(), bob = Identity::generate(), eve = Identity::generate();
  Bytes payload(1 << 20);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7);
  auto bob_key = Identity::x25519_public_of(bob.peer_id());
  ASSERT_TRUE(bob_key);
  auto sealed = seal_payload(x25519_of(alice), *bob_key, payload);
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->size(), payload.size() + kSealedPayloadOverhead);
  auto opened = open_payload(x25519_of(bob), *sealed);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->payload, payload);
  EXPECT_EQ(opened->sender_pub, alice.x25519_public());
  EXPECT_EQ(open_payload(x25519_of(eve), *sealed).error(), make_error_code(Errc::bad_seal));
  for (std::size_t at : {std::size_t{0}, std::size_t{100}, std::size_t{200}, sealed->size() - 1}) {
    Bytes tampered = *sealed;
    tampered[at] ^= 0x80;
    EXPECT_FALSE(open_payload(x25519_of(bob), tampered)) << "byte " << at;
  }
  EXPECT_FALSE(open_payload(x25519_of(bob), ByteView(sealed->data(), 50)));
}

}  // namespace
}  // namespace hyphae
