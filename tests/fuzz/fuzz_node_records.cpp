// Fuzz target: a Node's record dispatch (TransportSink::on_record: data, ephemeral, ack, fragment
// and discovery records) for records arriving on an authenticated session, then the JSON the API renders from
// what was received (inbox_json, put_payload as the message stream does, status and connection
// views). A real Node runs in-process on a fresh data dir with an in-test transport (type
// "fuzzfake") whose session to a fixed peer is already up, as after a completed handshake.
//
// The input is a list of operations: one opcode byte, a 2-byte little-endian length, that many
// bytes (less at the end of the input):
//   0 data record, raw          1 ack record, raw           2 fragment record, raw
//   3 ephemeral record, raw     4 signed envelope built from the bytes (see signed_record), as a
//   data or ephemeral record    5 a record (kind byte + body) cut into fragments by the node's own
//   fragmenter, sent in order or reversed    6 session down, then up again (a new session id)
//   7 the node sends the bytes to the peer; 8 acks the last data record the node sent; 9 delivers
//   the bytes (if any) as a discovery record (a pushed record, PEER_QUERY, PEER_FOUND) and runs the
//   node's strand for a moment (commits); 10 delivers the bytes as a relay record (reservations,
//   circuits and their bytes, held messages; a super peer for inputs of odd length) and settles.
// Node and peer keys come from fixed seeds, so the seed corpus (envelopes made by the real encoder)
// is valid for every run; signed envelopes are stamped relative to the current time.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/node_views.hpp"
#include "core/envelope.hpp"
#include "core/identity.hpp"
#include "crypto/noise/handshake_state.hpp"
#include "fragment/fragment.hpp"
#include "node/node.hpp"
#include "node/sealing.hpp"
#include "support/recording_transport.hpp"
#include "transport/transport.hpp"
#include "util/json_util.hpp"

namespace hyphae {
namespace {

using transport::RecordKind;
using transport::TransportSink;

const Identity& node_identity() {
  static const Identity id = Identity::from_seed([] {
    std::array<std::uint8_t, 32> s;
    s.fill(0xa1);
    return s;
  }());
  return id;
}
const Identity& peer_identity() {
  static const Identity id = Identity::from_seed([] {
    std::array<std::uint8_t, 32> s;
    s.fill(0xb2);
    return s;
  }());
  return id;
}

// The node's only transport: one session to the peer; the first 256 records the node sends are kept.
struct FuzzTransport final : testing::RecordingTransport {
  static inline FuzzTransport* current = nullptr;
  FuzzTransport(std::string n, router::Capabilities c, TransportSink* s, transport::SessionIds* ids)
      : RecordingTransport(std::move(n), "tcp", c, s, ids, 256) {  // a direct link: relay records pass
    current = this;
  }
  ~FuzzTransport() override {
    if (current == this) current = nullptr;
  }
};

// The built-in types plus "fuzzfake", handed to every node this target makes.
std::shared_ptr<const transport::TransportRegistry> fuzz_types() {
  static const auto types = [] {
    auto r = std::make_shared<transport::TransportRegistry>(transport::builtin_registry());
    r->add("fuzzfake",
           [](transport::TransportContext ctx)
               -> std::expected<std::unique_ptr<transport::Transport>, std::string> {
             auto caps = router::Capabilities::direct_tcp_preset();
             caps.mtu = 1 << 16;
             caps.max_message_size = 1 << 16;
             caps.requires_internet = false;
             return std::make_unique<FuzzTransport>(ctx.name, caps, ctx.sink, ctx.session_ids);
           });
    return std::shared_ptr<const transport::TransportRegistry>(std::move(r));
  }();
  return types;
}

NodeConfig node_config(const std::filesystem::path& dir, bool relay) {
  NodeConfig config;
  if (relay) config.role = "super_peer";
  config.data_dir = dir;
  config.log_level = "off";
  config.transports["tcp"].enabled = false;
  config.transports["f"].options["type"] = "fuzzfake";
  config.max_message_bytes = 16 << 10;
  config.power_sysfs_root = dir.string();  // no battery readings
  config.mdns = false;                     // nothing on the LAN
  return config;
}

std::filesystem::path fresh_dir() {
  std::filesystem::path base = std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                   : std::filesystem::temp_directory_path();
  std::string tmpl = (base / "hyphae-fuzz-node-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) std::abort();
  return tmpl;
}

// A data dir with the node's fixed identity and a store whose schema is already there: a copy of
// one made once per process (running the migrations for every input would dominate the run time).
std::filesystem::path make_data_dir() {
  static const std::filesystem::path prototype = [] {
    const auto dir = fresh_dir();
    const Bytes key = node_identity().private_key_protobuf();
    int fd = ::open((dir / "identity.key").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, key.data(), key.size()) != static_cast<ssize_t>(key.size())) std::abort();
    ::close(fd);
    boost::asio::io_context io;
    if (!Node::create(io.get_executor(), node_config(dir, false), {fuzz_types()})) std::abort();
    return dir;
  }();
  // Registered once `prototype` exists, so it runs before `prototype` is destroyed.
  static const int cleanup = std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(prototype, ec);
  });
  (void)cleanup;
  const auto dir = fresh_dir();
  std::filesystem::copy(
      prototype, dir,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
  return dir;
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// Operation 4: body[0] flags (sealed, ack_requested, addresses_implied, ephemeral: bits 1, 3, 2, 7),
// body[1] type, body[2] priority (low 2 bits), body[3..4] timestamp offset in seconds (int16),
// body[5] ttl in minutes, body[6] id byte, the rest the payload. Signed by the peer, to the node.
std::pair<RecordKind, Bytes> signed_record(ByteView body) {
  auto at = [&](std::size_t i) -> std::uint8_t { return i < body.size() ? body[i] : 0; };
  Envelope env;
  env.to = node_identity().peer_id();
  const std::int16_t offset_s = static_cast<std::int16_t>(at(3) | at(4) << 8);
  env.timestamp_ms = now_ms() + static_cast<std::uint64_t>(std::int64_t{offset_s} * 1000);
  env.ttl_s = std::uint32_t{at(5)} * 60;
  env.priority = static_cast<Priority>(at(2) & 3);
  env.type = at(1);
  env.id.bytes.fill(at(6));
  env.id.bytes[15] ^= static_cast<std::uint8_t>(body.size());
  env.nonce = body.size();
  env.flags = at(0) & (envelope_flags::sealed | envelope_flags::ack_requested);
  Bytes payload(body.size() > 7 ? body.begin() + 7 : body.end(), body.end());
  if (env.flags & envelope_flags::sealed) {
    noise::KeyPair sender;
    sender.priv = peer_identity().x25519_private();
    sender.pub = peer_identity().x25519_public();
    auto sealed = seal_payload(sender, node_identity().x25519_public(), payload);
    if (!sealed) std::abort();
    payload = std::move(*sealed);
  }
  env.payload = std::move(payload);
  sign_envelope(env, peer_identity());
  return {(at(0) & 0x80) ? RecordKind::ephemeral : RecordKind::data, encode_envelope(env, (at(0) & 4) != 0)};
}

std::string render(const InboundMessage& m) {
  nlohmann::json j{{"type", "message"},          {"id", m.id.to_hex()},
                   {"from", m.from.to_string()}, {"timestamp_ms", m.timestamp_ms},
                   {"message_type", m.type},     {"ephemeral", m.ephemeral}};
  put_payload(j, m.payload);
  return j.dump();
}

}  // namespace
}  // namespace hyphae

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyphae;
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);  // the store logs through the default logger
    return true;
  }();
  (void)quiet;
  if (size > 64 << 10) return 0;
  const auto dir = make_data_dir();
  {
    boost::asio::io_context io;
    // Inputs of odd length run a super peer (the relay side answers relay records); the rest a basic
    // node (its relay transport takes them).
    auto created = Node::create(io.get_executor(), node_config(dir, size % 2 == 1), {fuzz_types()});
    if (!created) std::abort();
    std::unique_ptr<Node> node = std::move(*created);
    const PeerId peer = peer_identity().peer_id();
    std::vector<std::string> rendered;
    std::vector<MessageId> received;
    auto on = [&](auto&& f) {
      boost::asio::post(node->executor(), f);
      io.restart();
      io.poll();
    };
    on([&] {
      if (node->start()) std::abort();
      node->subscribe([&](const InboundMessage& m) {
        rendered.push_back(render(m));
        if (!m.ephemeral) received.push_back(m.id);
      });
      FuzzTransport::current->raise(peer);
    });
    auto settle = [&] {  // let staged commits reach the store and come back
      std::uint64_t last = ~0ull;
      for (int quiet = 0, i = 0; quiet < 3 && i < 40; ++i) {
        const auto n = io.run_for(std::chrono::milliseconds(1));
        const auto seen = node->counters().received + node->counters().ephemeral_received;
        quiet = n == 0 && seen == last ? quiet + 1 : 0;
        last = seen;
      }
    };

    ByteView rest(data, size);
    for (int ops = 0; ops < 64 && !rest.empty(); ++ops) {
      const std::uint8_t op = rest[0] % 10;
      std::size_t len = rest.size() >= 3 ? (rest[1] | rest[2] << 8) : 0;
      rest = rest.subspan(std::min<std::size_t>(3, rest.size()));
      len = std::min(len, rest.size());
      const ByteView body = rest.first(len);
      rest = rest.subspan(len);
      // op and body by value: a handler the poll did not reach runs later, in settle().
      on([&, op, body] {
        auto* t = FuzzTransport::current;
        switch (op) {
          case 0:
            t->deliver(peer, RecordKind::data, body);
            break;
          case 1:
            t->deliver(peer, RecordKind::ack, body);
            break;
          case 2:
            t->deliver(peer, RecordKind::fragment, body);
            break;
          case 3:
            t->deliver(peer, RecordKind::ephemeral, body);
            break;
          case 4: {
            auto [kind, record] = signed_record(body);
            t->deliver(peer, kind, record);
            break;
          }
          case 5: {
            fragment::FragmentOptions options;
            options.mtu = fragment::kHeaderSize + 1 + (body.empty() ? 0 : body[0] % 64);
            options.compress_at_least = 64;
            const bool reversed = !body.empty() && (body[0] & 0x80);
            auto pieces = fragment::split(body.empty() ? body : body.subspan(1), options);
            if (!pieces || pieces->size() > 512) break;
            if (reversed) std::reverse(pieces->begin(), pieces->end());
            for (const auto& piece : *pieces) t->deliver(peer, RecordKind::fragment, piece);
            break;
          }
          case 6:
            t->close(peer, transport::CloseCode::other);
            t->raise(peer);
            break;
          case 7:
            node->send(peer, Bytes(body.begin(), body.end()), SendOptions{}, [](auto) {});
            break;
          case 8:
            for (auto it = t->sent.rbegin(); it != t->sent.rend(); ++it) {
              if (it->kind != RecordKind::data) continue;
              if (auto env = decode_envelope(it->body)) t->deliver(peer, RecordKind::ack, env->id.bytes);
              break;
            }
            break;
          case 9:
            if (!body.empty()) t->deliver(peer, RecordKind::discovery, body);
            break;
          case 10:
            t->deliver(peer, RecordKind::relay, body);
            break;
          default:
            break;
        }
      });
      if (op == 9 || op == 7 || op == 10) settle();
    }
    settle();

    // The JSON the API serves from what arrived; dump() throws on text that is not UTF-8.
    on([&] {
      // The inbox view as GET /v1/messages serves it. Dumped leniently unless
      // HYPHAE_FUZZ_STRICT_INBOX is set, so the rest of the target keeps running meanwhile.
      static const bool strict_inbox = std::getenv("HYPHAE_FUZZ_STRICT_INBOX") != nullptr;
      std::string out = api::to_json_array(node->inbox(0, 1000))
                            .dump(-1, ' ', false,
                                  strict_inbox ? nlohmann::json::error_handler_t::strict
                                               : nlohmann::json::error_handler_t::replace);
      out += api::to_json(node->status_view()).dump();
      out += api::to_json_array(node->connections()).dump();
      out += api::to_json_array(node->transport_status()).dump();
      out += api::to_json_array(node->peers()).dump();
      for (const auto& id : received)
        if (!node->status(id)) std::abort();  // a committed message has a status
      (void)out;
      node->stop();
    });
    io.run_for(std::chrono::milliseconds(1));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
