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
    return id();
  }
  // The new session holds nothing yet: the files open here are declared
  // again.
  NeedOpenSet();
  return id();
}

MountSession::Declaring::Declaring(MountSession* s)
    : owner_(s), lock_(s->declare_mu_), session_(s->id()) {
  if (session_ != 0) scope_.emplace(session_);
}

MountSession::Declaring::~Declaring() {
  if (scope_ && scope_->open_set_needed()) owner_->NeedOpenSet();
}

Status MountSession::DeclareOne(const Declaring& d, InodeId inode) {
  if (d.session() == 0) return Status();
  Result<bool> needed = client_->UpdateOpenFiles(d.session(), {inode}, {}, false);
  if (needed.status().code() == ErrorCode::kLeaseExpired) {
    // The thread replaces the session and declares the whole set then (it
    // waits for this open to be in it).
    NeedOpenSet();
    return Status();
  }
  RETURN_IF_ERROR(needed.status());
  if (*needed) NeedOpenSet();
  return Status();
}

void MountSession::Released(InodeId inode) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (released_.empty()) {
      release_due_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReleaseDelayMs);
    }
    released_.push_back(inode);
    if (released_.size() >= kMaxReleaseBatch) release_due_ = std::chrono::steady_clock::now();
    // The thread may be asleep until the next renewal.
    if (released_.size() > 1 && released_.size() < kMaxReleaseBatch) return;
  }
  cv_.notify_all();
}

void MountSession::NeedOpenSet() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_set_needed_ = true;
  }
  cv_.notify_all();
}

void MountSession::SendOpenFiles(bool whole) {
  // No open is between its declaration and its entry in the open set now.
  std::unique_lock<std::shared_timed_mutex> declaring(declare_mu_, std::defer_lock);
  if (!declaring.try_lock_for(std::chrono::milliseconds(kDeclareWaitMs))) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!released_.empty()) {
      release_due_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReleaseDelayMs);
    }
    return;  // open_set_needed_ stays set
  }
  int64_t session = 0;
  std::vector<InodeId> released;
  {
    std::lock_guard<std::mutex> lock(mu_);
    session = id_;
    if (whole) open_set_needed_ = false;
    const size_t n = std::min(released_.size(), kMaxReleaseBatch);
    released.assign(released_.begin(), released_.begin() + static_cast<ptrdiff_t>(n));
    released_.erase(released_.begin(), released_.begin() + static_cast<ptrdiff_t>(n));
    if (!released_.empty()) release_due_ = std::chrono::steady_clock::now();
  }
  if (session == 0) return;
  // Opened again since its last close: still declared, not released.
  if (is_open_) {
    std::erase_if(released, [&](InodeId i) { return is_open_(i); });
  }
  std::vector<InodeId> opened;
  if (whole) {
    if (open_set_) opened = open_set_();
    released.clear();  // the whole set replaces every earlier declaration
  } else if (released.empty()) {
    return;
  }
  Result<bool> needed = client_->UpdateOpenFiles(session, opened, released, whole);
  if (needed.ok()) {
    if (whole) {
      LOG(kInfo) << "declared the " << opened.size()
                 << " file(s) open on this mount to the metaserver (client session " << session
                 << ")";
    }
    if (*needed) NeedOpenSet();
    return;
  }
  if (needed.status().code() == ErrorCode::kLeaseExpired) {
    declaring.unlock();
    Replace(session);  // the files it held went with it
    return;
  }
  LOG(kWarn) << (whole ? "declaring the files open on this mount" : "releasing closed files")
             << " (client session " << session << "): " << needed.status()
             << (whole ? " (retried at the next renewal)" : " (retried)");
  if (!whole) {
    std::lock_guard<std::mutex> lock(mu_);
    released_.insert(released_.end(), released.begin(), released.end());
    release_due_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_ / 3);
  }
}

void MountSession::Loop() {
  // Every call of this thread; see kLoopRetryMs.
  Client::RetryingFor bound(kLoopRetryMs);
  const auto period = [this] {  // REQUIRES: mu_ held
    return std::chrono::milliseconds(std::max(timeout_ms_ / 3, 100));
  };
  std::chrono::steady_clock::time_point renew_at;
  {
    std::lock_guard<std::mutex> lock(mu_);
    renew_at = std::chrono::steady_clock::now() + period();
  }
  while (true) {
    int64_t id = 0;
    bool whole = false;
    bool releases = false;
    bool renew = false;
    {
      // Wakes for the renewal, or (with a session) for the whole open set
      // or a batch of releases that is due.
      std::unique_lock<std::mutex> lock(mu_);
      while (!stopping_) {
        const auto now = std::chrono::steady_clock::now();
        const bool work =
            id_ != 0 && (open_set_needed_ || (!released_.empty() && release_due_ <= now));
        if (work || renew_at <= now) break;
        auto until = renew_at;
        if (id_ != 0 && !released_.empty()) until = std::min(until, release_due_);
        cv_.wait_until(lock, until);
      }
      if (stopping_) return;
      const auto now = std::chrono::steady_clock::now();
      id = id_;
      whole = open_set_needed_;
      releases = !released_.empty() && release_due_ <= now;
      renew = renew_at <= now;
      if (renew) renew_at = now + period();
    }
    if (id == 0) {
      if (!renew) continue;
      if (Status s = Open(); !s.ok()) {
        LOG(kWarn) << "opening a client session: " << s;
      } else {
        NeedOpenSet();
      }
      continue;
    }
    if (whole || releases) SendOpenFiles(whole);
    if (!renew) continue;
    Result<bool> s = client_->RenewSession(id);
    if (s.status().code() == ErrorCode::kLeaseExpired) {
      Replace(id);
    } else if (!s.ok()) {
      LOG(kWarn) << "renewing client session " << id << ": " << s.status();
    } else if (*s) {
      NeedOpenSet();  // the metaserver restarted: it lacks the open files
    }
  }
}

}  // namespace ddbfs::fuse
