#include "ddbfs/heap.h"

#include <sys/resource.h>

#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ddbfs/constants.h"

namespace ddbfs {
namespace {

long MinorFaults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

// What a chunk server's thread does for one write: a few pieces held at
// once (the request, its copy, the one forwarded), every page written, then
// all freed.
void Burst() {
  std::vector<std::unique_ptr<char[]>> held;
  for (int i = 0; i < 3; ++i) {
    held.emplace_back(new char[kMaxIoSize]);
    std::memset(held.back().get(), i + 1, kMaxIoSize);
  }
  volatile char sink = 0;
  for (const auto& p : held) {
    for (size_t off = 0; off < kMaxIoSize; off += 4096) sink = static_cast<char>(sink + p[off]);
  }
}

TEST(HeapTest, FreedPiecesAreReusedWithoutFaultingInFreshPages) {
  ASSERT_TRUE(KeepLargeBuffersInHeap());
  constexpr int kBursts = 20;
  long faults = -1;
  // On a thread of its own, as the servers' requests are (its own arena).
  std::thread([&] {
    Burst();  // the buffers' first use
    const long before = MinorFaults();
    for (int i = 0; i < kBursts; ++i) Burst();
    faults = MinorFaults() - before;
  }).join();
  // Mapped afresh at each burst, the pieces would fault in 3 x 1,024 pages
  // a burst (61,440 in all).
  EXPECT_LT(faults, 1024) << faults << " page faults in " << kBursts << " bursts of 3 pieces";
}

}  // namespace
}  // namespace ddbfs
