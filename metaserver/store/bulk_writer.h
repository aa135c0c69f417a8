#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"
#include "metaserver/store/connection.h"
#include "metaserver/store/request_scope.h"

namespace ddbfs::meta::store {

class Tx;
class TagIndex;
class WriteQueue;

// The documents and tag names a running bulk change holds (docs/tags.md,
// "Bulk changes"). The writer's ops consult it (Tx::bulk_guard()) before
// they touch a row the bulk transaction may hold a lock on: the tags of one
// of its documents, the deletion of one of its documents, a tag name it
// adds or removes. Such an op is deferred (BulkDeferred()): it gives up its
// place in the group-commit batch, waits outside the writer for the bulk
// change to end, and is queued again, so the writer never waits for the
// bulk transaction's locks and every other op goes on.
//
// Thread-safe.
class BulkGuard {
 public:
  // While held: `inodes` (sorted, unique) and `names` (NFC) are the bulk
  // change's. One at a time (BulkWriter runs one bulk change at a time).
  void Hold(std::vector<InodeId> inodes, std::set<std::string> names);
  void Release();
  // Deferred (BulkDeferred()) if a bulk change holds inode / name.
  Status CheckInode(InodeId inode) const;
  Status CheckName(const std::string& name) const;
  bool held() const { return held_.load(); }
  // Waits until no bulk change is held, or the deadline.
  void WaitReleased(Deadline deadline) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::atomic<bool> held_{false};
  std::vector<InodeId> inodes_;  // GUARDED_BY(mu_), sorted
  std::set<std::string> names_;  // GUARDED_BY(mu_)
};

// The status of an op deferred by the BulkGuard; WriteQueue::Run and
// RunOnce wait and queue such an op again, so no caller ever sees it.
Status BulkDeferred(const std::string& what);
bool IsBulkDeferred(const Status& s);
// For the store functions of the writer: OK, or the deferral when a bulk
// change holds `inode` / tag `name` (a transaction without a guard: OK).
Status DeferToBulk(const Tx& tx, InodeId inode);
Status DeferToBulk(const Tx& tx, const std::vector<InodeId>& inodes);
Status DeferToBulkName(const Tx& tx, const std::string& name);

// Runs bulk changes (a tag change over up to kMaxBulkInodes documents) each
// as ONE transaction on its own connection, beside the group-commit writer
// rather than inside one of its batches: the change is all or nothing, and
// other clients' operations are not held up while it runs. One bulk change
// at a time; the next waits (up to its deadline).
//
// Run(): 1. the guard is taken through the writer (an op of its own, so
// every writer op queued after it sees the guard and no earlier one still
// holds a lock); 2. `op` runs and commits on the bulk connection (its
// changes reach the index of tags after the commit, like the writer's);
// 3. the guard is released and deferred ops run.
class BulkWriter {
 public:
  using Op = std::function<Status(Tx&)>;
  BulkWriter(std::string url, SessionLimits limits, WriteQueue& writer);
  ~BulkWriter();

  void set_tag_index(TagIndex* index) { tag_index_.store(index); }
  // The epoch of the active metaserver (store/active_lock.h): when set, a
  // bulk change proves it before COMMIT (ProveActive), since it does not
  // commit on the session that holds the active lock; 0: no proof (tests).
  void set_active_epoch(int64_t epoch) { active_epoch_.store(epoch); }
  BulkGuard& guard() { return guard_; }

  // `inodes` and `names`: every document whose tags `op` changes and every
  // tag name it adds or removes. Deadline: CurrentDeadline().
  Status Run(std::vector<InodeId> inodes, std::set<std::string> names, const Op& op);

  // Bulk changes committed (for tests).
  uint64_t committed() const { return committed_.load(); }

 private:
  const std::string url_;
  const SessionLimits limits_;
  WriteQueue& writer_;
  BulkGuard guard_;
  std::atomic<TagIndex*> tag_index_{nullptr};
  std::atomic<int64_t> active_epoch_{0};
  std::timed_mutex run_mu_;           // one bulk change at a time
  std::unique_ptr<Connection> conn_;  // GUARDED_BY(run_mu_)
  std::atomic<uint64_t> committed_{0};
};

}  // namespace ddbfs::meta::store
