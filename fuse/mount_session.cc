#include "mount_session.h"

#include <algorithm>
#include <chrono>

#include "ddbfs/log.h"

namespace ddbfs::fuse {

MountSession::~MountSession() { Stop(); }

Status MountSession::Open() {
  ASSIGN_OR_RETURN(ClientSession s, client_->OpenSession(description_));
  std::lock_guard<std::mutex> lock(mu_);
  id_ = s.id;
  timeout_ms_ = s.timeout_ms;
  LOG(kInfo) << "client session " << s.id << " (metaserver timeout " << s.timeout_ms << " ms)";
  return Status();
}

Status MountSession::Start() {
  RETURN_IF_ERROR(Open());
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
  return Status();
}

void MountSession::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  int64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::swap(id, id_);
  }
  if (id == 0) return;
  // Best effort: a session not closed expires by itself, so an unreachable
  // metaserver does not hold up the exit for the whole I/O timeout.
  Result<int> released = [&] {
    Client::RetryingFor bound(kCloseRetryMs);
    return client_->CloseSession(id);
  }();
  if (!released.ok()) {
    LOG(kWarn) << "closing client session " << id << ": " << released.status()
               << " (the metaserver ends it after its timeout)";
  } else if (*released > 0) {
    LOG(kInfo) << "client session " << id << " closed; " << *released
               << " file(s) unlinked while open deleted";
  }
}

int64_t MountSession::id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return id_;
}

int64_t MountSession::Replace(int64_t expired) {
  std::lock_guard<std::mutex> one(replace_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return 0;
    if (id_ != expired) return id_;  // replaced already
  }
  LOG(kError) << "client session " << expired
              << " expired (the metaserver was out of reach for longer than its session "
                 "timeout): files unlinked while open on this mount lost their data; opening "
                 "a new session";
  Status s = Open();
  if (!s.ok()) {
    LOG(kError) << "opening a new client session: " << s;
  }
  return id();
}

void MountSession::Loop() {
  while (true) {
    int64_t id = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const auto period = std::chrono::milliseconds(std::max(timeout_ms_ / 3, 100));
      if (cv_.wait_for(lock, period, [this] { return stopping_; })) return;
      id = id_;
    }
    if (id == 0) {
      if (Status s = Open(); !s.ok()) {
        LOG(kWarn) << "opening a client session: " << s;
      }
      continue;
    }
    Status s = client_->RenewSession(id);
    if (s.code() == ErrorCode::kLeaseExpired) {
      Replace(id);
    } else if (!s.ok()) {
      LOG(kWarn) << "renewing client session " << id << ": " << s;
    }
  }
}

}  // namespace ddbfs::fuse
