// This node's BitChat announce: built, framed, relayed and checked (peer ID binding, signature,
// freshness), and it names the Hyphae PeerId behind the mesh ID.
#include <gtest/gtest.h>

#include "bitchat/announce.hpp"
#include "core/error.hpp"
#include "crypto/noise/noise.hpp"

namespace hyphae::bitchat {
namespace {

Key32 key_of(const noise::KeyPair& kp) {
  Key32 k;
  std::copy(kp.pub.begin(), kp.pub.end(), k.begin());
  return k;
}

TEST(BitchatAnnounce, ASignedAnnounceNamesThePeerIdAndSurvivesRelaying) {
  const auto identity = Identity::generate();
  const auto noise_key = key_of(noise::KeyPair::generate());
  AnnounceOptions options;
  options.nickname = "hyphae-node";
  options.neighbours = {ShortId{1, 2, 3, 4, 5, 6, 7, 8}};
  auto packet = make_announce(identity, noise_key, options, 1'700'000'000'000ull);
  ASSERT_TRUE(packet) << packet.error().message();
  EXPECT_EQ(packet->sender, mesh_id_of(noise_key));
  EXPECT_TRUE(packet->is_broadcast());
  auto frame = encode(*packet);
  ASSERT_TRUE(frame);
  auto received = decode(*frame);
  ASSERT_TRUE(received);
  received->ttl = 3;  // relayed a few hops: the signature excludes the TTL
  auto checked = verify_announce(*received, 1'700'000'060'000ull);
  ASSERT_TRUE(checked) << checked.error().message();
  EXPECT_EQ(checked->peer_id, identity.peer_id());
  EXPECT_EQ(checked->announce.nickname, "hyphae-node");
  EXPECT_EQ(checked->announce.neighbours, options.neighbours);
  EXPECT_EQ(checked->mesh_id, mesh_id_of(noise_key));
}

TEST(BitchatAnnounce, ForgeriesAndOldAnnouncesAreRefused) {
  const auto identity = Identity::generate();
  const auto noise_key = key_of(noise::KeyPair::generate());
  auto packet = *make_announce(identity, noise_key, {.nickname = "n"}, 1'000'000'000);
  // Claiming another mesh ID than the Noise key's.
  auto wrong_id = packet;
  wrong_id.sender[0] ^= 1;
  EXPECT_EQ(verify_announce(wrong_id, 1'000'000'000).error(), make_error_code(Errc::peer_id_mismatch));
  // A changed nickname breaks the signature.
  auto changed = packet;
  auto a = *decode_announce(changed.payload);
  a.nickname = "mallory";
  changed.payload = *encode_announce(a);
  changed.received_compressed.reset();
  EXPECT_EQ(verify_announce(changed, 1'000'000'000).error(), make_error_code(Errc::bad_signature));
  // Unsigned, not an announce, or an hour old.
  auto unsigned_one = packet;
  unsigned_one.signature.reset();
  EXPECT_EQ(verify_announce(unsigned_one, 1'000'000'000).error(), make_error_code(Errc::malformed));
  auto message = packet;
  message.type = static_cast<std::uint8_t>(MessageType::message);
  EXPECT_EQ(verify_announce(message, 1'000'000'000).error(), make_error_code(Errc::invalid_argument));
  EXPECT_EQ(verify_announce(packet, 1'000'000'000 + 3'600'000).error(), make_error_code(Errc::stale));
}

}  // namespace
}  // namespace hyphae::bitchat
