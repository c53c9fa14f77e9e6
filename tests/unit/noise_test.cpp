// hyphae::noise: published test vectors (cacophony, snow) plus behavioural tests.
#include "crypto/noise/noise.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "crypto/noise/primitives.hpp"

namespace {

using namespace hyphae;
using namespace hyphae::noise;
using json = nlohmann::json;
using Key = std::array<std::uint8_t, 32>;

Bytes hex(const json& j) {
  bool ok = false;
  Bytes b = from_hex(j.get<std::string>(), &ok);
  EXPECT_TRUE(ok || b.empty()) << j;
  return b;
}

Key key_from(const json& j) {
  Bytes b = hex(j);
  Key k{};
  EXPECT_EQ(b.size(), k.size());
  std::copy_n(b.begin(), std::min(b.size(), k.size()), k.begin());
  return k;
}

Key fixed_key(std::uint8_t seed) {
  Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed + 7 * i);
  return k;
}

// --- Test vectors ------------------------------------------------------------------------------

struct Counts {
  std::map<std::string, int> per_pattern;   // base pattern, e.g. "XK1"
  std::map<std::string, int> per_suite;     // e.g. "ChaChaPoly_SHA256"
  std::map<std::string, int> per_protocol;  // full pattern incl. modifiers, e.g. "XXpsk3"
  int run = 0;
  int skipped = 0;
};

HandshakeConfig side_config(const json& v, const Protocol& p, bool initiator) {
  const std::string pre = initiator ? "init_" : "resp_";
  HandshakeConfig c{.protocol = p, .initiator = initiator};
  c.prologue = hex(v.at(pre + "prologue"));
  if (v.contains(pre + "static")) c.s = KeyPair::from_private(key_from(v[pre + "static"]));
  if (v.contains(pre + "ephemeral")) c.e = KeyPair::from_private(key_from(v[pre + "ephemeral"]));
  if (v.contains(pre + "remote_static")) c.rs = key_from(v[pre + "remote_static"]);
  if (v.contains(pre + "psks"))
    for (const auto& k : v[pre + "psks"]) c.psks.push_back(key_from(k));
  return c;
}

// Runs one vector: handshake messages alternate initiator/responder starting with the initiator;
// transport messages continue the alternation (interactive) or all go initiator->responder
// (one-way patterns). Every ciphertext and the handshake hash are compared byte for byte.
void run_vector(const json& v, Counts& counts) {
  const std::string name = v.at("protocol_name");
  SCOPED_TRACE(name);
  auto proto = Protocol::parse(name);
  ASSERT_TRUE(proto.has_value()) << proto.error().message();
  ASSERT_EQ(proto->name(), name);
  if (!cipher_available(proto->cipher)) {
    ++counts.skipped;
    return;
  }
  auto init = HandshakeState::create(side_config(v, *proto, true));
  ASSERT_TRUE(init.has_value()) << init.error().message();
  auto resp = HandshakeState::create(side_config(v, *proto, false));
  ASSERT_TRUE(resp.has_value()) << resp.error().message();

  const bool one_way = is_one_way(proto->pattern);
  std::optional<std::pair<CipherState, CipherState>> ic, rc;
  const auto& messages = v.at("messages");
  ASSERT_GE(messages.size(), message_count(proto->pattern));
  for (std::size_t i = 0; i < messages.size(); ++i) {
    SCOPED_TRACE("message " + std::to_string(i));
    const Bytes payload = hex(messages[i].at("payload"));
    const Bytes expected = hex(messages[i].at("ciphertext"));
    if (!init->is_complete()) {
      const bool from_init = i % 2 == 0;
      HandshakeState& w = from_init ? *init : *resp;
      HandshakeState& r = from_init ? *resp : *init;
      ASSERT_TRUE(w.my_turn());
      ASSERT_FALSE(r.my_turn());
      auto out = w.write_message(payload);
      ASSERT_TRUE(out.has_value()) << out.error().message();
      ASSERT_EQ(to_hex(*out), to_hex(expected));
      auto in = r.read_message(*out);
      ASSERT_TRUE(in.has_value()) << in.error().message();
      ASSERT_EQ(*in, payload);
      ASSERT_EQ(init->is_complete(), resp->is_complete());
      if (init->is_complete()) {
        EXPECT_EQ(init->handshake_hash(), resp->handshake_hash());
        if (v.contains("handshake_hash")) {
          EXPECT_EQ(to_hex(init->handshake_hash()), v["handshake_hash"].get<std::string>());
        }
        ic = init->split();
        rc = resp->split();
      }
    } else {
      const bool from_init = one_way || i % 2 == 0;
      CipherState& enc = from_init ? ic->first : rc->second;
      CipherState& dec = from_init ? rc->first : ic->second;
      Bytes out = enc.encrypt({}, payload);
      ASSERT_EQ(to_hex(out), to_hex(expected));
      auto pt = dec.decrypt({}, out);
      ASSERT_TRUE(pt.has_value());
      ASSERT_EQ(*pt, payload);
    }
  }
  ASSERT_TRUE(init->is_complete());
  ++counts.run;
  const std::string full = name.substr(6, name.find('_', 6) - 6);
  ++counts.per_protocol[full];
  ++counts.per_pattern[std::string(pattern_name(proto->pattern))];
  ++counts.per_suite[std::string(cipher_name(proto->cipher)) + "_" + std::string(hash_name(proto->hash))];
}

Counts run_file(const std::string& file) {
  Counts counts;
  const std::string path = std::string(HYPHAE_VECTORS_DIR) + "/noise/" + file;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  if (!in.good()) return counts;
  const json doc = json::parse(in);
  for (const auto& v : doc.at("vectors")) {
    run_vector(v, counts);
    if (::testing::Test::HasFatalFailure()) break;
  }
  std::cout << file << ": " << counts.run << " vectors run, " << counts.skipped
            << " skipped (cipher unavailable)\n";
  for (const auto& [suite, n] : counts.per_suite) std::cout << "  " << suite << ": " << n << "\n";
  std::cout << " ";
  for (const auto& [proto, n] : counts.per_protocol) std::cout << " " << proto << "=" << n;
  std::cout << "\n";
  // Every implemented pattern must have been exercised (so a missing or emptied file fails).
  for (const auto& spec : all_patterns())
    EXPECT_GT(counts.per_pattern[std::string(spec.name)], 0) << file << " has no vector for " << spec.name;
  EXPECT_GT(counts.per_suite["ChaChaPoly_SHA256"], 0);
  EXPECT_GT(counts.per_suite["ChaChaPoly_BLAKE2b"], 0);
  if (cipher_available(CipherKind::AESGCM)) {
    EXPECT_GT(counts.per_suite["AESGCM_SHA256"], 0);
    EXPECT_GT(counts.per_suite["AESGCM_BLAKE2b"], 0);
  }
  return counts;
}

TEST(NoiseVectors, Cacophony) {
  Counts c = run_file("cacophony.json");
  EXPECT_GE(c.run, 38 * 2);
  for (const char* p : {"NNpsk0", "XXpsk3", "IKpsk2", "Npsk0", "Xpsk1"}) EXPECT_GT(c.per_protocol[p], 0) << p;
}

TEST(NoiseVectors, Snow) {
  Counts c = run_file("snow.json");
  EXPECT_GE(c.run, 38 * 2);
  for (const char* p : {"NNpsk0+psk2", "XXpsk0+psk1+psk2+psk3"}) EXPECT_GT(c.per_protocol[p], 0) << p;
}

// --- Protocol names ----------------------------------------------------------------------------

TEST(NoiseProtocol, ParseAndName) {
  auto p = Protocol::parse("Noise_XX_25519_ChaChaPoly_SHA256");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->pattern, Pattern::XX);
  EXPECT_EQ(p->cipher, CipherKind::ChaChaPoly);
  EXPECT_EQ(p->hash, HashKind::SHA256);
  EXPECT_EQ(p->psk_modifiers, 0);
  p = Protocol::parse("Noise_X1K1psk0+psk3_25519_AESGCM_BLAKE2b");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->pattern, Pattern::X1K1);
  EXPECT_EQ(p->cipher, CipherKind::AESGCM);
  EXPECT_EQ(p->hash, HashKind::BLAKE2b);
  EXPECT_EQ(p->psk_modifiers, 0b1001);
  EXPECT_EQ(p->name(), "Noise_X1K1psk0+psk3_25519_AESGCM_BLAKE2b");
  for (const auto& spec : all_patterns()) {
    const std::string n = "Noise_" + std::string(spec.name) + "_25519_ChaChaPoly_BLAKE2b";
    auto q = Protocol::parse(n);
    ASSERT_TRUE(q) << n;
    EXPECT_EQ(q->pattern, spec.pattern);
    EXPECT_EQ(q->name(), n);
  }
  EXPECT_EQ((Protocol{Pattern::IK}.name()), "Noise_IK_25519_ChaChaPoly_SHA256");

  const std::pair<const char*, Errc> bad[] = {
      {"Noise_XX_448_ChaChaPoly_SHA256", Errc::unsupported},
      {"Noise_XX_25519_ChaChaPoly_SHA512", Errc::unsupported},
      {"Noise_XX_25519_AESGCM_BLAKE2s", Errc::unsupported},
      {"Noise_ZZ_25519_ChaChaPoly_SHA256", Errc::unsupported},
      {"Noise_XXfallback_25519_ChaChaPoly_SHA256", Errc::unsupported},
      {"Noise_XX_25519_ChaChaPoly", Errc::malformed},
      {"Noise_XX_25519_ChaChaPoly_SHA256_x", Errc::malformed},
      {"Nois_XX_25519_ChaChaPoly_SHA256", Errc::malformed},
      {"Noise__25519_ChaChaPoly_SHA256", Errc::malformed},
      {"Noise_NNpsk2+psk0_25519_ChaChaPoly_SHA256", Errc::malformed},
      {"Noise_NNpsk3_25519_ChaChaPoly_SHA256", Errc::malformed},
      {"Noise_NNpsk0+_25519_ChaChaPoly_SHA256", Errc::malformed},
      {"Noise_NNpsk_25519_ChaChaPoly_SHA256", Errc::malformed},
      {"Noise_NNpsk01_25519_ChaChaPoly_SHA256", Errc::malformed},
      {"", Errc::malformed},
  };
  for (const auto& [name, e] : bad) {
    auto r = Protocol::parse(name);
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error(), e) << name;
  }
}

// --- Handshakes --------------------------------------------------------------------------------

struct Pair {
  HandshakeState init;
  HandshakeState resp;
};

Pair make_pair(std::string_view name, const KeyPair& is, const KeyPair& rs, std::vector<Key> psks = {}) {
  auto p = Protocol::parse(name);
  EXPECT_TRUE(p);
  const auto& spec = pattern_spec(p->pattern);
  HandshakeConfig ic{.protocol = *p, .initiator = true, .prologue = Bytes{1, 2, 3}, .s = is, .psks = psks};
  HandshakeConfig rc{.protocol = *p, .initiator = false, .prologue = Bytes{1, 2, 3}, .s = rs, .psks = psks};
  if (spec.pre_responder == "s") ic.rs = rs.pub;
  if (spec.pre_initiator == "s") rc.rs = is.pub;
  auto i = HandshakeState::create(ic);
  auto r = HandshakeState::create(rc);
  if (!i || !r) throw std::runtime_error("create failed");
  return Pair{std::move(*i), std::move(*r)};
}

// Whether the initiator's (or responder's) static key is pre-shared or transmitted in the pattern.
bool side_has_static(const PatternSpec& spec, bool initiator) {
  if ((initiator ? spec.pre_initiator : spec.pre_responder) == "s") return true;
  std::size_t msg = 0, start = 0;
  const std::string_view m = spec.messages;
  for (std::size_t i = 0; i <= m.size(); ++i) {
    if (i < m.size() && m[i] != ',' && m[i] != '|') continue;
    if (m.substr(start, i - start) == "s" && (msg % 2 == 0) == initiator) return true;
    if (i < m.size() && m[i] == '|') ++msg;
    start = i + 1;
  }
  return false;
}

// Drives a handshake to completion with payload "m<i>" in each message.
void complete(Pair& p) {
  for (int i = 0; !p.init.is_complete(); ++i) {
    HandshakeState& w = p.init.my_turn() ? p.init : p.resp;
    HandshakeState& r = p.init.my_turn() ? p.resp : p.init;
    const std::string payload = "m" + std::to_string(i);
    auto msg = w.write_message(as_bytes(payload));
    ASSERT_TRUE(msg);
    auto got = r.read_message(*msg);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(to_string(*got), payload);
  }
  ASSERT_TRUE(p.resp.is_complete());
}

TEST(NoiseHandshake, RoundTripAllPatternsAndTransport) {
  const KeyPair is = KeyPair::generate(), rs = KeyPair::generate();
  for (const auto& spec : all_patterns()) {
    for (const char* suite : {"_25519_ChaChaPoly_SHA256", "_25519_AESGCM_BLAKE2b"}) {
      const std::string name = "Noise_" + std::string(spec.name) + suite;
      SCOPED_TRACE(name);
      if (!cipher_available(Protocol::parse(name)->cipher)) continue;
      Pair p = make_pair(name, is, rs);
      complete(p);
      EXPECT_EQ(p.init.handshake_hash(), p.resp.handshake_hash());
      EXPECT_EQ(p.init.has_remote_static(), side_has_static(spec, false));
      if (p.init.has_remote_static()) {
        EXPECT_EQ(p.init.remote_static(), rs.pub);
      }
      EXPECT_EQ(p.resp.has_remote_static(), side_has_static(spec, true));
      if (p.resp.has_remote_static()) {
        EXPECT_EQ(p.resp.remote_static(), is.pub);
      }
      auto [i_send, i_recv] = p.init.split();
      auto [r_recv, r_send] = p.resp.split();
      for (int k = 0; k < 3; ++k) {
        Bytes c = i_send.encrypt(as_bytes("ad"), as_bytes("hello"));
        auto m = r_recv.decrypt(as_bytes("ad"), c);
        ASSERT_TRUE(m);
        EXPECT_EQ(to_string(*m), "hello");
        if (!is_one_way(spec.pattern)) {
          Bytes d = r_send.encrypt({}, as_bytes("back"));
          auto n = i_recv.decrypt({}, d);
          ASSERT_TRUE(n);
          EXPECT_EQ(to_string(*n), "back");
        }
      }
      EXPECT_THROW(p.init.split(), std::logic_error);  // one-shot
    }
  }
}

TEST(NoiseHandshake, CreateValidatesKeys) {
  const KeyPair s = KeyPair::generate();
  auto xx = *Protocol::parse("Noise_XX_25519_ChaChaPoly_SHA256");
  auto ik = *Protocol::parse("Noise_IK_25519_ChaChaPoly_SHA256");
  auto psk = *Protocol::parse("Noise_XXpsk3_25519_ChaChaPoly_SHA256");
  EXPECT_EQ(HandshakeState::create({.protocol = xx, .initiator = true}).error(),
            Errc::invalid_argument);  // no s
  EXPECT_TRUE(HandshakeState::create({.protocol = xx, .initiator = true, .s = s}));
  EXPECT_EQ(HandshakeState::create({.protocol = xx, .initiator = true, .s = s, .rs = s.pub}).error(),
            Errc::invalid_argument);  // XX does not pre-share rs
  EXPECT_EQ(HandshakeState::create({.protocol = ik, .initiator = true, .s = s}).error(),
            Errc::invalid_argument);
  EXPECT_TRUE(HandshakeState::create({.protocol = ik, .initiator = true, .s = s, .rs = s.pub}));
  EXPECT_TRUE(HandshakeState::create({.protocol = ik, .initiator = false, .s = s}));
  EXPECT_EQ(HandshakeState::create({.protocol = psk, .initiator = true, .s = s}).error(),
            Errc::invalid_argument);
  EXPECT_TRUE(HandshakeState::create({.protocol = psk, .initiator = true, .s = s, .psks = {fixed_key(1)}}));
  EXPECT_TRUE(HandshakeState::create({.protocol = *Protocol::parse("Noise_NN_25519_ChaChaPoly_SHA256")}));
  Protocol bad_psk = xx;
  bad_psk.psk_modifiers = 1u << 5;
  EXPECT_EQ(HandshakeState::create({.protocol = bad_psk, .s = s, .psks = {fixed_key(1)}}).error(),
            Errc::invalid_argument);
}

TEST(NoiseHandshake, WrongTurn) {
  Pair p = make_pair("Noise_XX_25519_ChaChaPoly_SHA256", KeyPair::generate(), KeyPair::generate());
  EXPECT_TRUE(p.init.my_turn());
  EXPECT_FALSE(p.resp.my_turn());
  EXPECT_EQ(p.resp.write_message({}).error(), Errc::invalid_argument);
  EXPECT_EQ(p.init.read_message(Bytes(48)).error(), Errc::invalid_argument);
  // A wrong-turn call does not kill the handshake.
  complete(p);
  EXPECT_FALSE(p.init.my_turn());
  EXPECT_FALSE(p.resp.my_turn());
  EXPECT_EQ(p.init.write_message({}).error(), Errc::invalid_argument);
  EXPECT_EQ(p.resp.write_message({}).error(), Errc::invalid_argument);
  EXPECT_EQ(p.resp.read_message(Bytes(64)).error(), Errc::invalid_argument);
}

TEST(NoiseHandshake, CorruptedMessageIsDecryptFailedAndKills) {
  for (const char* name : {"Noise_XX_25519_ChaChaPoly_SHA256", "Noise_XX_25519_AESGCM_BLAKE2b"}) {
    SCOPED_TRACE(name);
    if (!cipher_available(Protocol::parse(name)->cipher)) continue;
    Pair p = make_pair(name, KeyPair::generate(), KeyPair::generate());
    auto m1 = p.init.write_message(as_bytes("hi"));
    ASSERT_TRUE(p.resp.read_message(*m1));
    auto m2 = p.resp.write_message(as_bytes("payload"));
    ASSERT_TRUE(m2);
    Bytes bad = *m2;
    bad[40] ^= 0x01;  // inside the encrypted static key
    EXPECT_EQ(p.init.read_message(bad).error(), Errc::decrypt_failed);
    EXPECT_TRUE(p.init.has_failed());
    EXPECT_EQ(p.init.read_message(*m2).error(), Errc::handshake_failed);  // dead for good
    EXPECT_EQ(p.init.write_message({}).error(), Errc::handshake_failed);
    EXPECT_THROW(p.init.split(), std::logic_error);
  }
  // Corrupted payload tag and truncation.
  Pair q = make_pair("Noise_IK_25519_ChaChaPoly_SHA256", KeyPair::generate(), KeyPair::generate());
  auto m1 = q.init.write_message(as_bytes("x"));
  Bytes bad = *m1;
  bad.back() ^= 0x80;
  EXPECT_EQ(q.resp.read_message(bad).error(), Errc::decrypt_failed);
  Pair t = make_pair("Noise_IK_25519_ChaChaPoly_SHA256", KeyPair::generate(), KeyPair::generate());
  auto m = t.init.write_message({});
  EXPECT_EQ(t.resp.read_message(ByteView(*m).first(20)).error(), Errc::truncated);
  Pair u = make_pair("Noise_IK_25519_ChaChaPoly_SHA256", KeyPair::generate(), KeyPair::generate());
  m = u.init.write_message({});
  EXPECT_EQ(u.resp.read_message(ByteView(*m).first(m->size() - 1)).error(), Errc::truncated);  // short tag
}

TEST(NoiseHandshake, LowOrderEphemeralIsMalformed) {
  Pair p = make_pair("Noise_NN_25519_ChaChaPoly_SHA256", KeyPair::generate(), KeyPair::generate());
  ASSERT_TRUE(p.init.write_message({}));
  Bytes zero_e(32 + 16, 0);  // e = 0 (low order) makes the ee DH all-zero
  EXPECT_EQ(p.init.read_message(zero_e).error(), Errc::malformed);
  EXPECT_TRUE(p.init.has_failed());
}

TEST(NoiseHandshake, TooLarge) {
  Pair p = make_pair("Noise_XX_25519_ChaChaPoly_SHA256", KeyPair::generate(), KeyPair::generate());
  EXPECT_EQ(p.init.write_message(Bytes(65535 - 31)).error(), Errc::too_large);
  EXPECT_TRUE(p.init.my_turn());  // unchanged
  auto ok = p.init.write_message(Bytes(65535 - 32));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), 65535u);
  ASSERT_TRUE(p.resp.read_message(*ok));
  EXPECT_EQ(p.resp.write_message(Bytes(65535 - 32 - 48 - 16 + 1)).error(), Errc::too_large);
  ASSERT_TRUE(p.resp.write_message(Bytes(65535 - 32 - 48 - 16)));
  Pair q = make_pair("Noise_XX_25519_ChaChaPoly_SHA256", KeyPair::generate(), KeyPair::generate());
  EXPECT_EQ(q.resp.read_message(Bytes(65536)).error(), Errc::too_large);
}

TEST(NoiseHandshake, PskMismatchFails) {
  const KeyPair is = KeyPair::generate(), rs = KeyPair::generate();
  auto p = *Protocol::parse("Noise_XXpsk3_25519_ChaChaPoly_SHA256");
  auto i = HandshakeState::create({.protocol = p, .initiator = true, .s = is, .psks = {fixed_key(1)}});
  auto r = HandshakeState::create({.protocol = p, .initiator = false, .s = rs, .psks = {fixed_key(2)}});
  ASSERT_TRUE(i && r);
  ASSERT_TRUE(r->read_message(*i->write_message({})));
  ASSERT_TRUE(i->read_message(*r->write_message({})));
  EXPECT_EQ(r->read_message(*i->write_message({})).error(), Errc::decrypt_failed);
}

TEST(NoiseHandshake, SplitBeforeCompleteThrows) {
  Pair p = make_pair("Noise_NN_25519_ChaChaPoly_SHA256", KeyPair::generate(), KeyPair::generate());
  EXPECT_THROW(p.init.split(), std::logic_error);
}

// --- CipherState -------------------------------------------------------------------------------

TEST(NoiseCipherState, NonceAdvancesOnlyOnSuccessfulDecrypt) {
  for (CipherKind kind : {CipherKind::ChaChaPoly, CipherKind::AESGCM}) {
    if (!cipher_available(kind)) continue;
    CipherState a(kind, fixed_key(3)), b(kind, fixed_key(3));
    Bytes c0 = a.encrypt(as_bytes("ad"), as_bytes("zero"));
    Bytes c1 = a.encrypt(as_bytes("ad"), as_bytes("one"));
    EXPECT_EQ(a.nonce(), 2u);
    EXPECT_EQ(b.decrypt(as_bytes("ad"), c1).error(), Errc::decrypt_failed);  // wrong nonce
    EXPECT_EQ(b.nonce(), 0u);
    Bytes t = c0;
    t[0] ^= 1;
    EXPECT_EQ(b.decrypt(as_bytes("ad"), t).error(), Errc::decrypt_failed);
    EXPECT_EQ(b.decrypt(as_bytes("xx"), c0).error(), Errc::decrypt_failed);
    EXPECT_EQ(b.decrypt(as_bytes("ad"), ByteView(c0).first(15)).error(), Errc::decrypt_failed);
    EXPECT_EQ(b.nonce(), 0u);
    ASSERT_EQ(to_string(*b.decrypt(as_bytes("ad"), c0)), "zero");
    EXPECT_EQ(b.nonce(), 1u);
    ASSERT_EQ(to_string(*b.decrypt(as_bytes("ad"), c1)), "one");
    EXPECT_EQ(b.nonce(), 2u);

    // In place, via the allocation-free calls.
    std::array<std::uint8_t, 5 + CipherState::kTagLen> buf{'h', 'e', 'l', 'l', 'o'};
    EXPECT_EQ(a.encrypt_into({}, ByteView(buf).first(5), buf.data()), buf.size());
    auto n = b.decrypt_into({}, buf, buf.data());
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 5u);
    EXPECT_EQ(to_string(ByteView(buf).first(5)), "hello");

    // Nonce exhaustion: 2^64-1 is reserved.
    a.set_nonce(CipherState::kMaxNonce);
    b.set_nonce(CipherState::kMaxNonce);
    EXPECT_THROW(a.encrypt({}, {}), std::logic_error);
    EXPECT_EQ(b.decrypt({}, Bytes(16)).error(), Errc::decrypt_failed);
  }
}

// Independent construction of ENCRYPT(k, n, ad, p) straight from libsodium and the spec's nonce
// layout, to pin the nonce encoding at large counters and REKEY.
Bytes reference_encrypt(CipherKind kind, const Key& k, std::uint64_t n, ByteView ad, ByteView pt) {
  std::array<std::uint8_t, 12> nonce{};
  for (int i = 0; i < 8; ++i)
    nonce[4 + i] =
        static_cast<std::uint8_t>(kind == CipherKind::ChaChaPoly ? n >> (8 * i) : n >> (56 - 8 * i));
  Bytes out(pt.size() + 16);
  unsigned long long len = 0;
  if (kind == CipherKind::ChaChaPoly)
    crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), &len, pt.data(), pt.size(), ad.data(), ad.size(),
                                              nullptr, nonce.data(), k.data());
  else
    crypto_aead_aes256gcm_encrypt(out.data(), &len, pt.data(), pt.size(), ad.data(), ad.size(), nullptr,
                                  nonce.data(), k.data());
  return out;
}

TEST(NoiseCipherState, NonceEncodingAndRekey) {
  for (CipherKind kind : {CipherKind::ChaChaPoly, CipherKind::AESGCM}) {
    if (!cipher_available(kind)) continue;
    const Key k = fixed_key(9);
    CipherState a(kind, k), b(kind, k);
    const std::uint64_t n = 0x0102030405060708ull;
    a.set_nonce(n);
    EXPECT_EQ(a.encrypt(as_bytes("ad"), as_bytes("msg")),
              reference_encrypt(kind, k, n, as_bytes("ad"), as_bytes("msg")));

    // REKEY(k) = first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros(32)); n is unchanged.
    const Key zeros{};
    Bytes nk = reference_encrypt(kind, k, CipherState::kMaxNonce, {}, zeros);
    Key new_key{};
    std::copy_n(nk.begin(), 32, new_key.begin());
    a.set_nonce(5);
    a.rekey();
    EXPECT_EQ(a.nonce(), 5u);
    EXPECT_EQ(a.encrypt({}, as_bytes("after")), reference_encrypt(kind, new_key, 5, {}, as_bytes("after")));

    // Both sides rekey in step: traffic still flows; without rekey it does not.
    b.set_nonce(6);
    Bytes c = a.encrypt({}, as_bytes("x"));
    EXPECT_FALSE(b.decrypt({}, c));
    b.rekey();
    auto m = b.decrypt({}, c);
    ASSERT_TRUE(m);
    EXPECT_EQ(to_string(*m), "x");
  }
  CipherState none;
  EXPECT_FALSE(none.has_key());
  EXPECT_EQ(none.encrypt({}, as_bytes("plain")), Bytes(as_bytes("plain").begin(), as_bytes("plain").end()));
  EXPECT_THROW(none.rekey(), std::logic_error);
}

TEST(NoiseCipherState, MoveLeavesSourceKeyless) {
  CipherState a(CipherKind::ChaChaPoly, fixed_key(1));
  CipherState b = std::move(a);
  EXPECT_TRUE(b.has_key());
  EXPECT_FALSE(a.has_key());  // NOLINT(bugprone-use-after-move)
}

// --- Primitives --------------------------------------------------------------------------------

TEST(NoisePrimitives, HmacSha256Rfc4231Case1) {
  const Bytes key(20, 0x0b);
  std::array<std::uint8_t, 64> out{};
  detail::hmac(HashKind::SHA256, key, as_bytes("Hi There"), out.data());
  EXPECT_EQ(to_hex(ByteView(out).first(32)),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

// --- seal / open -------------------------------------------------------------------------------

TEST(NoiseSeal, RoundTripAndTamper) {
  const KeyPair sender = KeyPair::generate(), recipient = KeyPair::generate();
  const Bytes prologue = {'h', 'y', 'p', 'h', 'a', 'e'};
  auto sealed = seal(sender, recipient.pub, prologue, as_bytes("secret note"));
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->size(), 11 + kSealOverhead);
  auto opened = open(recipient, prologue, *sealed);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->sender_pub, sender.pub);
  EXPECT_EQ(to_string(opened->plaintext), "secret note");

  // Two seals of the same plaintext differ (fresh ephemeral).
  EXPECT_NE(*sealed, *seal(sender, recipient.pub, prologue, as_bytes("secret note")));

  for (std::size_t i = 0; i < sealed->size(); ++i) {
    Bytes t = *sealed;
    t[i] ^= 0x20;
    auto r = open(recipient, prologue, t);
    ASSERT_FALSE(r) << "byte " << i;
    EXPECT_EQ(r.error(), Errc::bad_seal);
  }
  EXPECT_EQ(open(recipient, as_bytes("other"), *sealed).error(), Errc::bad_seal);
  EXPECT_EQ(open(KeyPair::generate(), prologue, *sealed).error(), Errc::bad_seal);
  EXPECT_EQ(open(recipient, prologue, ByteView(*sealed).first(95)).error(), Errc::bad_seal);
  EXPECT_EQ(open(recipient, prologue, {}).error(), Errc::bad_seal);
  Bytes longer = *sealed;
  longer.push_back(0);
  EXPECT_EQ(open(recipient, prologue, longer).error(), Errc::bad_seal);

  auto empty = seal(sender, recipient.pub, {}, {});
  ASSERT_TRUE(empty);
  auto e = open(recipient, {}, *empty);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->plaintext.empty());

  EXPECT_EQ(seal(sender, recipient.pub, {}, Bytes(kMaxSealPlaintext + 1)).error(), Errc::too_large);
  ASSERT_TRUE(seal(sender, recipient.pub, {}, Bytes(kMaxSealPlaintext)));
  EXPECT_EQ(seal(sender, Key{}, {}, as_bytes("x")).error(), Errc::invalid_argument);  // low-order key
}

}  // namespace
