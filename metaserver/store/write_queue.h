#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ddbfs/status.h"
#include "metaserver/store/connection.h"

namespace ddbfs::meta::store {

class Tx;

// Group commit (DESIGN decision 1). One writer thread owns the write
// connection. Mutations are queued as closures; the writer takes everything
// queued (up to max_batch), runs it in ONE transaction, commits, and only
// then completes each caller. One thread applying ops in queue order
// serializes every namespace change.
//
// If the batch hits a database error, it is rolled back and its ops are run
// again one per transaction, so one bad op cannot fail the others.
// Serialization failures and deadlocks are retried. A lost connection fails
// the queued ops with kUnavailable "metadata database unavailable" (after one
// retry on a fresh connection when nothing can have been committed); the next
// batch reconnects.
//
// Contract of an op: returns OK, or an error BEFORE its first write
// (validate, then write). An op that fails after writing is rolled back
// with its whole batch and re-run alone, so its writes never commit. An op
// may run more than once (after a rollback): it must assign its outputs
// afresh on every run and have no effect outside the transaction.
//
// Thread-safe.
class WriteQueue {
 public:
  using Op = std::function<Status(Tx&)>;

  WriteQueue(std::string url, size_t max_batch = 512);
  ~WriteQueue();  // Stop()

  // Queues op and waits until its transaction committed (or failed).
  Status Run(Op op);

  // Stops taking ops, commits everything queued, joins the writer.
  // Later Run() calls fail with kUnavailable.
  void Stop();

  // Committed transactions and the ops they carried (for group-commit
  // measurements and tests).
  uint64_t transactions() const { return transactions_.load(); }
  uint64_t ops() const { return ops_.load(); }
  // Ops waiting for the writer (not counting the batch it is running).
  size_t pending() const;

 private:
  struct Pending {
    Op op;
    std::promise<Status> done;
  };
  enum class Outcome { kCommitted, kOpFailed, kRetry, kBroken, kBrokenInDoubt, kNoDatabase };

  void Loop();
  void RunBatch(std::vector<Pending>& batch);
  // One transaction over every op of the batch; results[i] filled on kCommitted.
  Outcome TryBatch(std::vector<Pending>& batch, std::vector<Status>* results, Status* failure);
  Status RunAlone(Pending& p);
  Status EnsureConnection();

  const std::string url_;
  const size_t max_batch_;
  std::unique_ptr<Connection> conn_;  // owned by the writer thread

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;      // GUARDED_BY(mu_)
  std::thread thread_;

  std::atomic<uint64_t> transactions_{0};
  std::atomic<uint64_t> ops_{0};
};

}  // namespace ddbfs::meta::store
