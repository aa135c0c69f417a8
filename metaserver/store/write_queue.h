#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ddbfs/status.h"
#include "metaserver/store/connection.h"
#include "metaserver/store/request_log.h"
#include "metaserver/store/request_scope.h"

namespace ddbfs::meta::store {

class Tx;
class TagIndex;
class MetaCache;
class BulkGuard;

struct WriteQueueOptions {
  size_t max_batch = 512;
  SessionLimits session;
  // Request-log answers older than this are pruned by the writer (in
  // batches, between write batches); 0 keeps them for ever.
  std::chrono::seconds request_log_retention{3600};
  // Opens the writer's connection; unset: Connection::Open(url, session).
  // The active metaserver's hook (LockKeeper::Connect) hands over the
  // session that holds the active lock, and takes the lock again on every
  // later connection or stops the process (docs/ha.md, "Fencing"). Called
  // on the writer thread only.
  std::function<Result<std::unique_ptr<Connection>>()> connect = nullptr;
  // Runs in a transaction of its own on every new connection after the
  // first (the old one broke: PostgreSQL restarted or was out of reach),
  // before any batch. The metaserver gives every write lease and client
  // session a whole period from now, since nobody could renew them meanwhile.
  std::function<Status(Tx&)> after_reconnect = nullptr;
};

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
// batch reconnects. A statement cancelled by a session limit (lock_timeout,
// statement_timeout: the database is stalled) fails the whole batch with
// kTimedOut at once.
//
// Deadlines: every op has one (the caller's DeadlineScope unless given). An
// op whose deadline passed before the writer starts it (or restarts it alone
// after a rollback) is not run: kTimedOut. The caller stops waiting at its
// deadline if the op has not started; an op that has started refers to the
// caller's data, so the caller waits for its end, which the session limits
// bound.
//
// Exactly-once requests (RunOnce): a request with a RequestKey runs as ONE op
// on the writer thread; any Run() it makes from there joins the same
// transaction. Before running it, the writer looks its key up in the request
// log (one statement per batch); a recorded answer is replayed instead. After
// it returned OK, its serialized answer is recorded in the request log in
// the same transaction (one statement per batch, sent with COMMIT: WriterTxn), so a retry - also
// after a crash between commit and reply - gets the first answer. Errors are not recorded (a failed
// op changed nothing, so running it again is safe).
//
// Contract of an op: returns OK, or an error BEFORE its first write
// (validate, then write). An op that fails after writing is rolled back
// with its whole batch and re-run alone, so its writes never commit. An op
// may run more than once (after a rollback): it must assign its outputs
// afresh on every run and have no effect outside the transaction. An
// exactly-once request must not wait for anything but the database (it
// holds the writer).
//
// Thread-safe.
class WriteQueue {
 public:
  using Op = std::function<Status(Tx&)>;

  // A request to run exactly once per key. The functions run on the writer
  // thread while the caller of RunOnce waits; they may use the caller's data.
  struct OnceRequest {
    RequestKey key;
    std::string rpc;              // method name, recorded with the answer
    std::function<Status()> run;  // the whole request; its Run() calls join this op
    // Its answer, serialized; called once run() returned OK.
    std::function<std::string()> answer;
    // Loads a recorded answer instead of run().
    std::function<Status(const std::string& answer)> replay;
  };

  explicit WriteQueue(std::string url, size_t max_batch = 512);
  WriteQueue(std::string url, WriteQueueOptions options);
  ~WriteQueue();  // Stop()

  // Queues op and waits until its transaction committed (or failed, or the
  // deadline passed before it started). Called from inside an op of this
  // queue (on the writer thread), runs op at once in that op's transaction.
  Status Run(Op op);  // deadline: CurrentDeadline()
  Status Run(Op op, Deadline deadline);

  // Runs `request` exactly once per key (see above): its own status, or the
  // status of replaying the recorded answer (OK), or kTimedOut, or a
  // database failure. kInvalidArgument if the key was recorded by another
  // method.
  Status RunOnce(OnceRequest request, Deadline deadline);

  // Deletes request-log answers older than the retention, up to `limit`;
  // returns how many. The writer does this on its own every few seconds.
  Result<int64_t> PruneRequestLog(int limit = 10000);

  // The index of tags that committed transactions tell their changes to
  // (Tx::AfterCommit); null: none.
  void set_tag_index(TagIndex* index) { tag_index_.store(index); }
  // The namespace cache (store/meta_cache.h) the writer's transactions read
  // and tell their changes to when they end; null: none.
  void set_cache(MetaCache* cache) { cache_.store(cache); }
  // The guard of bulk changes (store/bulk_writer.h): ops that would touch
  // what a running bulk change holds are deferred by it; Run() and
  // RunOnce() then wait for the bulk change to end and queue them again.
  void set_bulk_guard(const BulkGuard* guard) { bulk_guard_.store(guard); }
  // Stops taking ops, commits everything queued, joins the writer.
  // Later Run() calls fail with kUnavailable.
  void Stop();

  // Committed transactions and the ops they carried (for group-commit
  // measurements and tests); pruning is not counted.
  uint64_t transactions() const { return transactions_.load(); }
  uint64_t ops() const { return ops_.load(); }
  // Ops not run because their deadline passed first.
  uint64_t expired() const { return expired_.load(); }
  // Exactly-once requests answered from the request log.
  uint64_t replayed() const { return replayed_.load(); }
  // Ops waiting for the writer (not counting the batch it is running).
  size_t pending() const;

 private:
  enum State : int { kQueued, kStarted, kAbandoned };
  struct Pending {
    Op op;                            // a plain op, or
    std::optional<OnceRequest> once;  // an exactly-once request
    Deadline deadline = kNoDeadline;
    bool counted = true;  // counts in transactions()/ops()
    std::atomic<int> state{kQueued};
    std::promise<Status> done;
  };
  using PendingPtr = std::shared_ptr<Pending>;
  // Request-log state of one transaction: answers found before running its
  // ops, and answers to record before COMMIT.
  struct Journal {
    std::map<RequestKey, LoggedAnswer> known;
    std::vector<std::pair<RequestKey, LoggedAnswer>> recorded;
  };
  // Highest seq seen per client id in this process (FindKnown); writer
  // thread only. Cleared when it grows past kMaxSeenClients (lookups then
  // simply happen again).
  static constexpr size_t kMaxSeenClients = 100000;
  std::map<std::string, int64_t> seen_;
  std::atomic<TagIndex*> tag_index_{nullptr};
  std::atomic<MetaCache*> cache_{nullptr};
  std::atomic<const BulkGuard*> bulk_guard_{nullptr};
  // Submit(), and again while it comes back deferred by a bulk change.
  Status SubmitDeferring(const std::function<PendingPtr()>& make, Deadline deadline);
  enum class Outcome {
    kCommitted,
    kOpFailed,
    kRetry,
    kTimedOut,
    kBroken,
    kBrokenInDoubt,
    kNoDatabase
  };

  Status Submit(PendingPtr p);
  void Loop();
  // False (and p completed with kTimedOut) if p's deadline passed or its
  // caller gave up; else p is marked started.
  bool Start(Pending& p);
  void RunBatch(std::vector<PendingPtr>& batch);
  // One transaction over every op of the batch; results[i] filled on kCommitted.
  Outcome TryBatch(std::vector<PendingPtr>& batch, std::vector<Status>* results, Status* failure);
  Status RunAlone(Pending& p);
  // Runs one op (or replays an exactly-once answer) inside `tx`.
  Status Execute(Pending& p, Tx& tx, Journal& journal);
  // Looks up the keys of the exactly-once requests among `ops`.
  Status FindKnown(Tx& tx, const std::vector<Pending*>& ops, Journal* journal);
  void MaybePrune();
  Status EnsureConnection();
  // Whether the connection has a transaction begun with the last COMMIT or
  // ROLLBACK (WriterTxn); true hands it to the caller's WriterTxn.
  bool TakeChained();
  // Ends a begun transaction no batch used (a ROLLBACK).
  void EndChained();

  const std::string url_;
  const WriteQueueOptions options_;
  std::unique_ptr<Connection> conn_;  // owned by the writer thread
  bool connected_before_ = false;     // writer thread
  // When the last COMMIT/ROLLBACK began the next transaction on conn_
  // (writer thread); ended by EndChained once idle for kChainIdle.
  std::optional<Clock::time_point> chained_since_;
  Deadline next_prune_;  // writer thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PendingPtr> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;         // GUARDED_BY(mu_)
  std::thread thread_;

  std::atomic<uint64_t> transactions_{0};
  std::atomic<uint64_t> ops_{0};
  std::atomic<uint64_t> expired_{0};
  std::atomic<uint64_t> replayed_{0};
};

}  // namespace ddbfs::meta::store
