#include "betanet/directory/directory.hpp"

#include <sodium.h>

#include <algorithm>
#include <set>

#include "discovery/signed_envelope.hpp"
#include "util/protobuf.hpp"

namespace hyphae::betanet {

namespace {

constexpr std::string_view kDescriptorDomain = "hyphae-mix-descriptor";
constexpr std::string_view kDescriptorType = "/hyphae/mix-descriptor/1";
constexpr std::string_view kTopologyDomain = "hyphae-mix-topology";
constexpr std::string_view kTopologyType = "/hyphae/mix-topology/1";
constexpr std::size_t kMaxAddress = 256, kMaxGroup = 64;

std::string_view text(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

bool same(ByteView a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), reinterpret_cast<const std::uint8_t*>(b.data()));
}

std::expected<MixDescriptor, std::string> parse_descriptor_payload(ByteView payload) {
  MixDescriptor d;
  bool has_layer = false, has_link_key = false;
  std::set<std::uint64_t> epochs;
  protobuf::Field f;
  for (std::size_t pos = 0; pos < payload.size();) {
    if (!protobuf::next_field(payload, pos, f)) return std::unexpected("malformed descriptor");
    const bool bytes = f.wire_type == protobuf::kLengthDelimited;
    switch (f.number) {
      case 1:
        if (!bytes || f.bytes.size() > kMaxAddress) return std::unexpected("bad address");
        d.address = std::string(text(f.bytes));
        break;
      case 2:
        if (bytes || f.varint > kMaxLayer) return std::unexpected("bad layer");
        d.layer = static_cast<std::uint32_t>(f.varint);
        has_layer = true;
        break;
      case 3:
        if (!bytes || f.bytes.size() > kMaxGroup) return std::unexpected("bad group");
        d.group = std::string(text(f.bytes));
        break;
      case 4: {
        if (!bytes) return std::unexpected("bad epoch key");
        if (d.keys.size() >= kMaxEpochKeys) return std::unexpected("too many epoch keys");
        EpochKey k;
        bool has_epoch = false, has_key = false;
        protobuf::Field g;
        for (std::size_t p = 0; p < f.bytes.size();) {
          if (!protobuf::next_field(f.bytes, p, g)) return std::unexpected("malformed epoch key");
          if (g.number == 1 && g.wire_type == protobuf::kVarint) {
            k.epoch = g.varint;
            has_epoch = true;
          } else if (g.number == 2 && g.wire_type == protobuf::kLengthDelimited && g.bytes.size() == 32) {
            std::copy(g.bytes.begin(), g.bytes.end(), k.key.begin());
            has_key = true;
          } else {
            return std::unexpected("bad epoch key field");
          }
        }
        if (!has_epoch || !has_key) return std::unexpected("incomplete epoch key");
        if (!epochs.insert(k.epoch).second) return std::unexpected("an epoch twice");
        // An all-zero or low-order key would make every packet to this mix fail: refuse it here.
        std::array<std::uint8_t, 32> probe{}, scalar{};
        scalar[0] = 9;
        if (crypto_scalarmult(probe.data(), scalar.data(), k.key.data()) != 0)
          return std::unexpected("a routing key of low order");
        d.keys.push_back(k);
        break;
      }
      case 5:
        if (bytes) return std::unexpected("bad published_ms");
        d.published_ms = f.varint;
        break;
      case 6:
        if (!bytes || f.bytes.size() != 32) return std::unexpected("bad link key");
        std::copy(f.bytes.begin(), f.bytes.end(), d.link_key.begin());
        has_link_key = true;
        break;
      case 7:
        if (bytes || f.varint > sphinx::kMaxHops - 1) return std::unexpected("bad min_mixes");
        d.min_mixes = static_cast<std::uint32_t>(f.varint);
        break;
      default:
        break;  // unknown fields: later versions
    }
  }
  if (!has_layer || !has_link_key || d.address.empty() || d.keys.empty())
    return std::unexpected("incomplete descriptor");
  if (d.min_mixes > 0 && d.layer != kEndpointLayer) return std::unexpected("min_mixes on a mix");
  return d;
}

}  // namespace

sphinx::NodeId node_id_of(const PeerId& peer) {
  sphinx::NodeId id{};
  crypto_hash_sha256(id.data(), peer.bytes().data(), peer.bytes().size());
  return id;
}

std::optional<sphinx::PublicKey> MixDescriptor::key_for(std::uint64_t epoch) const {
  for (const auto& k : keys)
    if (k.epoch == epoch) return k.key;
  return std::nullopt;
}

sphinx::Hop MixDescriptor::hop(std::uint64_t epoch) const {
  const auto key = key_for(epoch);
  if (!key) throw std::logic_error("MixDescriptor::hop: no key for that epoch");
  return {node_id, *key};
}

Bytes sign_descriptor(const Identity& mix, const MixDescriptor& d) {
  Bytes payload;
  protobuf::put_bytes_field(payload, 1, as_bytes(d.address));
  protobuf::put_varint_field(payload, 2, d.layer);
  if (!d.group.empty()) protobuf::put_bytes_field(payload, 3, as_bytes(d.group));
  for (const auto& k : d.keys) {
    Bytes key;
    protobuf::put_varint_field(key, 1, k.epoch);
    protobuf::put_bytes_field(key, 2, k.key);
    protobuf::put_bytes_field(payload, 4, key);
  }
  protobuf::put_varint_field(payload, 5, d.published_ms);
  protobuf::put_bytes_field(payload, 6, d.link_key);
  if (d.min_mixes > 0) protobuf::put_varint_field(payload, 7, d.min_mixes);
  return discovery::seal_envelope(mix, kDescriptorDomain, as_bytes(kDescriptorType), payload);
}

std::expected<MixDescriptor, std::string> open_descriptor(ByteView envelope) {
  auto opened = discovery::open_envelope(envelope, kDescriptorDomain);
  if (!opened) return std::unexpected("descriptor: " + opened.error().message());
  if (!same(opened->payload_type, kDescriptorType)) return std::unexpected("descriptor: wrong payload type");
  auto d = parse_descriptor_payload(opened->payload);
  if (!d) return std::unexpected("descriptor: " + d.error());
  d->peer = opened->signer;
  d->node_id = node_id_of(d->peer);
  d->envelope.assign(envelope.begin(), envelope.end());
  return d;
}

const MixDescriptor* Topology::find(const sphinx::NodeId& id) const {
  for (const auto& m : mixes)
    if (m.node_id == id) return &m;
  return nullptr;
}

Bytes sign_topology(const Identity& registry, std::uint64_t epoch, const std::array<std::uint8_t, 32>& beacon,
                    std::uint64_t published_ms, const std::vector<Bytes>& descriptor_envelopes) {
  Bytes payload;
  protobuf::put_varint_field(payload, 1, epoch);
  protobuf::put_bytes_field(payload, 2, beacon);
  protobuf::put_varint_field(payload, 3, published_ms);
  for (const auto& d : descriptor_envelopes) protobuf::put_bytes_field(payload, 4, d);
  return discovery::seal_envelope(registry, kTopologyDomain, as_bytes(kTopologyType), payload);
}

std::expected<Topology, std::string> open_topology(ByteView envelope, const PeerId& trusted) {
  auto opened = discovery::open_envelope(envelope, kTopologyDomain, kMaxTopologyBytes);
  if (!opened) return std::unexpected("topology: " + opened.error().message());
  if (opened->signer != trusted) return std::unexpected("topology: not signed by the trusted registry");
  if (!same(opened->payload_type, kTopologyType)) return std::unexpected("topology: wrong payload type");
  Topology t;
  t.signer = opened->signer;
  bool has_epoch = false, has_beacon = false;
  std::vector<ByteView> descriptors;
  protobuf::Field f;
  const ByteView payload = opened->payload;
  for (std::size_t pos = 0; pos < payload.size();) {
    if (!protobuf::next_field(payload, pos, f)) return std::unexpected("topology: malformed");
    const bool bytes = f.wire_type == protobuf::kLengthDelimited;
    if (f.number == 1 && !bytes) {
      t.epoch = f.varint;
      has_epoch = true;
    } else if (f.number == 2 && bytes && f.bytes.size() == 32) {
      std::copy(f.bytes.begin(), f.bytes.end(), t.beacon.begin());
      has_beacon = true;
    } else if (f.number == 3 && !bytes) {
      t.published_ms = f.varint;
    } else if (f.number == 4 && bytes) {
      if (descriptors.size() >= kMaxTopologyMixes) return std::unexpected("topology: too many mixes");
      descriptors.push_back(f.bytes);
    } else if (f.number <= 4) {
      return std::unexpected("topology: bad field " + std::to_string(f.number));
    }
  }
  if (!has_epoch || !has_beacon) return std::unexpected("topology: incomplete");
  std::set<PeerId> seen;
  for (const auto& e : descriptors) {
    auto d = open_descriptor(e);
    if (!d) return std::unexpected("topology: " + d.error());
    if (!seen.insert(d->peer).second) return std::unexpected("topology: a mix appears twice");
    if (!d->key_for(t.epoch)) return std::unexpected("topology: a mix has no key for the epoch");
    t.mixes.push_back(std::move(*d));
  }
  t.envelope.assign(envelope.begin(), envelope.end());
  return t;
}

bool TopologyBook::add(Topology t, std::uint64_t current_epoch) {
  if (t.epoch + 1 < current_epoch) return false;  // stale
  if (t.epoch > current_epoch + 1) return false;  // too far ahead
  auto it = docs_.find(t.epoch);
  if (it != docs_.end() && it->second.published_ms >= t.published_ms) return false;
  docs_[t.epoch] = std::move(t);
  return true;
}

const Topology* TopologyBook::exact(std::uint64_t epoch) const {
  auto it = docs_.find(epoch);
  return it == docs_.end() ? nullptr : &it->second;
}

const Topology* TopologyBook::usable(std::uint64_t epoch) const {
  if (const auto* t = exact(epoch)) return t;
  return epoch > 0 ? exact(epoch - 1) : nullptr;
}

void TopologyBook::set_epoch(std::uint64_t epoch) {
  for (auto it = docs_.begin(); it != docs_.end();) {
    if (it->first + 1 < epoch)
      it = docs_.erase(it);
    else
      ++it;
  }
}

}  // namespace hyphae::betanet
