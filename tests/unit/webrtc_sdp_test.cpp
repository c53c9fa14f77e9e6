#include <gtest/gtest.h>

#include <random>

#include "core/error.hpp"
#include "webrtc/sdp.hpp"

namespace hyphae::webrtc {
namespace {

constexpr std::string_view kFingerprint =
    "3C:4A:AA:49:1C:1B:0E:41:2C:6D:1F:61:8E:16:7C:B0:4D:E2:5A:A9:A7:2E:7A:9D:B9:5B:3B:62:E4:B3:42:E6";

// The shape of an offer from Chromium's RTCPeerConnection with one data channel (addresses
// from the documentation ranges).
std::string chromium_offer() {
  return "v=0\r\n"
         "o=- 4215775240449105457 2 IN IP4 127.0.0.1\r\n"
         "s=-\r\n"
         "t=0 0\r\n"
         "a=group:BUNDLE 0\r\n"
         "a=extmap-allow-mixed\r\n"
         "a=msid-semantic: WMS\r\n"
         "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
         "c=IN IP4 0.0.0.0\r\n"
         "a=candidate:1467250027 1 udp 2122260223 192.0.2.2 46243 typ host generation 0 network-id 1\r\n"
         "a=candidate:2000000000 1 tcp 1518280447 192.0.2.2 9 typ host tcptype active generation 0\r\n"
         "a=candidate:3000000000 1 udp 2122260223 4f3b2a1c-aaaa-bbbb-cccc-0123456789ab.local 51000 typ host "
         "generation 0\r\n"
         "a=candidate:842163049 1 udp 1686052607 198.51.100.7 46243 typ srflx raddr 192.0.2.2 rport 46243 "
         "generation 0 network-id 1\r\n"
         "a=ice-ufrag:Fhiu\r\n"
         "a=ice-pwd:6lFPbGDQJyTQOtAhU23Ahn7N\r\n"
         "a=ice-options:trickle\r\n"
         "a=fingerprint:sha-256 " +
         std::string(kFingerprint) +
         "\r\n"
         "a=setup:actpass\r\n"
         "a=mid:0\r\n"
         "a=sctp-port:5000\r\n"
         "a=max-message-size:262144\r\n";
}

SessionDescription sample() {
  SessionDescription d;
  d.session_id = 123456789;
  d.session_version = 2;
  d.ice_ufrag = "abcdEFGH";
  d.ice_pwd = "0123456789abcdefghij+/xy";
  d.ice_trickle = true;
  d.fingerprint = *parse_fingerprint(kFingerprint);
  d.setup = DtlsSetup::actpass;
  d.mid = "0";
  d.sctp_port = 5000;
  d.max_message_size = 262144;
  IceCandidate host;
  host.foundation = "1";
  host.priority = 2130706431;
  host.address = "192.0.2.10";
  host.port = 50000;
  IceCandidate srflx = host;
  srflx.foundation = "2";
  srflx.type = CandidateType::srflx;
  srflx.priority = 1694498815;
  srflx.address = "198.51.100.1";
  srflx.port = 40000;
  srflx.related_address = "192.0.2.10";
  srflx.related_port = 50000;
  d.candidates = {host, srflx};
  d.end_of_candidates = true;
  return d;
}

TEST(Sdp, BuildParseRoundTrip) {
  const auto d = sample();
  auto text = build_sdp(d);
  ASSERT_TRUE(text);
  auto parsed = parse_sdp(*text);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, d);
}

TEST(Sdp, BuildWritesTheMinimalDataChannelSession) {
  auto d = sample();
  d.candidates.clear();
  d.end_of_candidates = false;
  d.setup = DtlsSetup::active;
  auto text = build_sdp(d);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text,
            "v=0\r\n"
            "o=- 123456789 2 IN IP4 127.0.0.1\r\n"
            "s=-\r\n"
            "t=0 0\r\n"
            "a=group:BUNDLE 0\r\n"
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
            "c=IN IP4 0.0.0.0\r\n"
            "a=ice-ufrag:abcdEFGH\r\n"
            "a=ice-pwd:0123456789abcdefghij+/xy\r\n"
            "a=ice-options:trickle\r\n"
            "a=fingerprint:sha-256 " +
                std::string(kFingerprint) +
                "\r\n"
                "a=setup:active\r\n"
                "a=mid:0\r\n"
                "a=sctp-port:5000\r\n"
                "a=max-message-size:262144\r\n");
}

TEST(Sdp, ParsesChromiumOffer) {
  auto parsed = parse_sdp(chromium_offer());
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->ice_ufrag, "Fhiu");
  EXPECT_EQ(parsed->ice_pwd, "6lFPbGDQJyTQOtAhU23Ahn7N");
  EXPECT_TRUE(parsed->ice_trickle);
  EXPECT_EQ(format_fingerprint(parsed->fingerprint), kFingerprint);
  EXPECT_EQ(parsed->setup, DtlsSetup::actpass);
  EXPECT_EQ(parsed->mid, "0");
  EXPECT_EQ(parsed->sctp_port, 5000);
  EXPECT_EQ(parsed->max_message_size, 262144u);
  EXPECT_EQ(parsed->session_id, 4215775240449105457ULL);
  // The TCP candidate is left out; the mDNS one parses (the ICE layer skips it).
  ASSERT_EQ(parsed->candidates.size(), 3u);
  EXPECT_EQ(parsed->candidates[0].address, "192.0.2.2");
  EXPECT_EQ(parsed->candidates[0].port, 46243);
  EXPECT_EQ(parsed->candidates[2].type, CandidateType::srflx);
  EXPECT_EQ(parsed->candidates[2].related_address, "192.0.2.2");
}

TEST(Sdp, AcceptsBareNewlines) {
  std::string text = chromium_offer();
  std::string lf;
  for (char c : text)
    if (c != '\r') lf.push_back(c);
  auto a = parse_sdp(text);
  auto b = parse_sdp(lf);
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(*a, *b);
}

TEST(Sdp, SessionLevelAttributesApply) {
  std::string text =
      "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\na=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuv\n"
      "a=fingerprint:SHA-256 " +
      std::string(kFingerprint) +
      "\na=setup:passive\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\nc=IN IP4 0.0.0.0\na=mid:data\n";
  auto parsed = parse_sdp(text);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->setup, DtlsSetup::passive);
  EXPECT_EQ(parsed->mid, "data");
  EXPECT_EQ(parsed->max_message_size, kDefaultRemoteMaxMessageSize);  // absent: 64 KiB
  EXPECT_EQ(parsed->sctp_port, 5000);
  EXPECT_FALSE(parsed->ice_trickle);
}

std::string replace(std::string text, std::string_view from, std::string_view to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(Sdp, RejectsMalformed) {
  const std::string good = chromium_offer();
  const auto malformed = make_error_code(Errc::malformed);
  const auto unsupported = make_error_code(Errc::unsupported);
  EXPECT_EQ(parse_sdp("").error(), malformed);
  EXPECT_EQ(parse_sdp("hello").error(), malformed);
  EXPECT_EQ(parse_sdp(replace(good, "v=0", "v=1")).error(), malformed);
  EXPECT_EQ(parse_sdp(replace(good, "o=- 4215775240449105457 2 IN IP4 127.0.0.1\r\n", "")).error(),
            malformed);
  EXPECT_EQ(parse_sdp(replace(good, "a=ice-ufrag:Fhiu", "a=ice-ufrag:Fhi")).error(), malformed);
  EXPECT_EQ(parse_sdp(replace(good, "a=ice-ufrag:Fhiu", "a=ice-ufrag:Fh u")).error(), malformed);
  EXPECT_EQ(parse_sdp(replace(good, "a=ice-pwd:6lFPbGDQJyTQOtAhU23Ahn7N", "a=ice-pwd:short")).error(),
            malformed);
  EXPECT_EQ(parse_sdp(replace(good, "a=ice-ufrag:Fhiu\r\n", "")).error(), malformed);
  EXPECT_EQ(parse_sdp(replace(good, "a=setup:actpass", "a=setup:both")).error(), malformed);
  EXPECT_EQ(parse_sdp(replace(good, "a=setup:actpass\r\n", "")).error(), malformed);
  EXPECT_EQ(parse_sdp(replace(good, "3C:4A", "3C4A")).error(), malformed);
  EXPECT_EQ(parse_sdp(replace(good, "3C:4A", "3G:4A")).error(), malformed);
  EXPECT_EQ(parse_sdp(replace(good, "a=fingerprint:sha-256 ", "a=fingerprint:sha-1 ")).error(), unsupported);
  EXPECT_EQ(parse_sdp(replace(good, "a=sctp-port:5000", "a=sctp-port:70000")).error(), malformed);
  EXPECT_EQ(parse_sdp(replace(good, "a=sctp-port:5000", "a=sctp-port:0")).error(), malformed);
  EXPECT_EQ(parse_sdp(replace(good, "a=max-message-size:262144", "a=max-message-size:-1")).error(),
            malformed);
  EXPECT_EQ(parse_sdp(replace(good, "UDP/DTLS/SCTP", "DTLS/SCTP")).error(), unsupported);
  EXPECT_EQ(parse_sdp(replace(good, "m=application 9", "m=application x")).error(), malformed);
  EXPECT_EQ(parse_sdp(good + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n").error(), unsupported);
  EXPECT_EQ(parse_sdp(replace(good, "c=IN IP4", "C=IN IP4")).error(), malformed);
  EXPECT_EQ(parse_sdp(replace(good, "s=-\r\n", "garbage\r\n")).error(), malformed);
  // No media section at all.
  EXPECT_EQ(parse_sdp(good.substr(0, good.find("m=application"))).error(), malformed);
}

TEST(Sdp, BoundsInput) {
  const auto too_large = make_error_code(Errc::too_large);
  std::string big = chromium_offer();
  big += "a=x-long:" + std::string(kMaxSdpLineBytes, 'a') + "\r\n";
  EXPECT_EQ(parse_sdp(big).error(), too_large);
  std::string many = chromium_offer();
  for (std::size_t i = 0; i < kMaxSdpLines; ++i) many += "a=x\r\n";
  EXPECT_EQ(parse_sdp(many).error(), too_large);
  EXPECT_EQ(parse_sdp(std::string(kMaxSdpBytes + 1, 'a')).error(), too_large);
  // Past kMaxSdpCandidates candidates are dropped, not an error.
  std::string flood = chromium_offer();
  for (int i = 0; i < 100; ++i)
    flood += "a=candidate:" + std::to_string(i) + " 1 udp 100 192.0.2.1 " + std::to_string(1000 + i) +
             " typ host\r\n";
  auto parsed = parse_sdp(flood);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->candidates.size(), kMaxSdpCandidates);
}

TEST(Sdp, EveryTruncationFailsCleanlyOrParses) {
  const std::string good = chromium_offer();
  for (std::size_t n = 0; n <= good.size(); ++n) {
    auto parsed = parse_sdp(std::string_view(good).substr(0, n));
    if (parsed) {
      EXPECT_EQ(parsed->ice_ufrag, "Fhiu");
    }
  }
}

TEST(Candidate, ParsesBrowserForms) {
  auto c = parse_candidate(
      "candidate:842163049 1 udp 1677729535 198.51.100.7 46243 typ srflx raddr 192.0.2.2 rport 46243 "
      "generation 0 "
      "ufrag Fhiu network-cost 999");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->foundation, "842163049");
  EXPECT_EQ(c->component, 1);
  EXPECT_EQ(c->transport, "udp");
  EXPECT_EQ(c->priority, 1677729535u);
  EXPECT_EQ(c->address, "198.51.100.7");
  EXPECT_EQ(c->port, 46243);
  EXPECT_EQ(c->type, CandidateType::srflx);
  EXPECT_EQ(c->related_address, "192.0.2.2");
  EXPECT_EQ(c->related_port, 46243);

  auto with_prefix = parse_candidate("a=candidate:1 1 UDP 2130706431 2001:db8::1 5000 typ host\r\n");
  ASSERT_TRUE(with_prefix);
  EXPECT_EQ(with_prefix->transport, "udp");
  EXPECT_EQ(with_prefix->address, "2001:db8::1");

  auto tcp = parse_candidate("candidate:2 1 tcp 1518280447 192.0.2.2 9 typ host tcptype active");
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->tcp_type, "active");
}

TEST(Candidate, FormatParseRoundTrip) {
  for (const auto& c : sample().candidates) {
    auto parsed = parse_candidate(format_candidate(c));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, c);
  }
  EXPECT_EQ(format_candidate(sample().candidates[1]),
            "candidate:2 1 udp 1694498815 198.51.100.1 40000 typ srflx raddr 192.0.2.10 rport 50000");
}

TEST(Candidate, RejectsMalformed) {
  for (std::string_view bad : {
           "",
           "candidate:",
           "candidate:1 1 udp 100 192.0.2.1 5000 typ",
           "candidate:1 1 udp 100 192.0.2.1 5000 type host",
           "candidate:1 1 sctp 100 192.0.2.1 5000 typ host",
           "candidate:1 0 udp 100 192.0.2.1 5000 typ host",
           "candidate:1 1 udp 0 192.0.2.1 5000 typ host",
           "candidate:1 1 udp 100 192.0.2.1 70000 typ host",
           "candidate:1 1 udp 100 192.0.2.1 5000 typ nat",
           "candidate:1 1 udp 100 192.0.2.1 5000 typ host raddr",
           "candidate:1 1 udp 100 192.0.2.1 5000 typ srflx raddr 192.0.2.2",
           "candidate:1 1 udp 100 192.0.2.1 5000 typ host generation",
           "candidate:1 1 udp 100 192.0.2.1  5000 typ host",
           "candidate:1 1 udp 100 192.0.2.1 5000 typ host ",
           "candidate:1 1 udp 100 bad/addr 5000 typ host",
           "candidate:1 1 udp 99999999999 192.0.2.1 5000 typ host",
           "candidate:x=y 1 udp 100 192.0.2.1 5000 typ host",
           "b=candidate:1 1 udp 100 192.0.2.1 5000 typ host",
       }) {
    EXPECT_FALSE(parse_candidate(bad)) << bad;
  }
  EXPECT_EQ(parse_candidate("candidate:" + std::string(kMaxSdpLineBytes, '1')).error(),
            make_error_code(Errc::too_large));
}

TEST(Fingerprint, RoundTripAndCase) {
  auto fp = parse_fingerprint(kFingerprint);
  ASSERT_TRUE(fp);
  EXPECT_EQ(format_fingerprint(*fp), kFingerprint);
  std::string lower(kFingerprint);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto fp2 = parse_fingerprint(lower);
  ASSERT_TRUE(fp2);
  EXPECT_EQ(*fp, *fp2);
  EXPECT_FALSE(parse_fingerprint(std::string(kFingerprint) + ":00"));
  EXPECT_FALSE(parse_fingerprint(std::string(kFingerprint).substr(3)));
}

TEST(Sdp, BuildRejectsBadCredentials) {
  auto d = sample();
  d.ice_ufrag = "ab";
  EXPECT_EQ(build_sdp(d).error(), make_error_code(Errc::invalid_argument));
  d = sample();
  d.ice_pwd = "has space in it 0123456789";
  EXPECT_EQ(build_sdp(d).error(), make_error_code(Errc::invalid_argument));
  d = sample();
  d.mid = "bad mid";
  EXPECT_EQ(build_sdp(d).error(), make_error_code(Errc::invalid_argument));
}

// Mutated offers and candidate lines (flipped, inserted and deleted bytes, cut lines): every
// outcome is a value or an error, and a value builds back into SDP that parses to the same.
TEST(Sdp, MutatedInputNeverBreaksTheParser) {
  std::mt19937 rng(7);
  const std::string good = chromium_offer();
  static constexpr char kAlphabet[] = "aAzZ09:= \r\n-/+.\x00\xff";
  for (int round = 0; round < 20000; ++round) {
    std::string text = good;
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = rng() % text.size();
      switch (rng() % 4) {
        case 0:
          text[at] = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
          break;
        case 1:
          text.insert(at, 1, static_cast<char>(rng()));
          break;
        case 2:
          text.erase(at, 1 + rng() % 16);
          break;
        default:
          text.resize(at);
          break;
      }
    }
    auto parsed = parse_sdp(text);
    if (parsed) {
      auto rebuilt = build_sdp(*parsed);
      ASSERT_TRUE(rebuilt) << text;
      auto again = parse_sdp(*rebuilt);
      ASSERT_TRUE(again) << *rebuilt;
      EXPECT_EQ(*again, *parsed);
    }
    const auto line_start = text.find("a=candidate:");
    if (line_start != std::string::npos) {
      auto candidate = parse_candidate(
          std::string_view(text).substr(line_start, text.find('\n', line_start) - line_start));
      if (candidate) {
        auto again = parse_candidate(format_candidate(*candidate));
        ASSERT_TRUE(again);
        EXPECT_EQ(*again, *candidate);
      }
    }
  }
}

}  // namespace
}  // namespace hyphae::webrtc
