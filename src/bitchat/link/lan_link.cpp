// LanLink: beacons over UDP multicast and static peers, frames over unicast UDP (see the header).
#include "bitchat/link/lan_link.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <utility>

#include "core/error.hpp"
#include "net/interfaces.hpp"
#include "util/option_text.hpp"

namespace hyphae::bitchat {

namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

constexpr std::uint64_t kRescanMs = 5000;          // auto interfaces: look for new ones this often
constexpr std::uint64_t kLogEveryMs = 10'000;      // rate limit of repeated warnings
constexpr std::size_t kMaxQueuedBytes = 4u << 20;  // frames waiting for the socket, at most
constexpr std::size_t kReceiveBuffer = 65536;      // > kMaxUdpPayload
constexpr int kReceiveErrorsBeforeBackoff = 10;    // in a row; then wait before receiving again
constexpr std::chrono::milliseconds kReceiveBackoff{50};

std::uint64_t steady_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

// At most one message per kLogEveryMs; counts the ones it held back.
struct LogLimiter {
  std::uint64_t next_ms = 0, held_back = 0;
  bool allow(std::uint64_t now, std::uint64_t& skipped) {
    if (now < next_ms) {
      ++held_back;
      return false;
    }
    skipped = held_back;
    held_back = 0;
    next_ms = now + kLogEveryMs;
    return true;
  }
};

// One warning through `limiter`, with the count of those it held back since the last one.
template <typename... Args>
void log_limited(LogLimiter& limiter, spdlog::level::level_enum level, fmt::format_string<Args...> format,
                 Args&&... args) {
  std::uint64_t skipped = 0;
  if (!limiter.allow(steady_ms(), skipped)) return;
  auto text = fmt::format(format, std::forward<Args>(args)...);
  if (skipped > 0) text += fmt::format(" ({} more since the last report)", skipped);
  spdlog::log(level, "lan: {}", text);
}

// "host:port" with an IPv4 literal or a name; false if malformed or the port is out of range.
bool split_host_port(std::string_view s, std::string& host, std::uint16_t& port, bool allow_port_zero) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  auto h = s.substr(0, colon), p = s.substr(colon + 1);
  if (h.find_first_of(": \t[]") != std::string_view::npos) return false;
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc{} || ptr != p.data() + p.size() || value > 65535) return false;
  if (value == 0 && !allow_port_zero) return false;
  host = std::string(h);
  port = static_cast<std::uint16_t>(value);
  return true;
}

std::string endpoint_text(const udp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

using Interface = net::Ipv4Interface;

std::expected<std::vector<Interface>, std::string> find_interfaces(const std::vector<std::string>& names) {
  return net::ipv4_interfaces(names);
}

}  // namespace

// ---- Beacons ----

bool has_beacon_magic(ByteView d) {
  return d.size() >= sizeof kBeaconMagic &&
         std::equal(std::begin(kBeaconMagic), std::end(kBeaconMagic), d.begin());
}

std::expected<Beacon, std::error_code> decode_beacon(ByteView d) {
  std::size_t head = std::min(d.size(), sizeof kBeaconMagic);
  if (!std::equal(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(head), std::begin(kBeaconMagic)))
    return std::unexpected(make_error_code(Errc::malformed));
  if (d.size() < kBeaconSize) return std::unexpected(make_error_code(Errc::truncated));
  if (d[4] != kBeaconVersion) return std::unexpected(make_error_code(Errc::unsupported));
  if (d[5] != static_cast<std::uint8_t>(BeaconKind::beacon) &&
      d[5] != static_cast<std::uint8_t>(BeaconKind::goodbye))
    return std::unexpected(make_error_code(Errc::unsupported));
  Beacon b;
  b.kind = static_cast<BeaconKind>(d[5]);
  std::copy(d.begin() + 6, d.begin() + 14, b.mesh_id.begin());
  b.port = get_u16be(d.data() + 14);
  b.mtu = get_u16be(d.data() + 16);
  if (b.mesh_id == kBroadcastId || b.port == 0 || b.mtu < kMinLanMtu)
    return std::unexpected(make_error_code(Errc::malformed));
  return b;
}

Bytes encode_beacon(const Beacon& b) {
  Bytes out(std::begin(kBeaconMagic), std::end(kBeaconMagic));
  out.reserve(kBeaconSize);
  out.push_back(kBeaconVersion);
  out.push_back(static_cast<std::uint8_t>(b.kind));
  out.insert(out.end(), b.mesh_id.begin(), b.mesh_id.end());
  put_u16be(out, b.port);
  put_u16be(out, b.mtu);
  return out;
}

// ---- Options ----

std::expected<LanLinkOptions, std::string> LanLinkOptions::parse(
    const std::map<std::string, std::string>& m) {
  LanLinkOptions o;
  auto get = [&](const char* key) -> const std::string* {
    auto it = m.find(key);
    return it == m.end() ? nullptr : &it->second;
  };
  if (auto v = get("interfaces")) {
    o.interfaces = split_option_list(*v);
    for (const auto& name : o.interfaces)
      if (name.size() >= IFNAMSIZ || name.find_first_of(" /:") != std::string::npos)
        return std::unexpected("interfaces: '" + name + "' is not an interface name");
  }
  // Reads `key` into `out` if present; the error text otherwise (empty: fine).
  auto read = [&](const char* key, auto& out, auto min, auto max) -> std::string {
    if (auto v = get(key)) {
      auto n = parse_number<std::remove_reference_t<decltype(out)>>(key, *v, min, max);
      if (!n) return n.error();
      out = *n;
    }
    return {};
  };
  if (auto v = get("multicast")) {
    auto b = parse_bool("multicast", *v);
    if (!b) return std::unexpected(b.error());
    o.multicast = *b;
  }
  boost::system::error_code ec;
  if (auto v = get("group")) {
    if (auto a = asio::ip::make_address_v4(*v, ec); ec || !a.is_multicast())
      return std::unexpected("group: '" + *v + "' is not an IPv4 multicast address");
    o.group = *v;
  }
  if (auto v = get("listen")) {
    if (!split_host_port(*v, o.listen_address, o.listen_port, true) ||
        (asio::ip::make_address_v4(o.listen_address, ec), ec))
      return std::unexpected("listen: '" + *v + "' is not an IPv4 address:port");
  }
  if (auto v = get("static_peers")) {
    o.static_peers = split_option_list(*v);
    std::string host;
    std::uint16_t port = 0;
    for (const auto& peer : o.static_peers)
      if (!split_host_port(peer, host, port, false))
        return std::unexpected("static_peers: '" + peer + "' is not host:port");
  }
  using U16 = std::uint16_t;
  using U64 = std::uint64_t;
  for (const auto& error : {read("group_port", o.group_port, U16{1}, U16{65535}),
                            read("beacon_interval_ms", o.beacon_interval_ms, U64{10}, U64{3'600'000}),
                            read("neighbour_timeout_ms", o.neighbour_timeout_ms, U64{20}, U64{86'400'000}),
                            read("mtu", o.mtu, kMinLanMtu, kMaxUdpPayload)})
    if (!error.empty()) return std::unexpected(error);
  if (o.neighbour_timeout_ms <= o.beacon_interval_ms)
    return std::unexpected("neighbour_timeout_ms: " + std::to_string(o.neighbour_timeout_ms) +
                           " must be longer than beacon_interval_ms (" +
                           std::to_string(o.beacon_interval_ms) + ")");
  return o;
}

// ---- The link ----

class LanLink::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(Strand strand, LanLinkOptions options, LinkSink& sink)
      : strand_(strand),
        options_(std::move(options)),
        sink_(sink),
        unicast_{strand_, false},
        group_{strand_, true},
        beacon_timer_(strand_),
        expiry_timer_(strand_),
        rng_(std::random_device{}()) {}

  std::error_code start();
  void stop(bool quiet);
  bool send(LinkId id, ByteView frame);
  void drop(LinkId id, const std::string& reason);
  nlohmann::json status_json() const;

  enum class State : std::uint8_t { idle, running, stopped };
  using Key = std::pair<std::uint32_t, std::uint16_t>;  // IPv4 address, unicast port

  struct Neighbour {
    LinkId id = 0;
    ShortId mesh_id{};
    udp::endpoint endpoint;
    std::string address;
    std::size_t mtu = 0;
    std::uint64_t last_heard_ms = 0;
    std::uint64_t last_multicast_ms = 0;  // last beacon on the group socket (0: never)
  };

  struct Receiver {
    Receiver(const Strand& strand, bool is_group) : socket(strand), retry(strand), group(is_group) {
      buffer.resize(kReceiveBuffer);
    }
    udp::socket socket;
    asio::steady_timer retry;
    Bytes buffer;
    udp::endpoint sender;
    int errors_in_row = 0;
    bool group;
  };

  std::error_code fail(std::error_code ec, std::string message);
  void receive(Receiver& r);
  void on_receive(Receiver& r, const boost::system::error_code& ec, std::size_t n);
  void on_unicast_datagram(ByteView d, const udp::endpoint& from);
  void on_beacon(ByteView d, const udp::endpoint& from, bool via_group);
  void take_down(const Key& key, const std::string& reason);
  std::string join(const Interface& iface);  // empty when joined, else why not
  void rescan_interfaces();
  // Sends one datagram at once; errors are counted and logged (would_block too, unless can_queue).
  boost::system::error_code send_now(ByteView bytes, const udp::endpoint& to, const char* what,
                                     bool can_queue = false);
  void send_beacons(BeaconKind kind);
  void schedule_beacon();
  void schedule_expiry();
  void on_expiry();
  void warn_malformed(const udp::endpoint& from, const std::string& what);
  Bytes beacon_bytes(BeaconKind kind) const {
    return encode_beacon({kind, options_.self, bound_port_, static_cast<std::uint16_t>(options_.mtu)});
  }

  // The rest is read by LanLink's accessors.

  Strand strand_;
  LanLinkOptions options_;
  LinkSink& sink_;
  Receiver unicast_, group_;
  asio::steady_timer beacon_timer_, expiry_timer_;
  State state_ = State::idle;
  std::string start_error_;
  LanLinkCounters counters_;
  std::uint16_t bound_port_ = 0;
  udp::endpoint group_endpoint_;
  std::vector<Interface> interfaces_;  // joined
  std::vector<std::pair<std::string, udp::endpoint>> static_peers_;
  std::map<Key, Neighbour> neighbours_;
  std::map<LinkId, Key> by_id_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t last_rescan_ms_ = 0;
  LogLimiter malformed_log_, send_error_log_, unknown_log_, full_log_;
  std::minstd_rand rng_;
};

std::error_code LanLink::Impl::fail(std::error_code ec, std::string message) {
  start_error_ = std::move(message);
  spdlog::error("lan: start failed: {}", start_error_);
  boost::system::error_code ignored;
  unicast_.socket.close(ignored);
  group_.socket.close(ignored);
  interfaces_.clear();
  static_peers_.clear();
  bound_port_ = 0;
  return ec;
}

std::error_code LanLink::Impl::start() {
  if (state_ != State::idle) {
    start_error_ = state_ == State::running ? "already started" : "stopped";
    return make_error_code(state_ == State::running ? Errc::invalid_argument : Errc::closed);
  }
  start_error_.clear();
  const auto& o = options_;
  if (o.mtu < kMinLanMtu || o.mtu > kMaxUdpPayload)
    return fail(Errc::invalid_argument, "mtu " + std::to_string(o.mtu) + " is not in [64, 65507]");
  if (o.beacon_interval_ms == 0 || o.neighbour_timeout_ms == 0)
    return fail(Errc::invalid_argument, "beacon_interval_ms and neighbour_timeout_ms must be positive");
  boost::system::error_code ec;
  auto group = asio::ip::make_address_v4(o.group, ec);
  if (ec || !group.is_multicast())
    return fail(Errc::invalid_argument, "group " + o.group + " is not multicast");
  group_endpoint_ = udp::endpoint(group, o.group_port);
  auto listen = asio::ip::make_address_v4(o.listen_address, ec);
  if (ec) return fail(Errc::invalid_argument, "listen address " + o.listen_address + " is not IPv4");

  udp::resolver resolver(strand_);
  for (const auto& peer : o.static_peers) {
    std::string host;
    std::uint16_t port = 0;
    if (!split_host_port(peer, host, port, false))
      return fail(Errc::invalid_argument, "static peer " + peer + " is not host:port");
    auto results = resolver.resolve(udp::v4(), host, std::to_string(port), ec);
    if (ec || results.empty())
      return fail(Errc::unknown_peer, "static peer " + peer + ": " + (ec ? ec.message() : "no IPv4 address"));
    static_peers_.emplace_back(peer, results.begin()->endpoint());
  }

  auto& u = unicast_.socket;
  u.open(udp::v4(), ec);
  if (!ec) u.bind(udp::endpoint(listen, o.listen_port), ec);
  if (ec)
    return fail(ec, "listen " + o.listen_address + ":" + std::to_string(o.listen_port) + ": " + ec.message());
  bound_port_ = u.local_endpoint(ec).port();
  u.non_blocking(true, ec);  // beacons and the fast path of send() never block the strand
  boost::system::error_code ignored;
  u.set_option(udp::socket::receive_buffer_size(1 << 20), ignored);
  u.set_option(asio::ip::multicast::hops(1), ignored);
  u.set_option(asio::ip::multicast::enable_loopback(true), ignored);

  if (o.multicast) {
    auto found = find_interfaces(o.interfaces);
    if (!found) return fail(Errc::not_found, found.error());
    auto& g = group_.socket;
    g.open(udp::v4(), ec);
    if (!ec) g.set_option(udp::socket::reuse_address(true), ec);
#ifdef IP_MULTICAST_ALL
    if (!ec) {  // only the group joined here, not every group some socket on the host joined
      int zero = 0;
      ::setsockopt(g.native_handle(), IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
    }
#endif
    if (!ec) g.bind(udp::endpoint(asio::ip::address_v4::any(), o.group_port), ec);
    if (ec) return fail(ec, "group port " + std::to_string(o.group_port) + ": " + ec.message());
    const bool named = !o.interfaces.empty();
    for (const auto& iface : *found) {
      auto why = join(iface);
      if (why.empty()) continue;
      if (named)
        return fail(Errc::not_found, "interface " + iface.name + ": cannot join " + o.group + ": " + why);
      spdlog::warn("lan: interface {} ({}): cannot join {}: {}", iface.name, iface.address.to_string(),
                   o.group, why);
    }
    last_rescan_ms_ = steady_ms();
  }
  if (interfaces_.empty() && static_peers_.empty())
    spdlog::warn("lan: no multicast interface and no static peers: this link will find no neighbours");

  state_ = State::running;
  std::string names;
  for (const auto& i : interfaces_) names += (names.empty() ? "" : ",") + i.name;
  spdlog::info("lan: listening on {}:{}, group {}:{} on [{}], {} static peer(s)", o.listen_address,
               bound_port_, o.group, o.group_port, names, static_peers_.size());
  receive(unicast_);
  if (group_.socket.is_open()) receive(group_);
  send_beacons(BeaconKind::beacon);
  schedule_beacon();
  schedule_expiry();
  return {};
}

void LanLink::Impl::stop(bool quiet) {
  if (state_ == State::stopped) return;
  const bool was_running = state_ == State::running;
  state_ = State::stopped;
  if (was_running && !quiet) send_beacons(BeaconKind::goodbye);
  boost::system::error_code ignored;
  unicast_.socket.close(ignored);
  group_.socket.close(ignored);
  unicast_.retry.cancel();
  group_.retry.cancel();
  beacon_timer_.cancel();
  expiry_timer_.cancel();
  std::vector<LinkId> ids;
  for (const auto& [key, n] : neighbours_) ids.push_back(n.id);
  neighbours_.clear();
  by_id_.clear();
  if (quiet) return;
  for (LinkId id : ids) sink_.on_neighbour_down(id, "link stopped");
}

// ---- Receiving ----

void LanLink::Impl::receive(Receiver& r) {
  r.socket.async_receive_from(asio::buffer(r.buffer), r.sender,
                              [self = shared_from_this(), &r](const boost::system::error_code& ec,
                                                              std::size_t n) { self->on_receive(r, ec, n); });
}

void LanLink::Impl::on_receive(Receiver& r, const boost::system::error_code& ec, std::size_t n) {
  if (state_ != State::running || ec == asio::error::operation_aborted) return;
  if (ec) {
    // E.g. an ICMP port unreachable for an earlier send (connection_refused): keep receiving.
    // If it keeps failing, pause between attempts.
    spdlog::debug("lan: receive on the {} socket: {}", r.group ? "group" : "unicast", ec.message());
    if (++r.errors_in_row <= kReceiveErrorsBeforeBackoff) return receive(r);
    r.retry.expires_after(kReceiveBackoff);
    return r.retry.async_wait([self = shared_from_this(), &r](const boost::system::error_code& e) {
      if (!e && self->state_ == State::running) self->receive(r);
    });
  }
  r.errors_in_row = 0;
  const udp::endpoint from = r.sender;
  ByteView d(r.buffer.data(), n);
  if (n > 0 && from.address().is_v4()) {  // empty datagrams are dropped
    if (!r.group) on_unicast_datagram(d, from);
    if (r.group && !has_beacon_magic(d))
      warn_malformed(from, "a datagram that is not a beacon on the group port");
    if (r.group && has_beacon_magic(d)) on_beacon(d, from, true);
  }
  if (state_ == State::running) receive(r);  // the sink may have stopped the link
}

void LanLink::Impl::on_unicast_datagram(ByteView d, const udp::endpoint& from) {
  if (has_beacon_magic(d)) return on_beacon(d, from, false);
  auto it = neighbours_.find(Key{from.address().to_v4().to_uint(), from.port()});
  if (it == neighbours_.end()) {
    ++counters_.unknown_source;
    return log_limited(unknown_log_, spdlog::level::debug, "dropped a {}-byte frame from unknown source {}",
                       d.size(), endpoint_text(from));
  }
  ++counters_.frames_received;
  counters_.bytes_received += d.size();
  sink_.on_frame(it->second.id, d);
}

void LanLink::Impl::on_beacon(ByteView d, const udp::endpoint& from, bool via_group) {
  auto beacon = decode_beacon(d);
  if (!beacon) return warn_malformed(from, "a malformed beacon (" + beacon.error().message() + ")");
  if (beacon->mesh_id == options_.self) return;  // our own, looped back
  ++counters_.beacons_received;
  const auto now = steady_ms();
  const Key key{from.address().to_v4().to_uint(), beacon->port};
  auto it = neighbours_.find(key);
  if (beacon->kind == BeaconKind::goodbye) {
    if (it != neighbours_.end() && it->second.mesh_id == beacon->mesh_id) take_down(key, "goodbye");
    return;
  }
  if (it != neighbours_.end() && it->second.mesh_id != beacon->mesh_id) {
    take_down(key, "mesh id changed");
    if (state_ != State::running) return;
    it = neighbours_.find(key);
  }
  if (it != neighbours_.end()) {
    it->second.last_heard_ms = now;
    if (via_group) it->second.last_multicast_ms = now;
    return;
  }
  if (neighbours_.size() >= options_.max_neighbours)
    return log_limited(full_log_, spdlog::level::warn, "{} neighbours already: ignored a beacon from {}",
                       neighbours_.size(), endpoint_text(from));
  const LinkId id = next_link_id();
  const udp::endpoint endpoint(from.address(), beacon->port);
  const auto address = endpoint_text(endpoint);
  const auto mtu = std::min(options_.mtu, std::min<std::size_t>(beacon->mtu, kMaxUdpPayload));
  neighbours_.emplace(key, Neighbour{id, beacon->mesh_id, endpoint, address, mtu, now, via_group ? now : 0});
  by_id_.emplace(id, key);
  spdlog::info("lan: neighbour {} up: {} at {} (mtu {}, via {})", id, to_hex(beacon->mesh_id), address, mtu,
               via_group ? "multicast" : "unicast");
  auto reply = beacon_bytes(BeaconKind::beacon);  // so it finds us without waiting for our next beacon
  if (!send_now(reply, endpoint, "beacon")) ++counters_.beacons_sent;
  sink_.on_neighbour_up(id, beacon->mesh_id, address, mtu);
}

void LanLink::Impl::take_down(const Key& key, const std::string& reason) {
  auto it = neighbours_.find(key);
  if (it == neighbours_.end()) return;
  const LinkId id = it->second.id;
  spdlog::info("lan: neighbour {} down: {} at {}: {}", id, to_hex(it->second.mesh_id), it->second.address,
               reason);
  by_id_.erase(id);
  neighbours_.erase(it);
  sink_.on_neighbour_down(id, reason);
}

void LanLink::Impl::warn_malformed(const udp::endpoint& from, const std::string& what) {
  ++counters_.malformed_beacons;
  log_limited(malformed_log_, spdlog::level::warn, "ignored {} from {}", what, endpoint_text(from));
}

// ---- Sending ----

boost::system::error_code LanLink::Impl::send_now(ByteView bytes, const udp::endpoint& to, const char* what,
                                                  bool can_queue) {
  boost::system::error_code ec;
  unicast_.socket.send_to(asio::buffer(bytes.data(), bytes.size()), to, 0, ec);
  if (!ec || (can_queue && ec == asio::error::would_block)) return ec;
  ++counters_.send_errors;  // lost like any datagram; the mesh above retries what matters
  log_limited(send_error_log_, spdlog::level::warn, "sending a {} to {} failed: {}", what, endpoint_text(to),
              ec.message());
  return ec;
}

bool LanLink::Impl::send(LinkId id, ByteView frame) {
  if (state_ != State::running || frame.empty() || frame.size() > kMaxUdpPayload) return false;
  if (has_beacon_magic(frame)) return false;  // it would be read as a beacon
  auto k = by_id_.find(id);
  if (k == by_id_.end()) return false;
  const udp::endpoint to = neighbours_.at(k->second).endpoint;
  if (queued_bytes_ == 0) {  // nothing waiting: send at once, in order
    auto ec = send_now(frame, to, "frame", true);
    if (!ec) {
      ++counters_.frames_sent;
      counters_.bytes_sent += frame.size();
    }
    if (ec != asio::error::would_block) return true;
  }
  if (queued_bytes_ + frame.size() > kMaxQueuedBytes) {
    ++counters_.send_errors;
    log_limited(full_log_, spdlog::level::warn, "send queue full ({} bytes): refused a frame", queued_bytes_);
    return false;
  }
  auto copy = std::make_shared<Bytes>(frame.begin(), frame.end());
  queued_bytes_ += copy->size();
  unicast_.socket.async_send_to(
      asio::buffer(*copy), to,
      [self = shared_from_this(), copy, to](const boost::system::error_code& ec, std::size_t n) {
        self->queued_bytes_ -= copy->size();
        if (ec == asio::error::operation_aborted) return;
        if (ec) {
          ++self->counters_.send_errors;
          return log_limited(self->send_error_log_, spdlog::level::warn, "sending a frame to {} failed: {}",
                             endpoint_text(to), ec.message());
        }
        ++self->counters_.frames_sent;
        self->counters_.bytes_sent += n;
      });
  return true;
}

void LanLink::Impl::drop(LinkId id, const std::string& reason) {
  auto k = by_id_.find(id);
  if (k == by_id_.end()) return;
  take_down(k->second, reason);
}

void LanLink::Impl::send_beacons(BeaconKind kind) {
  if (!unicast_.socket.is_open()) return;
  const auto bytes = beacon_bytes(kind);
  const auto now = steady_ms();
  const char* what = kind == BeaconKind::goodbye ? "goodbye" : "beacon";
  for (const auto& iface : interfaces_) {
    boost::system::error_code ec;
    unicast_.socket.set_option(asio::ip::multicast::outbound_interface(iface.address), ec);
    if (ec) {
      ++counters_.send_errors;
      spdlog::debug("lan: IP_MULTICAST_IF {}: {}", iface.name, ec.message());
      continue;
    }
    if (!send_now(bytes, group_endpoint_, what)) ++counters_.beacons_sent;
  }
  std::set<udp::endpoint> done;
  for (const auto& [text, ep] : static_peers_)
    if (done.insert(ep).second && !send_now(bytes, ep, what)) ++counters_.beacons_sent;
  // Neighbours whose beacons do not reach us by multicast (static peers of theirs, or multicast
  // broken one way) get ours by unicast, or they would time us out.
  for (const auto& [key, n] : neighbours_) {
    bool heard_by_group =
        n.last_multicast_ms != 0 && now - n.last_multicast_ms <= options_.neighbour_timeout_ms / 2;
    if (kind == BeaconKind::beacon && heard_by_group) continue;
    if (done.insert(n.endpoint).second && !send_now(bytes, n.endpoint, what)) ++counters_.beacons_sent;
  }
}

void LanLink::Impl::schedule_beacon() {
  // 90-100% of the interval, so nodes started together drift apart instead of beaconing in step.
  const auto interval = options_.beacon_interval_ms;
  std::uniform_int_distribution<std::uint64_t> jitter(0, interval / 10);
  beacon_timer_.expires_after(std::chrono::milliseconds(interval - jitter(rng_)));
  beacon_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->state_ != State::running) return;
    if (self->options_.multicast && self->options_.interfaces.empty() &&
        steady_ms() - self->last_rescan_ms_ >= kRescanMs)
      self->rescan_interfaces();
    self->send_beacons(BeaconKind::beacon);
    self->schedule_beacon();
  });
}

void LanLink::Impl::rescan_interfaces() {
  last_rescan_ms_ = steady_ms();
  auto found = find_interfaces({});
  if (!found) return spdlog::warn("lan: {}", found.error());
  auto group = group_endpoint_.address().to_v4();
  for (auto it = interfaces_.begin(); it != interfaces_.end();) {
    if (std::find(found->begin(), found->end(), *it) != found->end()) {
      ++it;
      continue;
    }
    boost::system::error_code ignored;  // the kernel may have dropped the membership already
    group_.socket.set_option(asio::ip::multicast::leave_group(group, it->address), ignored);
    spdlog::info("lan: interface {} ({}) gone", it->name, it->address.to_string());
    it = interfaces_.erase(it);
  }
  for (const auto& iface : *found) {
    if (std::find(interfaces_.begin(), interfaces_.end(), iface) != interfaces_.end()) continue;
    auto why = join(iface);
    if (why.empty())
      spdlog::info("lan: interface {} ({}) joined", iface.name, iface.address.to_string());
    else
      spdlog::debug("lan: interface {}: cannot join {}: {}", iface.name, options_.group, why);
  }
}

std::string LanLink::Impl::join(const Interface& iface) {
  boost::system::error_code ec;
  group_.socket.set_option(asio::ip::multicast::join_group(group_endpoint_.address().to_v4(), iface.address),
                           ec);
  if (ec && ec != boost::system::errc::address_in_use) return ec.message();  // in use: joined already
  interfaces_.push_back(iface);
  return {};
}

// ---- Expiry ----

void LanLink::Impl::schedule_expiry() {
  auto period = std::clamp<std::uint64_t>(options_.neighbour_timeout_ms / 10, 10, 250);
  expiry_timer_.expires_after(std::chrono::milliseconds(period));
  expiry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->state_ != State::running) return;
    self->on_expiry();
    if (self->state_ == State::running) self->schedule_expiry();
  });
}

void LanLink::Impl::on_expiry() {
  const auto now = steady_ms();
  std::vector<std::pair<Key, std::uint64_t>> expired;
  for (const auto& [key, n] : neighbours_)
    if (now - n.last_heard_ms >= options_.neighbour_timeout_ms)
      expired.emplace_back(key, now - n.last_heard_ms);
  for (const auto& [key, age] : expired) take_down(key, "no beacon for " + std::to_string(age) + " ms");
}

// ---- Status ----

nlohmann::json LanLink::Impl::status_json() const {
  const auto now = steady_ms();
  nlohmann::json interfaces = nlohmann::json::array(), peers = nlohmann::json::array();
  for (const auto& i : interfaces_) interfaces.push_back(i.name);
  for (const auto& p : options_.static_peers) peers.push_back(p);
  nlohmann::json neighbours = nlohmann::json::array();
  for (const auto& [key, n] : neighbours_)
    neighbours.push_back({{"link", n.id},
                          {"address", n.address},
                          {"mesh_id", to_hex(n.mesh_id)},
                          {"mtu", n.mtu},
                          {"last_heard_ms_ago", now - n.last_heard_ms}});
  const auto& c = counters_;
  return {{"kind", "lan"},
          {"group", options_.group},
          {"group_port", options_.group_port},
          {"multicast", options_.multicast},
          {"listen_port", bound_port_},
          {"interfaces", interfaces},
          {"static_peers", peers},
          {"mtu", options_.mtu},
          {"neighbours", neighbours},
          {"counters",
           {{"beacons_sent", c.beacons_sent},
            {"beacons_received", c.beacons_received},
            {"frames_sent", c.frames_sent},
            {"frames_received", c.frames_received},
            {"bytes_sent", c.bytes_sent},
            {"bytes_received", c.bytes_received},
            {"unknown_source", c.unknown_source},
            {"malformed_beacons", c.malformed_beacons},
            {"send_errors", c.send_errors}}}};
}

// ---- LanLink ----

LanLink::LanLink(Strand strand, LanLinkOptions options, LinkSink& sink)
    : impl_(std::make_shared<Impl>(std::move(strand), std::move(options), sink)) {}

LanLink::~LanLink() {
  impl_->stop(true);
}

std::error_code LanLink::start() {
  return impl_->start();
}
void LanLink::stop() {
  impl_->stop(false);
}
bool LanLink::send(LinkId neighbour, ByteView frame) {
  return impl_->send(neighbour, frame);
}
void LanLink::drop(LinkId neighbour, const std::string& reason) {
  impl_->drop(neighbour, reason);
}
std::size_t LanLink::mtu() const {
  return impl_->options_.mtu;
}
nlohmann::json LanLink::status_json() const {
  return impl_->status_json();
}
std::uint16_t LanLink::listen_port() const {
  return impl_->bound_port_;
}
const std::string& LanLink::start_error() const {
  return impl_->start_error_;
}
const LanLinkCounters& LanLink::counters() const {
  return impl_->counters_;
}
std::size_t LanLink::neighbour_count() const {
  return impl_->neighbours_.size();
}

}  // namespace hyphae::bitchat
