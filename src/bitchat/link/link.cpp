// Process-wide neighbour ids for every bitchat::Link (see link.hpp).
#include "bitchat/link/link.hpp"

#include <atomic>

namespace hyphae::bitchat {

namespace {
std::atomic<LinkId> link_counter{1};
}  // namespace

LinkId next_link_id() {
  LinkId id = link_counter.fetch_add(1, std::memory_order_relaxed);
  while (id == 0) id = link_counter.fetch_add(1, std::memory_order_relaxed);  // after wrap-around
  return id;
}

}  // namespace hyphae::bitchat
