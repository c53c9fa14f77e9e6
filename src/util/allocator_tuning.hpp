// Allocator settings for bulk traffic, applied once at the start of a process (the `hyphae` binary
// and the benchmarks that stand in for it).
// Bulk traffic (file chunks, link records, HTX write buffers) allocates and frees buffers of a few
// hundred KiB at a high rate. With glibc's defaults such buffers are mmap()ed, or the heap top is
// trimmed as soon as they are freed, so every new buffer faults its pages in again: a third of a
// receiving strand's time in a file transfer. tune_allocator() keeps buffers up to 32 MiB on the
// heap and up to 128 MiB of free heap before returning it to the kernel; GLIBC_TUNABLES, when set,
// wins. Thread-safety: call before starting threads.
#pragma once

namespace hyphae {

void tune_allocator();

}  // namespace hyphae
