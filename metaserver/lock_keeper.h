#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "ddbfs/status.h"
#include "metaserver/store/connection.h"

namespace ddbfs::meta {

namespace store {
class WriteQueue;
}  // namespace store

struct LockKeeperOptions {
  std::string db_url;
  // Limits of the lock's session, which is the writer's (store/write_queue.h).
  store::SessionLimits session;
  // How long the first connection to PostgreSQL is retried.
  std::chrono::milliseconds db_wait{30000};
  // A standby tries to take the lock this often.
  std::chrono::milliseconds poll{500};
  // The liveness check of the lock's session runs this often...
  std::chrono::milliseconds check_interval{500};
  // ... and the metaserver serves only while a check that started less
  // than this long ago confirmed the lock. A metaserver taking over from
  // one that did not stop cleanly waits this long before it serves, unless
  // that one was a process of this host that is gone.
  std::chrono::milliseconds valid_for{1500};
  // A lock session that broke is replaced, and the lock taken again, no
  // sooner than this: a waiting standby takes it first.
  std::chrono::milliseconds retake_delay{2000};
  // Who this is, for the database row and the logs: "HOST ADDRESS pid N"
  // ("host1 10.0.0.1:9400 pid 42"), HOST this host's name.
  std::string holder;
};

// Active/standby between the metaservers of one database (docs/ha.md).
//
// Acquire() blocks while another metaserver holds the active lock (this
// process is a standby and serves nothing), then applies the migrations,
// starts a new epoch and returns: this process is the active one. The
// session that holds the lock becomes the writer's connection (Connect() is
// the writer's connection hook), so that every group commit proves it
// still holds the lock. When that session breaks, Connect() takes the lock
// again on a new session after retake_delay, or, if another metaserver
// holds it or was active meanwhile, logs one line and ends the process
// with kFencedExitCode.
//
// A thread checks every check_interval, on a connection of its own, that
// the writer's session still holds the lock; Serving() is OK only while
// such a check confirmed it within valid_for, so a metaserver that lost its
// session stops answering, cached reads included, within valid_for.
//
// Thread-safety: Acquire, Start and Stop from one thread; Connect on the
// writer thread; Serving from any thread.
class LockKeeper {
 public:
  // Exit status of a fenced metaserver.
  static constexpr int kFencedExitCode = 3;

  // kUnavailable "cannot connect to PostgreSQL at <url>: <reason>" when
  // the database stayed unreachable for db_wait at start; a migration
  // failure. Waits for ever while another metaserver is active.
  static Result<std::unique_ptr<LockKeeper>> Acquire(const LockKeeperOptions& options);
  ~LockKeeper();  // Stop()

  int64_t epoch() const { return epoch_; }

  // The writer's connection hook (WriteQueueOptions::connect): the lock's
  // session the first time; afterwards a new session that took the lock
  // again (kUnavailable while it cannot be opened yet), or the process ends.
  Result<std::unique_ptr<store::Connection>> Connect();

  // Starts the liveness check; `writer` (may be set later, null: none) is
  // nudged when a check fails, so that it replaces a broken session even
  // when no write comes.
  void Start();
  void set_writer(store::WriteQueue* writer) { writer_.store(writer); }
  // Called (on the check thread) when the lock is confirmed again after
  // checks failed, with the start of the first failed check: everything
  // this metaserver refused meanwhile (chunk servers' heartbeats above all)
  // was refused by it, not missing.
  void set_on_resume(std::function<void(std::chrono::steady_clock::time_point)> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    on_resume_ = std::move(fn);
  }
  void Stop();

  // OK while the lock is confirmed (see above); else kUnavailable.
  Status Serving() const;

  // At a clean stop, through the writer (its session holds the lock): the
  // successor need not wait valid_for.
  void Release(store::WriteQueue& writer);

 private:
  explicit LockKeeper(const LockKeeperOptions& options) : options_(options) {}
  void Loop();
  // One liveness check; sets *why when it fails.
  bool Check(std::string* why);
  [[noreturn]] void Fence(const std::string& why);

  const LockKeeperOptions options_;
  int64_t epoch_ = 0;
  // The lock's session until the writer takes it (writer thread).
  std::unique_ptr<store::Connection> initial_;
  // When the lock's session was found broken (writer thread).
  std::optional<std::chrono::steady_clock::time_point> lost_since_;
  // Backend pid of the session that holds the lock.
  std::atomic<int> writer_pid_{0};
  // Start of the latest check that confirmed the lock (steady clock, ns).
  std::atomic<int64_t> confirmed_ns_{0};
  std::function<void(std::chrono::steady_clock::time_point)> on_resume_;  // GUARDED_BY(mu_)
  std::atomic<store::WriteQueue*> writer_{nullptr};

  std::unique_ptr<store::Connection> check_conn_;  // the check thread's
  std::string last_failure_;                       // GUARDED_BY(mu_)
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace ddbfs::meta
