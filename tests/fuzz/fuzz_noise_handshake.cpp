// Fuzz target: feeds attacker-controlled bytes to read_message() of XX / IK / XK / X handshakes
// (fixed static and ephemeral keys, so seeds are deterministic) at every stage where a side
// reads, then to the transport CipherState if the handshake completes. Must never crash; also
// traps on broken invariants (an error from read_message must leave the handshake dead).
//
// Input: [selector][u16be len][handshake message][u16be len][transport message]...
//   selector & 0x0f -> scenario (pattern, index of the message the victim reads), modulo count;
//   (selector >> 4) & 3 -> suite: bit 0 AESGCM (else ChaChaPoly), bit 1 BLAKE2b (else SHA256).
// A missing or oversized length prefix means "the rest of the input".
//
// Seeds in tests/fuzz/corpus/noise_handshake/ come from this file compiled with
// -DHYPHAE_NOISE_FUZZ_SEEDGEN (adds a main() that writes them; see docs/protocols/noise.md).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "crypto/noise/noise.hpp"

namespace {

using namespace hyphae;
using namespace hyphae::noise;
using Key = std::array<std::uint8_t, 32>;

struct Scenario {
  Pattern pattern;
  std::size_t stage;  // index of the handshake message the victim reads (even: responder reads)
};
constexpr Scenario kScenarios[] = {
    {Pattern::XX, 0}, {Pattern::XX, 1}, {Pattern::XX, 2}, {Pattern::IK, 0}, {Pattern::IK, 1},
    {Pattern::XK, 0}, {Pattern::XK, 1}, {Pattern::XK, 2}, {Pattern::X, 0},
};
constexpr std::size_t kScenarioCount = sizeof kScenarios / sizeof kScenarios[0];

Key fixed_key(std::uint8_t seed) {
  Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed ^ (i * 29));
  return k;
}

Protocol protocol_for(std::uint8_t selector) {
  const Scenario& sc = kScenarios[(selector & 0x0f) % kScenarioCount];
  const unsigned suite = (selector >> 4) & 3u;
  Protocol p{sc.pattern};
  p.cipher =
      (suite & 1u) && cipher_available(CipherKind::AESGCM) ? CipherKind::AESGCM : CipherKind::ChaChaPoly;
  p.hash = (suite & 2u) ? HashKind::BLAKE2b : HashKind::SHA256;
  return p;
}

struct Sides {
  HandshakeState init;
  HandshakeState resp;
};

// Both sides with fixed keys, advanced through the messages before `stage`.
std::optional<Sides> setup(const Protocol& p, std::size_t stage) {
  const KeyPair is = KeyPair::from_private(fixed_key(0x11)), rs = KeyPair::from_private(fixed_key(0x22));
  const PatternSpec& spec = pattern_spec(p.pattern);
  HandshakeConfig ic{.protocol = p,
                     .initiator = true,
                     .prologue = Bytes{'f', 'u', 'z', 'z'},
                     .s = is,
                     .e = KeyPair::from_private(fixed_key(0x33))};
  HandshakeConfig rc{.protocol = p,
                     .initiator = false,
                     .prologue = Bytes{'f', 'u', 'z', 'z'},
                     .s = rs,
                     .e = KeyPair::from_private(fixed_key(0x44))};
  if (spec.pre_responder == "s") ic.rs = rs.pub;
  if (spec.pre_initiator == "s") rc.rs = is.pub;
  auto i = HandshakeState::create(std::move(ic));
  auto r = HandshakeState::create(std::move(rc));
  if (!i || !r) return std::nullopt;
  Sides s{std::move(*i), std::move(*r)};
  for (std::size_t k = 0; k < stage; ++k) {
    HandshakeState& w = k % 2 == 0 ? s.init : s.resp;
    HandshakeState& rd = k % 2 == 0 ? s.resp : s.init;
    const std::string payload = "stage " + std::to_string(k);
    auto msg = w.write_message(as_bytes(payload));
    if (!msg || !rd.read_message(*msg)) return std::nullopt;
  }
  return s;
}

// Next length-prefixed chunk of in (or the rest of it).
ByteView next_chunk(ByteView& in) {
  if (in.size() < 2) {
    ByteView all = in;
    in = {};
    return all;
  }
  const std::size_t len = (std::size_t{in[0]} << 8) | in[1];
  in = in.subspan(2);
  if (len > in.size()) {
    ByteView all = in;
    in = {};
    return all;
  }
  ByteView chunk = in.first(len);
  in = in.subspan(len);
  return chunk;
}

[[noreturn]] void invariant_broken() {
  __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const Protocol p = protocol_for(data[0]);
  const std::size_t stage = kScenarios[(data[0] & 0x0f) % kScenarioCount].stage;
  auto sides = setup(p, stage);
  if (!sides) invariant_broken();  // fixed keys: setup always works
  const bool victim_is_init = stage % 2 == 1;
  HandshakeState& victim = victim_is_init ? sides->init : sides->resp;
  if (victim.my_turn()) invariant_broken();

  ByteView in(data + 1, size - 1);
  const ByteView msg = next_chunk(in);
  auto payload = victim.read_message(msg);
  if (!payload) {
    // A read at the right turn that fails must kill the handshake.
    if (!victim.has_failed()) invariant_broken();
    if (victim.read_message(msg).error() != hyphae::Errc::handshake_failed) invariant_broken();
    return 0;
  }
  if (!victim.is_complete()) {
    // Keep going: the victim answers (may fail later on the peer's side; must not crash).
    if (!victim.my_turn()) invariant_broken();
    auto reply = victim.write_message(in);
    if (reply) (void)(victim_is_init ? sides->resp : sides->init).read_message(*reply);
    return 0;
  }
  // Complete: remaining chunks are transport messages to the victim.
  auto [i2r, r2i] = victim.split();
  CipherState& recv = victim_is_init ? r2i : i2r;
  CipherState& send = victim_is_init ? i2r : r2i;
  for (int n = 0; n < 8 && !in.empty(); ++n) {
    const ByteView chunk = next_chunk(in);
    const std::uint64_t before = recv.nonce();
    auto pt = recv.decrypt({}, chunk);
    if (!pt && recv.nonce() != before) invariant_broken();  // nonce moves only on success
    if (pt && recv.nonce() != before + 1) invariant_broken();
    (void)send.encrypt({}, chunk);
  }
  return 0;
}

#ifdef HYPHAE_NOISE_FUZZ_SEEDGEN
// Seed generator: writes valid messages for every scenario (plus a transport message where the
// handshake completes) and truncated / garbage variants into the directory given as argv[1].
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace {

void put_chunk(Bytes& out, ByteView chunk) {
  out.push_back(static_cast<std::uint8_t>(chunk.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(chunk.size()));
  append(out, chunk);
}

void write_file(const std::filesystem::path& dir, const std::string& name, const Bytes& bytes) {
  std::ofstream f(dir / name, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// The valid input for a selector: the peer's real next message, then one transport message.
Bytes valid_input(std::uint8_t selector) {
  const Protocol p = protocol_for(selector);
  const std::size_t stage = kScenarios[(selector & 0x0f) % kScenarioCount].stage;
  auto sides = setup(p, stage);
  HandshakeState& peer = stage % 2 == 1 ? sides->resp : sides->init;
  auto msg = peer.write_message(as_bytes("seed payload"));
  Bytes out{selector};
  put_chunk(out, *msg);
  if (peer.is_complete()) {
    auto [i2r, r2i] = peer.split();
    CipherState& send = stage % 2 == 1 ? r2i : i2r;
    put_chunk(out, send.encrypt({}, as_bytes("transport hello")));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  const char* names[] = {"xx_msg1", "xx_msg2", "xx_msg3", "ik_msg1", "ik_msg2",
                         "xk_msg1", "xk_msg2", "xk_msg3", "x_msg1"};
  for (std::uint8_t s = 0; s < kScenarioCount; ++s)
    write_file(dir, std::string("valid_") + names[s], valid_input(s));
  // Other suites: XX msg2 with AESGCM+BLAKE2b, IK msg1 with ChaChaPoly+BLAKE2b.
  write_file(dir, "valid_xx_msg2_aesgcm_blake2b", valid_input(0x31));
  write_file(dir, "valid_ik_msg1_chachapoly_blake2b", valid_input(0x23));
  // Truncated: XX msg2 cut inside the encrypted static; IK msg1 cut inside e; X msg1 cut in the tag.
  Bytes t = valid_input(1);
  t.resize(3 + 32 + 20);
  write_file(dir, "truncated_xx_msg2", t);
  t = valid_input(3);
  t.resize(3 + 10);
  write_file(dir, "truncated_ik_msg1", t);
  t = valid_input(8);
  t.resize(3 + 90);  // X msg1 is 108 bytes: cut inside the payload ciphertext
  write_file(dir, "truncated_x_msg1", t);
  // Bit flips and garbage.
  t = valid_input(7);
  t[3 + 20] ^= 0x40;
  write_file(dir, "flipped_xk_msg3", t);
  t = valid_input(2);
  t.back() ^= 0x01;  // transport tag
  write_file(dir, "flipped_transport_xx", t);
  Bytes g{0x05};
  for (int i = 0; i < 120; ++i) g.push_back(static_cast<std::uint8_t>(i * 37 + 11));
  write_file(dir, "garbage_xk_msg1", g);
  Bytes z(1 + 2 + 96, 0);  // XX msg2 whose e is the all-zero (low-order) point
  z[0] = 0x01;
  z[2] = 96;
  write_file(dir, "zero_key_xx_msg2", z);
  write_file(dir, "selector_only", Bytes{0x05});
  std::printf("seeds written to %s\n", argv[1]);
  return 0;
}
#endif
