// bitchat::LanLink: a BitChat mesh link over Wi-Fi/Ethernet with no server. Neighbours find each
// other with beacons sent to a UDP/IPv4 multicast group (once per chosen interface) and to static
// "host:port" peers (for networks without multicast, or several nodes on one host's loopback);
// frames travel as single unicast UDP datagrams between the nodes' unicast sockets.
// A neighbour is one (beacon source IPv4 address, advertised unicast port); it goes down on a
// goodbye, when unheard for neighbour_timeout_ms, on drop() and on stop().
//
// Beacon datagram (this link's own format, big-endian), 18 bytes:
//   "HYBL" magic (4) | version = 1 (1) | kind: 1 beacon, 2 goodbye (1) | mesh id (8)
//   | unicast port where the sender receives frames (2) | sender's mtu (2)
// Longer beacons are accepted and the extra bytes ignored (room for future fields). A datagram
// on the unicast socket that starts with the magic is a beacon; anything else is a frame.
//
// Thread-safety: like every Link, a LanLink runs on the strand it was made with; call every method
// there. Ownership: the transport owns the link, the sink outlives it; the destructor closes the
// sockets quietly (no goodbye, no sink calls). Pending handlers keep the internals alive until
// they run, so destroying the link with operations in flight is safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "bitchat/link/link.hpp"

namespace hyphae::bitchat {

inline constexpr std::uint8_t kBeaconMagic[4] = {'H', 'Y', 'B', 'L'};
inline constexpr std::uint8_t kBeaconVersion = 1;
inline constexpr std::size_t kBeaconSize = 18;
inline constexpr std::size_t kMaxUdpPayload = 65507;  // the largest IPv4 UDP datagram payload
inline constexpr std::size_t kMinLanMtu = 64;

enum class BeaconKind : std::uint8_t { beacon = 1, goodbye = 2 };

struct Beacon {
  BeaconKind kind = BeaconKind::beacon;
  ShortId mesh_id{};
  std::uint16_t port = 0;  // the sender's unicast port
  std::uint16_t mtu = 0;   // the largest frame the sender wants to receive
  bool operator==(const Beacon&) const = default;
};

// Errors: malformed (a byte off the magic; mesh id ff..ff; port 0; mtu under kMinLanMtu),
// truncated (under 18 bytes that agree with the magic as far as they go), unsupported (another
// version or an unknown kind).
std::expected<Beacon, std::error_code> decode_beacon(ByteView datagram);
Bytes encode_beacon(const Beacon& beacon);
// Whether a datagram starts with the beacon magic (then it is a beacon, valid or not).
bool has_beacon_magic(ByteView datagram);

struct LanLinkOptions {
  // Interface names for multicast; empty: every interface that is up, has an IPv4 address,
  // supports multicast and is not loopback (looked up again every few seconds, so an interface
  // that comes up later joins in).
  std::vector<std::string> interfaces;
  bool multicast = true;  // false: static peers only (no group socket, no interfaces)
  std::string group = "239.255.66.77";
  std::uint16_t group_port = 47477;
  // The unicast socket (an IPv4 literal). Multicast beacons leave from it too, so an address other
  // than 0.0.0.0 only makes sense with multicast on that address's interface (or multicast off).
  std::string listen_address = "0.0.0.0";
  std::uint16_t listen_port = 0;  // 0: ephemeral
  // "host:port", beaconed every interval; resolved once by start() (blocking, for names).
  std::vector<std::string> static_peers;
  std::uint64_t beacon_interval_ms = 1000;
  std::uint64_t neighbour_timeout_ms = 3500;
  std::size_t mtu = 512;             // announced; frames up to kMaxUdpPayload are still received
  std::size_t max_neighbours = 256;  // beacons from further new addresses are ignored
  ShortId self{};                    // our mesh id, announced in beacons

  // Text options (keys: interfaces, multicast, group, group_port, listen, static_peers,
  // beacon_interval_ms, neighbour_timeout_ms, mtu). Unknown keys are ignored; errors name the key.
  // `self` is left zero for the caller to set.
  static std::expected<LanLinkOptions, std::string> parse(const std::map<std::string, std::string>& options);
};

// bytes_* count frames only; beacons_* count beacons and goodbyes; send_errors counts datagrams
// the socket refused and frames refused because the send queue was full.
struct LanLinkCounters {
  std::uint64_t beacons_sent = 0, beacons_received = 0, frames_sent = 0, frames_received = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0, unknown_source = 0, malformed_beacons = 0;
  std::uint64_t send_errors = 0;
};

class LanLink final : public Link {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;

  LanLink(Strand strand, LanLinkOptions options, LinkSink& sink);
  ~LanLink() override;
  LanLink(const LanLink&) = delete;
  LanLink& operator=(const LanLink&) = delete;

  std::string_view kind() const override { return "lan"; }
  // Opens the sockets, joins the group and sends the first beacons. On failure nothing stays
  // open and start_error() says why (naming the interface, peer or address).
  std::error_code start() override;
  void stop() override;
  // One datagram to the neighbour. False when not running, the neighbour is unknown, the frame is
  // empty, over kMaxUdpPayload or starts with the beacon magic, or 4 MiB are already queued.
  bool send(LinkId neighbour, ByteView frame) override;
  void drop(LinkId neighbour, const std::string& reason) override;
  std::size_t mtu() const override;
  nlohmann::json status_json() const override;

  std::uint16_t listen_port() const;  // the unicast socket's bound port (0 before start)
  const std::string& start_error() const;
  const LanLinkCounters& counters() const;
  std::size_t neighbour_count() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace hyphae::bitchat
