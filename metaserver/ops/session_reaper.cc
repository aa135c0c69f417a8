#include "metaserver/ops/session_reaper.h"

#include <algorithm>
#include <chrono>

#include "ddbfs/log.h"
#include "metaserver/ops/session_ops.h"

namespace ddbfs::meta {

namespace {

constexpr int kSessionsPerTransaction = 100;

std::chrono::milliseconds ReapInterval(const OpContext& ctx) {
  return std::chrono::milliseconds(std::clamp(ctx.sessions.timeout_ms / 4, 50, 5000));
}

}  // namespace

SessionReaper::~SessionReaper() { Stop(); }

void SessionReaper::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void SessionReaper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t SessionReaper::reaped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reaped_;
}

int SessionReaper::ReapExpired() {
  int total = 0;
  while (true) {
    Result<int> n = ReapExpiredSessions(ctx_, kSessionsPerTransaction);
    if (!n.ok()) {
      LOG(kWarn) << "closing expired client sessions: " << n.status() << " (retried later)";
      break;
    }
    total += *n;
    if (*n < kSessionsPerTransaction) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  reaped_ += total;
  return total;
}

void SessionReaper::Loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, ReapInterval(ctx_), [this] { return stopping_; })) return;
    }
    ReapExpired();
  }
}

}  // namespace ddbfs::meta
