#include "webrtc/sdp.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include "core/error.hpp"

namespace hyphae::webrtc {

namespace {

std::unexpected<std::error_code> fail(Errc e) {
  return std::unexpected(make_error_code(e));
}

bool is_ice_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

bool is_ice_string(std::string_view s, std::size_t min, std::size_t max) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s)
    if (!is_ice_char(c)) return false;
  return true;
}

// RFC 8866 token-char, used for mid and other short identifiers.
bool is_token(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`{|}~";
  for (char c : s) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && kExtra.find(c) == std::string_view::npos) return false;
  }
  return true;
}

template <typename T>
std::optional<T> parse_number(std::string_view s) {
  T value{};
  if (s.empty() || s.size() > 20) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// Splits on single spaces; returns false past max_tokens or on an empty token (double space).
bool split_spaces(std::string_view s, std::vector<std::string_view>& out, std::size_t max_tokens) {
  out.clear();
  while (!s.empty()) {
    const auto space = s.find(' ');
    const auto token = s.substr(0, space);
    if (token.empty()) return false;
    if (out.size() == max_tokens) return false;
    out.push_back(token);
    if (space == std::string_view::npos) break;
    s.remove_prefix(space + 1);
    if (s.empty()) return false;  // trailing space
  }
  return true;
}

bool plausible_address(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == ':' || c == '-' || c == '_' || c == '%';
    if (!ok) return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<DtlsSetup> parse_setup(std::string_view s) {
  if (s == "actpass") return DtlsSetup::actpass;
  if (s == "active") return DtlsSetup::active;
  if (s == "passive") return DtlsSetup::passive;
  return std::nullopt;
}

std::optional<CandidateType> parse_type(std::string_view s) {
  if (s == "host") return CandidateType::host;
  if (s == "srflx") return CandidateType::srflx;
  if (s == "prflx") return CandidateType::prflx;
  if (s == "relay") return CandidateType::relay;
  return std::nullopt;
}

// Attributes that may stand at session level and be overridden in the media section.
struct Shared {
  std::optional<std::string> ufrag, pwd;
  std::optional<Fingerprint> fingerprint;
  bool fingerprint_other = false;  // a fingerprint with another hash was seen
  std::optional<DtlsSetup> setup;
  bool trickle = false;
  bool lite = false;
};

// Applies one attribute that can appear at either level. Returns false when malformed; `known`
// tells whether the attribute was one of these.
bool apply_shared(std::string_view name, std::string_view value, bool has_value, Shared& s, bool& known) {
  known = true;
  if (name == "ice-ufrag") {
    if (!has_value || !is_ice_string(value, 4, 256)) return false;
    s.ufrag = std::string(value);
  } else if (name == "ice-pwd") {
    if (!has_value || !is_ice_string(value, 22, 256)) return false;
    s.pwd = std::string(value);
  } else if (name == "fingerprint") {
    const auto space = value.find(' ');
    if (!has_value || space == std::string_view::npos) return false;
    if (iequals(value.substr(0, space), "sha-256")) {
      auto fp = parse_fingerprint(value.substr(space + 1));
      if (!fp) return false;
      s.fingerprint = *fp;
    } else {
      s.fingerprint_other = true;
    }
  } else if (name == "setup") {
    auto setup = has_value ? parse_setup(value) : std::nullopt;
    if (!setup) return false;
    s.setup = *setup;
  } else if (name == "ice-options") {
    std::vector<std::string_view> options;
    if (!split_spaces(value, options, 16)) return false;
    for (auto o : options)
      if (o == "trickle") s.trickle = true;
  } else if (name == "ice-lite") {
    s.lite = true;
  } else {
    known = false;
  }
  return true;
}

}  // namespace

std::string_view to_string(DtlsSetup setup) {
  switch (setup) {
    case DtlsSetup::actpass:
      return "actpass";
    case DtlsSetup::active:
      return "active";
    case DtlsSetup::passive:
      return "passive";
  }
  return "actpass";
}

std::string_view to_string(CandidateType type) {
  switch (type) {
    case CandidateType::host:
      return "host";
    case CandidateType::srflx:
      return "srflx";
    case CandidateType::prflx:
      return "prflx";
    case CandidateType::relay:
      return "relay";
  }
  return "host";
}

std::string format_fingerprint(const Fingerprint& fingerprint) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(fingerprint.size() * 3);
  for (std::size_t i = 0; i < fingerprint.size(); ++i) {
    if (i) out.push_back(':');
    out.push_back(kHex[fingerprint[i] >> 4]);
    out.push_back(kHex[fingerprint[i] & 15]);
  }
  return out;
}

std::expected<Fingerprint, std::error_code> parse_fingerprint(std::string_view text) {
  Fingerprint out{};
  if (text.size() != out.size() * 3 - 1) return fail(Errc::malformed);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::size_t at = i * 3;
    if (i && text[at - 1] != ':') return fail(Errc::malformed);
    const int hi = hex_value(text[at]);
    const int lo = hex_value(text[at + 1]);
    if (hi < 0 || lo < 0) return fail(Errc::malformed);
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string format_candidate(const IceCandidate& c) {
  std::string out = "candidate:" + c.foundation + ' ' + std::to_string(c.component) + ' ' + c.transport +
                    ' ' + std::to_string(c.priority) + ' ' + c.address + ' ' + std::to_string(c.port) +
                    " typ " + std::string(to_string(c.type));
  if (!c.related_address.empty())
    out += " raddr " + c.related_address + " rport " + std::to_string(c.related_port);
  if (!c.tcp_type.empty()) out += " tcptype " + c.tcp_type;
  return out;
}

std::expected<IceCandidate, std::error_code> parse_candidate(std::string_view line) {
  if (line.size() > kMaxSdpLineBytes) return fail(Errc::too_large);
  if (line.starts_with("a=")) line.remove_prefix(2);
  if (!line.starts_with("candidate:")) return fail(Errc::malformed);
  line.remove_prefix(10);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  std::vector<std::string_view> t;
  if (!split_spaces(line, t, 64) || t.size() < 8) return fail(Errc::malformed);

  IceCandidate c;
  if (!is_ice_string(t[0], 1, 32)) return fail(Errc::malformed);
  c.foundation = std::string(t[0]);
  auto component = parse_number<std::uint16_t>(t[1]);
  if (!component || *component < 1 || *component > 256) return fail(Errc::malformed);
  c.component = *component;
  if (iequals(t[2], "udp")) {
    c.transport = "udp";
  } else if (iequals(t[2], "tcp")) {
    c.transport = "tcp";
  } else {
    return fail(Errc::malformed);
  }
  auto priority = parse_number<std::uint32_t>(t[3]);
  if (!priority || *priority == 0) return fail(Errc::malformed);
  c.priority = *priority;
  if (!plausible_address(t[4])) return fail(Errc::malformed);
  c.address = std::string(t[4]);
  auto port = parse_number<std::uint16_t>(t[5]);
  if (!port) return fail(Errc::malformed);
  c.port = *port;
  if (t[6] != "typ") return fail(Errc::malformed);
  auto type = parse_type(t[7]);
  if (!type) return fail(Errc::malformed);
  c.type = *type;

  bool have_raddr = false, have_rport = false;
  for (std::size_t i = 8; i < t.size(); i += 2) {
    if (i + 1 >= t.size()) return fail(Errc::malformed);  // extensions come in name/value pairs
    const auto name = t[i];
    const auto value = t[i + 1];
    if (name == "raddr") {
      if (!plausible_address(value)) return fail(Errc::malformed);
      c.related_address = std::string(value);
      have_raddr = true;
    } else if (name == "rport") {
      auto rport = parse_number<std::uint16_t>(value);
      if (!rport) return fail(Errc::malformed);
      c.related_port = *rport;
      have_rport = true;
    } else if (name == "tcptype") {
      if (value != "active" && value != "passive" && value != "so") return fail(Errc::malformed);
      c.tcp_type = std::string(value);
    }
  }
  if (have_raddr != have_rport) return fail(Errc::malformed);
  return c;
}

std::expected<std::string, std::error_code> build_sdp(const SessionDescription& d) {
  if (!is_ice_string(d.ice_ufrag, 4, 256) || !is_ice_string(d.ice_pwd, 22, 256) || !is_token(d.mid))
    return fail(Errc::invalid_argument);
  std::string out;
  out.reserve(512 + d.candidates.size() * 100);
  auto line = [&out](std::string_view text) {
    out += text;
    out += "\r\n";
  };
  line("v=0");
  line("o=- " + std::to_string(d.session_id & 0x7fffffffffffffffULL) + ' ' +
       std::to_string(d.session_version) + " IN IP4 127.0.0.1");
  line("s=-");
  line("t=0 0");
  line("a=group:BUNDLE " + d.mid);
  if (d.ice_lite) line("a=ice-lite");
  line("m=application 9 UDP/DTLS/SCTP webrtc-datachannel");
  line("c=IN IP4 0.0.0.0");
  for (const auto& c : d.candidates) line("a=" + format_candidate(c));
  if (d.end_of_candidates) line("a=end-of-candidates");
  line("a=ice-ufrag:" + d.ice_ufrag);
  line("a=ice-pwd:" + d.ice_pwd);
  if (d.ice_trickle) line("a=ice-options:trickle");
  line("a=fingerprint:sha-256 " + format_fingerprint(d.fingerprint));
  line("a=setup:" + std::string(to_string(d.setup)));
  line("a=mid:" + d.mid);
  line("a=sctp-port:" + std::to_string(d.sctp_port));
  line("a=max-message-size:" + std::to_string(d.max_message_size));
  return out;
}

std::expected<SessionDescription, std::error_code> parse_sdp(std::string_view text) {
  if (text.size() > kMaxSdpBytes) return fail(Errc::too_large);

  SessionDescription d;
  d.max_message_size = kDefaultRemoteMaxMessageSize;
  d.ice_trickle = false;
  Shared session, media;
  bool seen_version = false, seen_origin = false, in_media = false, have_media = false;
  bool seen_sctp_port = false;
  std::size_t lines = 0;

  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxSdpLineBytes) return fail(Errc::too_large);
    if (++lines > kMaxSdpLines) return fail(Errc::too_large);
    if (line.empty()) continue;  // a trailing blank line, as some stacks send
    if (line.size() < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z') return fail(Errc::malformed);
    const char kind = line[0];
    const std::string_view value = line.substr(2);

    if (!seen_version) {
      if (kind != 'v' || value != "0") return fail(Errc::malformed);
      seen_version = true;
      continue;
    }
    if (kind == 'v') return fail(Errc::malformed);
    if (kind == 'o') {
      std::vector<std::string_view> t;
      if (in_media || seen_origin || !split_spaces(value, t, 6) || t.size() != 6)
        return fail(Errc::malformed);
      auto id = parse_number<std::uint64_t>(t[1]);
      auto version = parse_number<std::uint64_t>(t[2]);
      if (!id || !version) return fail(Errc::malformed);
      d.session_id = *id;
      d.session_version = *version;
      seen_origin = true;
      continue;
    }
    if (kind == 'm') {
      if (have_media) return fail(Errc::unsupported);  // audio/video sections are not ours
      std::vector<std::string_view> t;
      if (!split_spaces(value, t, 16) || t.size() < 4) return fail(Errc::malformed);
      if (!parse_number<std::uint16_t>(t[1])) return fail(Errc::malformed);
      if (t[0] != "application" || t[2] != "UDP/DTLS/SCTP" || t[3] != "webrtc-datachannel" || t.size() != 4)
        return fail(Errc::unsupported);
      in_media = have_media = true;
      continue;
    }
    if (kind != 'a') continue;  // s=, t=, c=, b=, i=... carry nothing we need

    const auto colon = value.find(':');
    const std::string_view name = value.substr(0, colon);
    const bool has_value = colon != std::string_view::npos;
    const std::string_view arg = has_value ? value.substr(colon + 1) : std::string_view{};
    bool known = false;
    if (!apply_shared(name, arg, has_value, in_media ? media : session, known)) return fail(Errc::malformed);
    if (known || !in_media) continue;

    if (name == "candidate") {
      auto candidate = parse_candidate(value);
      // Unparsable, TCP and mDNS-named candidates are left out: the session can still connect.
      if (candidate && candidate->transport == "udp" && candidate->component == 1 &&
          d.candidates.size() < kMaxSdpCandidates)
        d.candidates.push_back(std::move(*candidate));
    } else if (name == "end-of-candidates") {
      d.end_of_candidates = true;
    } else if (name == "mid") {
      if (!is_token(arg)) return fail(Errc::malformed);
      d.mid = std::string(arg);
    } else if (name == "sctp-port") {
      auto port = parse_number<std::uint16_t>(arg);
      if (!port || *port == 0) return fail(Errc::malformed);
      d.sctp_port = *port;
      seen_sctp_port = true;
    } else if (name == "max-message-size") {
      auto size = parse_number<std::uint64_t>(arg);
      if (!size) return fail(Errc::malformed);
      d.max_message_size = static_cast<std::uint32_t>(std::min<std::uint64_t>(*size, 0xffffffffu));
    }
  }

  if (!seen_version || !seen_origin) return fail(Errc::malformed);
  if (!have_media) return fail(Errc::malformed);
  (void)seen_sctp_port;  // RFC 8841 makes it optional; 5000 is the default

  auto pick = [](const auto& m, const auto& s) { return m ? m : s; };
  const auto ufrag = pick(media.ufrag, session.ufrag);
  const auto pwd = pick(media.pwd, session.pwd);
  const auto fingerprint = pick(media.fingerprint, session.fingerprint);
  const auto setup = pick(media.setup, session.setup);
  if (!ufrag || !pwd || !setup) return fail(Errc::malformed);
  if (!fingerprint)
    return fail(media.fingerprint_other || session.fingerprint_other ? Errc::unsupported : Errc::malformed);
  d.ice_ufrag = *ufrag;
  d.ice_pwd = *pwd;
  d.fingerprint = *fingerprint;
  d.setup = *setup;
  d.ice_trickle = media.trickle || session.trickle;
  d.ice_lite = media.lite || session.lite;
  return d;
}

}  // namespace hyphae::webrtc
