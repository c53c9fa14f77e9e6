// The node's record kinds (transport::RecordKind) as link record types (stream::RecordType) and
// back, for the transports that carry the TCP link protocol (the TCP mesh, circuits through a
// relay). Pure functions.
#pragma once

#include <optional>

#include "transport/stream/link_records.hpp"
#include "transport/transport.hpp"

namespace hyphae::stream {

// The kind a received link record hands the node; nullopt for the link's own records (ping, pong,
// close).
inline std::optional<transport::RecordKind> record_kind_of(RecordType type) {
  using K = transport::RecordKind;
  switch (type) {
    case RecordType::data:
      return K::data;
    case RecordType::ack:
      return K::ack;
    case RecordType::ephemeral:
      return K::ephemeral;
    case RecordType::fragment:
      return K::fragment;
    case RecordType::discovery:
      return K::discovery;
    case RecordType::relay:
      return K::relay;
    default:
      return std::nullopt;
  }
}

inline RecordType record_type_of(transport::RecordKind kind) {
  using K = transport::RecordKind;
  switch (kind) {
    case K::data:
      return RecordType::data;
    case K::ack:
      return RecordType::ack;
    case K::ephemeral:
      return RecordType::ephemeral;
    case K::fragment:
      return RecordType::fragment;
    case K::discovery:
      return RecordType::discovery;
    case K::relay:
      return RecordType::relay;
  }
  return RecordType::data;
}

}  // namespace hyphae::stream
