#include "ddbfs/heap.h"

#include <malloc.h>

namespace ddbfs {

namespace {

// glibc's largest mmap threshold on 64-bit (half its per-thread heap).
constexpr int kMmapThreshold = 32 << 20;
constexpr int kTrimThreshold = 256 << 20;

}  // namespace

bool KeepLargeBuffersInHeap() {
  // Either setting also stops glibc from moving the thresholds itself.
  const bool mmap_ok = mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1;
  const bool trim_ok = mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
  return mmap_ok && trim_ok;
}

}  // namespace ddbfs
