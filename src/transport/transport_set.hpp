// TransportIndex names one of a node's configured transports (its position in the configuration);
// TransportSet is a set of them. They replace bare ints and bit masks, so a transport index cannot
// be mixed up with a count, a priority or a session id, and a set is never indexed by hand.
// Thread-safety: plain values. Ownership: none.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace hyphae::transport {

// At most this many transports per node.
inline constexpr std::size_t kMaxTransportsPerNode = 16;

class TransportIndex {
 public:
  constexpr TransportIndex() = default;  // none
  constexpr explicit TransportIndex(std::size_t index) : value_(static_cast<std::uint8_t>(index)) {}
  static constexpr TransportIndex none() { return TransportIndex{}; }

  constexpr bool valid() const { return value_ != kNone; }
  constexpr explicit operator bool() const { return valid(); }
  constexpr std::size_t index() const { return value_; }  // only when valid()
  friend constexpr bool operator==(TransportIndex, TransportIndex) = default;

 private:
  static constexpr std::uint8_t kNone = std::numeric_limits<std::uint8_t>::max();
  std::uint8_t value_ = kNone;
};

class TransportSet {
 public:
  constexpr TransportSet() = default;
  static constexpr TransportSet of(TransportIndex t) {
    TransportSet s;
    s.insert(t);
    return s;
  }

  constexpr bool contains(TransportIndex t) const { return t.valid() && (bits_ >> t.index() & 1u); }
  constexpr void insert(TransportIndex t) {
    if (t.valid()) bits_ = static_cast<std::uint16_t>(bits_ | (1u << t.index()));
  }
  constexpr void erase(TransportIndex t) {
    if (t.valid()) bits_ = static_cast<std::uint16_t>(bits_ & ~(1u << t.index()));
  }
  constexpr TransportSet with(TransportIndex t) const {
    auto s = *this;
    s.insert(t);
    return s;
  }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr std::size_t size() const { return static_cast<std::size_t>(std::popcount(bits_)); }
  constexpr bool single() const { return std::has_single_bit(bits_); }
  constexpr TransportIndex first() const {
    return bits_ ? TransportIndex(static_cast<std::size_t>(std::countr_zero(bits_))) : TransportIndex::none();
  }
  constexpr void clear() { bits_ = 0; }
  friend constexpr bool operator==(TransportSet, TransportSet) = default;

  // Iterates the members in index order.
  class iterator {
   public:
    constexpr explicit iterator(std::uint16_t rest) : rest_(rest) {}
    constexpr TransportIndex operator*() const {
      return TransportIndex(static_cast<std::size_t>(std::countr_zero(rest_)));
    }
    constexpr iterator& operator++() {
      rest_ = static_cast<std::uint16_t>(rest_ & (rest_ - 1));
      return *this;
    }
    friend constexpr bool operator==(iterator, iterator) = default;

   private:
    std::uint16_t rest_;
  };
  constexpr iterator begin() const { return iterator(bits_); }
  constexpr iterator end() const { return iterator(0); }

 private:
  std::uint16_t bits_ = 0;
  static_assert(kMaxTransportsPerNode <= 16);
};

}  // namespace hyphae::transport
