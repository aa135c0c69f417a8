#pragma once

#include <cstddef>
#include <functional>

namespace ddbfs {

// Runs fn(i) for every i in [0, n) on up to `jobs` threads (the calling
// thread alone when one is enough); returns when every call has.
void ParallelFor(size_t n, int jobs, const std::function<void(size_t)>& fn);

}  // namespace ddbfs
