#include "metaserver/store/bulk_writer.h"

#include <algorithm>
#include <utility>

#include "ddbfs/log.h"
#include "metaserver/store/active_lock.h"
#include "metaserver/store/tag_index.h"
#include "metaserver/store/tx.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta::store {

namespace {

// Marks a deferral (with kBusy, which no other writer op returns with this
// text) so that WriteQueue can tell it from a real error.
constexpr char kDeferredPrefix[] = "deferred behind a bulk tag change: ";

// A retryable failure (serialization, deadlock) of the bulk transaction is
// run again this many times.
constexpr int kMaxAttempts = 3;

}  // namespace

Status BulkDeferred(const std::string& what) {
  return Status(ErrorCode::kBusy, kDeferredPrefix + what);
}

bool IsBulkDeferred(const Status& s) {
  return s.code() == ErrorCode::kBusy && s.message().rfind(kDeferredPrefix, 0) == 0;
}

Status DeferToBulk(const Tx& tx, InodeId inode) {
  const BulkGuard* g = tx.bulk_guard();
  return g == nullptr ? Status() : g->CheckInode(inode);
}

Status DeferToBulk(const Tx& tx, const std::vector<InodeId>& inodes) {
  const BulkGuard* g = tx.bulk_guard();
  if (g == nullptr || !g->held()) return Status();
  for (InodeId inode : inodes) RETURN_IF_ERROR(g->CheckInode(inode));
  return Status();
}

Status DeferToBulkName(const Tx& tx, const std::string& name) {
  const BulkGuard* g = tx.bulk_guard();
  return g == nullptr ? Status() : g->CheckName(name);
}

void BulkGuard::Hold(std::vector<InodeId> inodes, std::set<std::string> names) {
  std::lock_guard<std::mutex> lock(mu_);
  inodes_ = std::move(inodes);
  names_ = std::move(names);
  held_.store(true);
}

void BulkGuard::Release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    inodes_.clear();
    inodes_.shrink_to_fit();
    names_.clear();
    held_.store(false);
  }
  cv_.notify_all();
}

Status BulkGuard::CheckInode(InodeId inode) const {
  if (!held_.load()) return Status();
  std::lock_guard<std::mutex> lock(mu_);
  if (std::binary_search(inodes_.begin(), inodes_.end(), inode)) {
    return BulkDeferred("inode " + std::to_string(inode));
  }
  return Status();
}

Status BulkGuard::CheckName(const std::string& name) const {
  if (!held_.load()) return Status();
  std::lock_guard<std::mutex> lock(mu_);
  if (names_.count(name) != 0) return BulkDeferred("tag " + name);
  return Status();
}

void BulkGuard::WaitReleased(Deadline deadline) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return !held_.load(); });
}

BulkWriter::BulkWriter(std::string url, SessionLimits limits, WriteQueue& writer)
    : url_(std::move(url)), limits_(limits), writer_(writer) {}

BulkWriter::~BulkWriter() = default;

Status BulkWriter::Run(std::vector<InodeId> inodes, std::set<std::string> names, const Op& op) {
  const Deadline deadline = CurrentDeadline();
  std::unique_lock<std::timed_mutex> one_at_a_time(run_mu_, std::defer_lock);
  if (!one_at_a_time.try_lock_until(deadline)) return DeadlinePassed("bulk change");

  std::sort(inodes.begin(), inodes.end());
  inodes.erase(std::unique(inodes.begin(), inodes.end()), inodes.end());
  // 1. The guard, taken in the writer's order (an op may run again after a
  // rollback: it takes the guard once).
  struct ReleaseAtEnd {
    BulkGuard& g;
    ~ReleaseAtEnd() { g.Release(); }
  } release{guard_};
  RETURN_IF_ERROR(writer_.Run(
      [&](Tx&) {
        if (!guard_.held()) guard_.Hold(std::move(inodes), std::move(names));
        return Status();
      },
      deadline));

  // 2. The change, in one transaction of its own.
  Status last;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (Clock::now() >= deadline) return DeadlinePassed("bulk change");
    if (!conn_) {
      ASSIGN_OR_RETURN(conn_, Connection::Open(url_, limits_));
    }
    bool committing = false;
    DbError error;
    try {
      pqxx::work txn(conn_->raw());
      Tx tx(*conn_, txn);
      tx.set_tag_index(tag_index_.load());
      Status s = op(tx);
      // Last, so that the row lock it takes is held only up to the COMMIT.
      if (const int64_t epoch = active_epoch_.load(); s.ok() && !tx.failed() && epoch != 0) {
        s = ProveActive(tx, epoch);
      }
      if (tx.failed()) {
        error.status = tx.failure();
        error.broken = tx.broken();
        error.retryable = tx.retryable();
        error.timed_out = tx.timed_out();
      } else if (!s.ok()) {
        txn.abort();
        return s;
      } else {
        committing = true;
        txn.commit();
        tx.RunAfterCommit();
        committed_.fetch_add(1);
        return Status();
      }
    } catch (...) {
      error = ClassifyDbError(std::current_exception());
    }
    last = error.status;
    if (error.broken) {
      conn_.reset();
      if (committing) {
        // It may have committed: the index loads everything again.
        if (TagIndex* index = tag_index_.load()) index->Invalidate();
        return last;
      }
      continue;  // nothing committed: once more on a fresh connection
    }
    if (!error.retryable) return last;
  }
  LOG(kWarn) << "bulk change failed " << kMaxAttempts << " times: " << last.message();
  return last;
}

}  // namespace ddbfs::meta::store
