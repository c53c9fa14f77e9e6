// bitchat::NoiseSession: XX handshake with peer-ID binding, crossed handshakes, the 4-byte
// explicit-nonce transport framing and its replay window (../shared/notes/bitchat.md §1.5, §2).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "bitchat/noise_session.hpp"
#include "core/error.hpp"

namespace hyphae::bitchat {
namespace {

using noise::KeyPair;

// "m<i>" (built with append: GCC 12 warns falsely on `"m" + std::to_string(i)`).
std::string label(int i) {
  std::string s = "m";
  s.append(std::to_string(i));
  return s;
}

std::error_code code(Errc e) {
  return make_error_code(e);
}

struct Peers {
  KeyPair ka = KeyPair::generate();
  KeyPair kb = KeyPair::generate();
  NoiseSession a{ka, NoiseSession::peer_id_of(kb.pub)};
  NoiseSession b{kb, NoiseSession::peer_id_of(ka.pub)};
};

// a initiates, b responds; returns the three message sizes.
std::vector<std::size_t> handshake(NoiseSession& a, NoiseSession& b, std::uint64_t now = 1000) {
  std::vector<std::size_t> sizes;
  auto m1 = a.start_as_initiator(now);
  EXPECT_TRUE(m1);
  sizes.push_back(m1->size());
  auto m2 = b.on_handshake(*m1, now);
  EXPECT_TRUE(m2 && *m2);
  sizes.push_back((*m2)->size());
  auto m3 = a.on_handshake(**m2, now);
  EXPECT_TRUE(m3 && *m3);
  sizes.push_back((*m3)->size());
  auto done = b.on_handshake(**m3, now);
  EXPECT_TRUE(done);
  EXPECT_FALSE(done && *done);
  return sizes;
}

TEST(BitchatNoise, PeerIdIsTruncatedSha256OfStaticKey) {
  // SHA-256 of 32 zero bytes = 66687aadf862bd77 6c8fc18b8e9f8e20...
  std::array<std::uint8_t, 32> zero{};
  EXPECT_EQ(NoiseSession::peer_id_of(zero), (ShortId{0x66, 0x68, 0x7a, 0xad, 0xf8, 0x62, 0xbd, 0x77}));
}

TEST(BitchatNoise, HandshakeMessageSizesAndEstablishment) {
  Peers p;
  EXPECT_EQ(p.a.state(), NoiseSession::State::idle);
  auto sizes = handshake(p.a, p.b);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{32, 96, 64}));
  ASSERT_TRUE(p.a.established());
  ASSERT_TRUE(p.b.established());
  EXPECT_TRUE(p.a.is_initiator());
  EXPECT_FALSE(p.b.is_initiator());
  EXPECT_EQ(p.a.remote_static(), p.kb.pub);
  EXPECT_EQ(p.b.remote_static(), p.ka.pub);
  EXPECT_EQ(p.a.remote_peer_id(), NoiseSession::peer_id_of(p.kb.pub));
  EXPECT_EQ(p.a.local_peer_id(), p.b.remote_peer_id());
  EXPECT_EQ(p.a.handshake_hash().size(), 32u);
  EXPECT_EQ(p.a.handshake_hash(), p.b.handshake_hash());
}

TEST(BitchatNoise, TransportBothWaysWithBigEndianCounterPrefix) {
  Peers p;
  handshake(p.a, p.b);
  for (std::uint32_t i = 0; i < 300; ++i) {
    std::string text = "a->b " + std::to_string(i);
    auto wire = p.a.encrypt(as_bytes(text));
    ASSERT_TRUE(wire);
    ASSERT_EQ(wire->size(), text.size() + 4 + 16);
    EXPECT_EQ(get_u32be(wire->data()), i);
    auto plain = p.b.decrypt(*wire);
    ASSERT_TRUE(plain) << plain.error().message();
    EXPECT_EQ(to_string(*plain), text);
  }
  auto back = p.b.encrypt(as_bytes("b->a"));
  ASSERT_TRUE(back);
  EXPECT_EQ((Bytes{(*back)[0], (*back)[1], (*back)[2], (*back)[3]}), (Bytes{0, 0, 0, 0}));
  auto plain = p.a.decrypt(*back);
  ASSERT_TRUE(plain);
  EXPECT_EQ(to_string(*plain), "b->a");
  // Empty plaintext is a valid message.
  auto empty = p.b.encrypt({});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->size(), 20u);
  EXPECT_EQ(get_u32be(empty->data()), 1u);
  ASSERT_TRUE(p.a.decrypt(*empty));

  EXPECT_EQ(p.a.messages_sent(), 300u);
  EXPECT_EQ(p.a.messages_received(), 2u);
  EXPECT_EQ(p.b.messages_sent(), 2u);
  EXPECT_EQ(p.b.messages_received(), 300u);
}

TEST(BitchatNoise, ReplayOfSameWireMessageIsRefused) {
  Peers p;
  handshake(p.a, p.b);
  auto wire = p.a.encrypt(as_bytes("once"));
  ASSERT_TRUE(wire);
  ASSERT_TRUE(p.b.decrypt(*wire));
  auto again = p.b.decrypt(*wire);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), code(Errc::replay));
  EXPECT_EQ(p.b.messages_received(), 1u);
}

TEST(BitchatNoise, OutOfOrderWithinWindowIsAccepted) {
  Peers p;
  handshake(p.a, p.b);
  std::vector<Bytes> wires;
  for (int i = 0; i < 10; ++i) wires.push_back(*p.a.encrypt(as_bytes(label(i))));
  for (int i : {9, 3, 0, 5, 1, 8, 2, 7, 4, 6}) {
    auto plain = p.b.decrypt(wires[i]);
    ASSERT_TRUE(plain) << i;
    EXPECT_EQ(to_string(*plain), label(i));
  }
  for (const auto& w : wires) EXPECT_EQ(p.b.decrypt(w).error(), code(Errc::replay));
}

TEST(BitchatNoise, MessageMoreThan1023BehindIsRefused) {
  Peers p;
  handshake(p.a, p.b);
  Bytes oldest = *p.a.encrypt(as_bytes("0"));
  Bytes second = *p.a.encrypt(as_bytes("1"));
  for (int i = 2; i <= 1024; ++i) ASSERT_TRUE(p.b.decrypt(*p.a.encrypt(as_bytes("x"))));
  // Highest accepted nonce is 1024: nonce 0 is 1024 behind (outside), nonce 1 is 1023 (inside).
  auto r0 = p.b.decrypt(oldest);
  ASSERT_FALSE(r0);
  EXPECT_EQ(r0.error(), code(Errc::replay));
  auto r1 = p.b.decrypt(second);
  ASSERT_TRUE(r1);
  EXPECT_EQ(to_string(*r1), "1");
  // A jump far ahead clears the window; everything behind it by >= 1024 is then refused.
  p.a.set_send_nonce_for_testing(5000);
  Bytes far = *p.a.encrypt(as_bytes("far"));
  ASSERT_TRUE(p.b.decrypt(far));
  EXPECT_EQ(p.b.decrypt(second).error(), code(Errc::replay));
}

TEST(BitchatNoise, TamperedMessageFailsWithoutBurningTheNonce) {
  Peers p;
  handshake(p.a, p.b);
  Bytes wire = *p.a.encrypt(as_bytes("secret"));
  Bytes bad = wire;
  bad[6] ^= 0x01;  // ciphertext
  EXPECT_EQ(p.b.decrypt(bad).error(), code(Errc::decrypt_failed));
  bad = wire;
  bad.back() ^= 0x80;  // tag
  EXPECT_EQ(p.b.decrypt(bad).error(), code(Errc::decrypt_failed));
  bad = wire;
  bad[3] ^= 0x01;  // nonce prefix: decrypts under another nonce, so the tag fails
  EXPECT_EQ(p.b.decrypt(bad).error(), code(Errc::decrypt_failed));
  EXPECT_EQ(p.b.decrypt(ByteView{wire.data(), 19}).error(), code(Errc::truncated));
  auto plain = p.b.decrypt(wire);
  ASSERT_TRUE(plain);
  EXPECT_EQ(to_string(*plain), "secret");
}

TEST(BitchatNoise, ResponderWithWrongStaticFailsAtMessage2) {
  KeyPair ka = KeyPair::generate(), kb = KeyPair::generate(), other = KeyPair::generate();
  NoiseSession a{ka, NoiseSession::peer_id_of(other.pub)};  // a expects someone else
  NoiseSession b{kb, NoiseSession::peer_id_of(ka.pub)};
  auto m1 = a.start_as_initiator(0);
  auto m2 = b.on_handshake(*m1, 0);
  ASSERT_TRUE(m2 && *m2);
  auto m3 = a.on_handshake(**m2, 0);
  ASSERT_FALSE(m3);
  EXPECT_EQ(m3.error(), code(Errc::peer_id_mismatch));
  EXPECT_TRUE(a.failed());
  EXPECT_EQ(a.encrypt(as_bytes("x")).error(), code(Errc::invalid_argument));
}

TEST(BitchatNoise, InitiatorWithWrongStaticFailsAtMessage3) {
  KeyPair ka = KeyPair::generate(), kb = KeyPair::generate(), other = KeyPair::generate();
  NoiseSession a{ka, NoiseSession::peer_id_of(kb.pub)};
  NoiseSession b{kb, NoiseSession::peer_id_of(other.pub)};  // b expects someone else
  auto m1 = a.start_as_initiator(0);
  auto m2 = b.on_handshake(*m1, 0);
  auto m3 = a.on_handshake(**m2, 0);
  ASSERT_TRUE(m3 && *m3);
  auto done = b.on_handshake(**m3, 0);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error(), code(Errc::peer_id_mismatch));
  EXPECT_TRUE(b.failed());
  EXPECT_FALSE(b.established());
  EXPECT_EQ(b.remote_static(), (std::array<std::uint8_t, 32>{}));
}

TEST(BitchatNoise, CrossedHandshakesResolveToLowerIdAsInitiator) {
  for (int round = 0; round < 8; ++round) {
    Peers p;
    auto m1a = p.a.start_as_initiator(100);
    auto m1b = p.b.start_as_initiator(100);
    ASSERT_TRUE(m1a && m1b);
    const bool a_lower = p.a.local_peer_id() < p.b.local_peer_id();
    NoiseSession& low = a_lower ? p.a : p.b;
    NoiseSession& high = a_lower ? p.b : p.a;
    Bytes low_m1 = a_lower ? *m1a : *m1b;
    Bytes high_m1 = a_lower ? *m1b : *m1a;

    // Both messages 1 cross in flight.
    auto ignored = low.on_handshake(high_m1, 150);
    ASSERT_TRUE(ignored);
    EXPECT_FALSE(*ignored);
    EXPECT_EQ(low.state(), NoiseSession::State::awaiting_message2);
    auto m2 = high.on_handshake(low_m1, 150);
    ASSERT_TRUE(m2 && *m2);
    EXPECT_EQ((*m2)->size(), 96u);
    EXPECT_EQ(high.state(), NoiseSession::State::awaiting_message3);
    EXPECT_EQ(high.handshake_started_ms(), 150u);

    auto m3 = low.on_handshake(**m2, 200);
    ASSERT_TRUE(m3 && *m3);
    ASSERT_TRUE(high.on_handshake(**m3, 200));
    ASSERT_TRUE(low.established());
    ASSERT_TRUE(high.established());
    EXPECT_TRUE(low.is_initiator());
    EXPECT_FALSE(high.is_initiator());
    auto plain = high.decrypt(*low.encrypt(as_bytes("hi")));
    ASSERT_TRUE(plain);
    EXPECT_EQ(to_string(*plain), "hi");
    ASSERT_TRUE(low.decrypt(*high.encrypt(as_bytes("hello"))));
  }
}

TEST(BitchatNoise, EncryptRefusesWhenCounterReaches2To32Minus1) {
  Peers p;
  handshake(p.a, p.b);
  p.a.set_send_nonce_for_testing(NoiseSession::kMaxSendNonce - 1);
  auto last = p.a.encrypt(as_bytes("last"));
  ASSERT_TRUE(last);
  EXPECT_EQ(get_u32be(last->data()), 0xFFFFFFFEu);
  auto plain = p.b.decrypt(*last);
  ASSERT_TRUE(plain);
  EXPECT_EQ(to_string(*plain), "last");
  auto refused = p.a.encrypt(as_bytes("one more"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), code(Errc::too_large));
  EXPECT_TRUE(p.a.needs_rekey(1000));
}

TEST(BitchatNoise, StateMachineRefusesUnexpectedMessages) {
  Peers p;
  EXPECT_EQ(p.a.encrypt(as_bytes("x")).error(), code(Errc::invalid_argument));
  EXPECT_EQ(p.a.decrypt(Bytes(40)).error(), code(Errc::invalid_argument));
  EXPECT_EQ(p.a.on_handshake(Bytes(33), 0).error(), code(Errc::malformed));
  EXPECT_EQ(p.a.on_handshake(Bytes(96), 0).error(), code(Errc::invalid_argument));
  EXPECT_EQ(p.a.state(), NoiseSession::State::idle);
  handshake(p.a, p.b);
  // An unauthenticated message 1 does not tear down an established session.
  KeyPair kc = KeyPair::generate();
  NoiseSession c{kc, p.a.local_peer_id()};
  auto m1 = c.start_as_initiator(0);
  EXPECT_EQ(p.a.on_handshake(*m1, 0).error(), code(Errc::invalid_argument));
  EXPECT_TRUE(p.a.established());
  ASSERT_TRUE(p.b.decrypt(*p.a.encrypt(as_bytes("still here"))));
}

TEST(BitchatNoise, TimeoutsAndRekeyPolicy) {
  Peers p;
  auto m1 = p.a.start_as_initiator(1'000);
  EXPECT_FALSE(p.a.handshake_timed_out(10'999));
  EXPECT_TRUE(p.a.handshake_timed_out(11'000));
  auto m2 = p.b.on_handshake(*m1, 2'000);
  EXPECT_FALSE(p.b.handshake_timed_out(21'999));
  EXPECT_TRUE(p.b.handshake_timed_out(22'000));
  ASSERT_TRUE(p.b.on_handshake(**p.a.on_handshake(**m2, 3'000), 3'000));
  EXPECT_FALSE(p.a.handshake_timed_out(1'000'000));
  EXPECT_EQ(p.a.established_ms(), 3'000u);
  EXPECT_FALSE(p.a.needs_rekey(3'000));
  EXPECT_FALSE(p.a.needs_rekey(3'000 + 3'599'999));
  EXPECT_TRUE(p.a.needs_rekey(3'000 + 3'600'000));
  for (int i = 0; i < 600; ++i) ASSERT_TRUE(p.b.decrypt(*p.a.encrypt(as_bytes("x"))));
  for (int i = 0; i < 399; ++i) ASSERT_TRUE(p.a.decrypt(*p.b.encrypt(as_bytes("y"))));
  EXPECT_FALSE(p.a.needs_rekey(4'000));  // 999 messages
  ASSERT_TRUE(p.a.decrypt(*p.b.encrypt(as_bytes("y"))));
  EXPECT_TRUE(p.a.needs_rekey(4'000));  // 1000 messages
  EXPECT_FALSE(p.a.needs_rekey(4'000, 3'600'000, 5'000));
}

}  // namespace
}  // namespace hyphae::bitchat
