#include "metaserver/lock_keeper.h"

#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "ddbfs/log.h"
#include "metaserver/store/active_lock.h"
#include "metaserver/store/embedded_sql.h"
#include "metaserver/store/migrations.h"
#include "metaserver/store/request_scope.h"
#include "metaserver/store/tx.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

using SteadyClock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

int64_t Ms(std::chrono::milliseconds d) { return static_cast<int64_t>(d.count()); }

// The liveness check waits at most this long for PostgreSQL per statement.
constexpr int kCheckStatementMs = 1000;

// Whether `previous` ("HOST ADDRESS pid N", LockKeeperOptions::holder)
// names a process of this host (`self` has the same first word) that no
// longer exists: it answers nothing any more, so there is nothing to wait
// for. (Each metaserver host has its own name.)
bool GoneFromThisHost(const std::string& previous, const std::string& self) {
  const size_t host_end = previous.find(' ');
  const size_t pid_at = previous.rfind(" pid ");
  if (host_end == std::string::npos || pid_at == std::string::npos) return false;
  if (previous.substr(0, host_end) != self.substr(0, self.find(' '))) return false;
  const int pid = std::atoi(previous.c_str() + pid_at + 5);
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  // A zombie (killed, not reaped yet by its parent) answers nothing either.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t state_at = text.rfind(") ");
  return state_at != std::string::npos && state_at + 2 < text.size() &&
         (text[state_at + 2] == 'Z' || text[state_at + 2] == 'X');
}

}  // namespace

Result<std::unique_ptr<LockKeeper>> LockKeeper::Acquire(const LockKeeperOptions& o) {
  std::unique_ptr<LockKeeper> k(new LockKeeper(o));
  const std::string shown = store::RedactUrl(o.db_url);
  // The first connection: retried for db_wait, then the start fails.
  const auto deadline = SteadyClock::now() + o.db_wait;
  std::unique_ptr<store::Connection> conn;
  while (!conn) {
    auto opened = store::Connection::Open(o.db_url);
    if (opened.ok()) {
      conn = std::move(opened).value();
      break;
    }
    const auto now = SteadyClock::now();
    if (now >= deadline) {
      return Unavailable("cannot connect to PostgreSQL at " + shown + ": " +
                         opened.status().message());
    }
    LOG(kWarn) << "PostgreSQL at " << shown << " is not reachable yet ("
               << opened.status().message() << "); retrying";
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(o.poll, deadline - now));
  }
  // Standby until the lock is ours; a standby waits as long as it takes,
  // also through PostgreSQL outages.
  bool said_standby = false;
  bool said_lost = false;
  while (true) {
    if (!conn) {
      auto opened = store::Connection::Open(o.db_url);
      if (!opened.ok()) {
        if (!said_lost) {
          LOG(kWarn) << "standby: PostgreSQL at " << shown << " is not reachable ("
                     << opened.status().message() << "); retrying every " << Ms(o.poll) << " ms";
          said_lost = true;
        }
        std::this_thread::sleep_for(o.poll);
        continue;
      }
      conn = std::move(opened).value();
      said_lost = false;
    }
    Result<bool> got = store::TryTakeActiveLock(*conn);
    if (!got.ok()) {
      conn.reset();
      std::this_thread::sleep_for(o.poll);
      continue;
    }
    if (*got) break;
    if (!said_standby) {
      LOG(kInfo) << "standby: another metaserver holds the active lock ("
                 << store::DescribeActiveHolder(*conn) << "); serving nothing, trying every "
                 << Ms(o.poll) << " ms to take over";
      said_standby = true;
    }
    std::this_thread::sleep_for(o.poll);
  }
  // Active from here on. Nothing is read before the new epoch: whatever the
  // previous holder committed beside its lock's session is in by then
  // (store::ProveActive).
  RETURN_IF_ERROR(store::ApplyMigrations(*conn, store::EmbeddedMigrations()));
  ASSIGN_OR_RETURN(store::ActiveEpoch epoch, store::BeginActiveEpoch(*conn, o.holder));
  if (!epoch.released && GoneFromThisHost(epoch.holder, o.holder)) {
    LOG(kInfo) << "the previous active metaserver (" << epoch.holder
               << ") did not stop cleanly; it was on this host and is gone";
  } else if (!epoch.released) {
    // The previous holder may still be answering from its caches until its
    // liveness check fails, which is within valid_for of losing the lock.
    LOG(kInfo) << "the previous active metaserver (" << epoch.holder
               << ") did not stop cleanly; waiting " << Ms(o.valid_for)
               << " ms so that it has stopped serving";
    std::this_thread::sleep_for(o.valid_for);
  }
  // The statements below succeed only while the session (and its lock)
  // lives: they confirm the lock as a check would.
  const int64_t confirmed = NowNs();
  RETURN_IF_ERROR(conn->SetLimits(o.session));
  RETURN_IF_ERROR(store::ShortenLockSessionKeepalives(*conn));
  k->epoch_ = epoch.epoch;
  k->writer_pid_ = conn->raw().backendpid();
  k->initial_ = std::move(conn);
  k->confirmed_ns_ = confirmed;
  LOG(kInfo) << "active: took the active lock (key " << store::kActiveLockKey << ", epoch "
             << k->epoch_ << ")";
  return k;
}

LockKeeper::~LockKeeper() { Stop(); }

Result<std::unique_ptr<store::Connection>> LockKeeper::Connect() {
  if (initial_) return std::move(initial_);
  const auto now = SteadyClock::now();
  if (!lost_since_) {
    lost_since_ = now;
    LOG(kWarn) << "lost the PostgreSQL session that holds the active lock; taking the lock again "
               << "in " << Ms(options_.retake_delay) << " ms unless a standby took it";
  }
  if (now < *lost_since_ + options_.retake_delay) {
    return Unavailable("the session of the active lock broke; taking the lock again");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<store::Connection> conn,
                   store::Connection::Open(options_.db_url, options_.session));
  ASSIGN_OR_RETURN(bool got, store::TryTakeActiveLock(*conn));
  if (!got) {
    Fence("another metaserver holds the active lock now (" + store::DescribeActiveHolder(*conn) +
          ")");
  }
  ASSIGN_OR_RETURN(int64_t epoch, store::ReadActiveEpoch(*conn));
  if (epoch != epoch_) {
    Fence("another metaserver was active while this one had lost its session (epoch " +
          std::to_string(epoch) + ", this one has " + std::to_string(epoch_) + ")");
  }
  RETURN_IF_ERROR(store::ShortenLockSessionKeepalives(*conn));
  writer_pid_ = conn->raw().backendpid();
  lost_since_.reset();
  LOG(kInfo) << "took the active lock again on a new session (epoch " << epoch_ << " unchanged)";
  return conn;
}

void LockKeeper::Fence(const std::string& why) {
  LOG(kError) << "fenced: " << why << "; this metaserver stops now (exit " << kFencedExitCode
              << "; started again it is a standby)";
  std::fflush(stderr);
  std::_Exit(kFencedExitCode);
}

void LockKeeper::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void LockKeeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status LockKeeper::Serving() const {
  const int64_t age_ns = NowNs() - confirmed_ns_.load();
  if (age_ns < std::chrono::duration_cast<std::chrono::nanoseconds>(options_.valid_for).count()) {
    return Status();
  }
  std::string why;
  {
    std::lock_guard<std::mutex> lock(mu_);
    why = last_failure_;
  }
  return Unavailable(std::string(store::kDatabaseUnavailable) +
                     ": this metaserver cannot confirm that it is still the active one" +
                     (why.empty() ? "" : " (" + why + ")"));
}

bool LockKeeper::Check(std::string* why) {
  if (!check_conn_) {
    store::SessionLimits limits{kCheckStatementMs, kCheckStatementMs, 60000};
    auto opened = store::Connection::Open(options_.db_url, limits);
    if (!opened.ok()) {
      *why = opened.status().message();
      return false;
    }
    check_conn_ = std::move(opened).value();
  }
  const int pid = writer_pid_.load();
  Result<bool> held = store::HoldsActiveLock(*check_conn_, pid);
  if (!held.ok()) {
    check_conn_.reset();
    *why = held.status().message();
    return false;
  }
  if (!*held) *why = "its session (backend pid " + std::to_string(pid) + ") no longer holds it";
  return *held;
}

void LockKeeper::Loop() {
  bool failing = false;
  std::chrono::steady_clock::time_point failing_since;
  while (true) {
    const int64_t started = NowNs();
    std::string why;
    if (Check(&why)) {
      confirmed_ns_ = started;
      if (failing) {
        LOG(kInfo) << "the active lock is confirmed again; serving";
        std::function<void(std::chrono::steady_clock::time_point)> resume;
        {
          std::lock_guard<std::mutex> lock(mu_);
          resume = on_resume_;
        }
        if (resume) resume(failing_since);
      }
      failing = false;
    } else {
      if (!failing) failing_since = std::chrono::steady_clock::now();
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_failure_ = why;
      }
      if (!failing) {
        LOG(kWarn) << "cannot confirm the active lock (" << why << "); not serving until it is";
      }
      failing = true;
      // A broken lock session is replaced by the writer when it next
      // writes: make it write now.
      if (store::WriteQueue* w = writer_.load()) {
        (void)w->Run([](store::Tx&) { return Status(); },
                     store::Clock::now() + options_.check_interval);
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, options_.check_interval, [this] { return stopping_; })) return;
  }
}

void LockKeeper::Release(store::WriteQueue& writer) {
  Status s = writer.Run([&](store::Tx& tx) { return store::MarkActiveReleased(tx, epoch_); },
                        store::Clock::now() + std::chrono::seconds(5));
  if (!s.ok()) {
    LOG(kWarn) << "could not record the release of the active lock (" << s.message()
               << "); the next active metaserver waits " << Ms(options_.valid_for)
               << " ms before serving";
  }
}

}  // namespace ddbfs::meta
