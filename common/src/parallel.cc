#include "ddbfs/parallel.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace ddbfs {

void ParallelFor(size_t n, int jobs, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  size_t threads = std::min<size_t>(n, static_cast<size_t>(std::max(1, jobs)));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  if (threads == 1) {
    work();
    return;
  }
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
}

}  // namespace ddbfs
