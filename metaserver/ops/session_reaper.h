#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "metaserver/ops/op_context.h"

namespace ddbfs::meta {

// Closes client sessions that were not renewed for ctx.sessions.timeout_ms
// and deletes their orphans with their data (ReapExpiredSessions;
// docs/metadata.md, "Client sessions and orphans"). A background thread runs
// a pass every quarter of the timeout (between 50 ms and 5 s). Thread-safe.
class SessionReaper {
 public:
  explicit SessionReaper(OpContext& ctx) : ctx_(ctx) {}
  ~SessionReaper();  // Stop()

  void Start();
  void Stop();

  // One pass: reaps every expired session; returns how many.
  int ReapExpired();
  // Sessions reaped since start (for tests and status).
  int64_t reaped() const;

 private:
  void Loop();

  OpContext& ctx_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  int64_t reaped_ = 0;     // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace ddbfs::meta
