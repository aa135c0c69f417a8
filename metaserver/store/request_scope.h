#pragma once

#include <chrono>

#include "ddbfs/status.h"

namespace ddbfs::meta::store {

// Deadlines travel with requests (STYLE.md): the RPC layer computes one per
// request on receipt (the caller's RequestContext.timeout_ms, or the
// server's default) and opens a DeadlineScope on the thread that serves the
// request; WriteQueue::Run and ReadPool::Run use it when not given one, so
// that an operation whose caller has given up is not started.

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

// The deadline of the request this thread serves; kNoDeadline outside any
// DeadlineScope.
Deadline CurrentDeadline();

// Sets the calling thread's deadline for its lifetime (scopes nest; the
// inner one wins). Not copyable; lives on the stack of the serving thread.
class DeadlineScope {
 public:
  explicit DeadlineScope(Deadline deadline);
  ~DeadlineScope();
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

 private:
  Deadline previous_;
};

// kTimedOut "<what>: the request's deadline passed before it could run".
Status DeadlinePassed(const char* what);

}  // namespace ddbfs::meta::store
