#include "util/allocator_tuning.hpp"

#include <malloc.h>

#include <cstdlib>

namespace hyphae {

void tune_allocator() {
  if (std::getenv("GLIBC_TUNABLES")) return;
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

}  // namespace hyphae
